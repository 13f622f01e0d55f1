/* One program per reason an entry has no bound. Compiled at test time. */
#include <alloca.h>
#include <string.h>

extern int external_function(int);

__attribute__((noinline)) int fact(int n) { return n <= 1 ? 1 : fact(n - 1) + fact(n - 2); }

__attribute__((noinline)) int ping(int n);
__attribute__((noinline)) int pong(int n) { return n <= 0 ? 0 : ping(n - 1) + 1; }
__attribute__((noinline)) int ping(int n) { return n <= 0 ? 0 : pong(n - 2) + 2; }

__attribute__((noinline)) static int h1(int x) { volatile char b[16]; b[x & 15] = 1; return b[3]; }
__attribute__((noinline)) static int h2(int x) { volatile char b[64]; b[x & 63] = 1; return b[5]; }
__attribute__((noinline)) static int h3(int x) { volatile char b[256]; b[x & 255] = 1; return b[7]; }
int (*const table[3])(int) = {h1, h2, h3};
__attribute__((noinline)) int dispatch(int k, int x) { return table[k % 3](x) + 1; }

__attribute__((noinline)) int with_alloca(int n)
{
    char *p = alloca(n);
    memset(p, 1, n);
    return p[n / 2];
}

__attribute__((noinline)) int with_vla(int n)
{
    char v[n];
    memset(v, 2, n);
    return v[n - 1];
}

__attribute__((noinline)) int tail_target(int x) { volatile char b[40]; b[x & 31] = (char)x; return b[(x + 1) & 31]; }
__attribute__((noinline)) int tail_caller(int x) { return tail_target(x * 2); }

__attribute__((noinline)) int calls_external(int x) { return external_function(x) + 1; }

int entry_recursion(int n) { return fact(n) + ping(n); }
int entry_indirect(int n) { return dispatch(n, n); }
int entry_dynamic(int n) { return with_alloca(n) + with_vla(n); }
int entry_tail(int n) { return tail_caller(n); }
int entry_external(int n) { return calls_external(n); }
int entry_clean(int n) { return tail_target(n) + 1; }
