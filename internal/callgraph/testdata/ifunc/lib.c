/* GNU ifuncs for TestIFuncResolverValues (ifuncret_test.go), built there:
   gcc -O0|-O2 -fPIC -shared -o libifx.so lib.c
   gcc -O2 -o main main.c -L. -lifx -Wl,-rpath,. -Wl,-z,lazy
   With lazy binding the program's call of fb is resolved at its first call,
   after main has called set_b: resolve_b returns b_real, which it never
   mentions. */
#include <unistd.h>
/* A: returns one of two constants by a condition. */
static volatile int pick_a;
__attribute__((noinline)) static int a_small(int x) { volatile char b[16]; b[0] = x; return b[0] + 1; }
__attribute__((noinline)) static int a_deep(int x) { volatile char b[2048]; b[x & 1023] = x; return b[5] + 2; }
static int (*resolve_a(void))(int) { return pick_a ? a_small : a_deep; }
int fa(int) __attribute__((ifunc("resolve_a")));

/* B: returns the pointer a global holds, set at run time (set_b), else
   the one it mentions. */
static int (*b_choice)(int);
__attribute__((noinline)) static int b_mentioned(int x) { return x + 3; }
__attribute__((noinline)) static int b_real(int x) { volatile char b[4096]; b[x & 4095] = x; write(1, "b_real\n", 7); return b[7]; }
static int (*resolve_b(void))(int) { return b_choice ? b_choice : b_mentioned; }
int fb(int) __attribute__((ifunc("resolve_b")));
void set_b(void) { b_choice = b_real; }

/* C: mentions an address it never returns. */
int (*c_hook)(int);
__attribute__((noinline)) static int c_unused(int x) { volatile char b[8192]; b[x & 8191] = x; return b[1]; }
__attribute__((noinline)) static int c_impl(int x) { return x * 5; }
static int (*resolve_c(void))(int) { c_hook = c_unused; return c_impl; }
int fc(int) __attribute__((ifunc("resolve_c")));
