/* x86-64 fixture for the annotations ([[exclude]], [[frame]],
 * [[indirect]], [[recursion]]): an error path that prints and exits, a
 * function whose callee cannot be bounded, recursion and a dispatch
 * table. Built at test time with gcc -O2 -fno-optimize-sibling-calls
 * -mno-red-zone -fstack-usage (no red zone: every frame is .su's). */
#include <stdio.h>
#include <stdlib.h>

volatile int sink;

__attribute__((noinline, noreturn)) void fatal(const char *what, int code)
{
    char text[96];
    snprintf(text, sizeof text, "fatal: %s (%d)", what, code);
    fputs(text, stderr);
    exit(1);
}

__attribute__((noinline)) int sum_block(const int *v, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

__attribute__((noinline)) int filter(int seed)
{
    int buf[40];
    for (int i = 0; i < 40; i++)
        buf[i] = seed * i;
    if (seed < 0)
        fatal("negative seed", seed);
    return sum_block(buf, 40);
}

__attribute__((noinline)) int walk(int n)
{
    volatile int pad[6];
    pad[n & 3] = n;
    return n <= 0 ? pad[1] : walk(n - 1) + pad[2];
}

__attribute__((noinline)) int ping(int n);
__attribute__((noinline)) int pong(int n)
{
    volatile int pad[10];
    pad[n & 3] = n;
    return n <= 0 ? pad[0] : ping(n - 1) + pad[1];
}
__attribute__((noinline)) int ping(int n)
{
    volatile int pad[2];
    pad[n & 1] = n;
    return n <= 0 ? pad[0] : pong(n - 2) + pad[1];
}

__attribute__((noinline)) int op_small(int x) { volatile int b[2]; b[x & 1] = x; return b[0]; }
__attribute__((noinline)) int op_big(int x) { volatile int b[60]; b[x & 15] = x; return b[1]; }
int (*volatile ops[2])(int) = {op_small, op_big};
__attribute__((noinline)) int dispatch(int k, int x)
{
    volatile int pad[3];
    pad[k & 1] = ops[k & 1](x);
    return pad[0];
}

/* vendor_op reaches a VLA (dynamic): [[frame]] declares it. */
__attribute__((noinline)) int vendor_inner(int n)
{
    volatile char v[n];
    v[0] = 1;
    return v[n - 1];
}
__attribute__((noinline)) int vendor_op(int n)
{
    volatile int pad[5];
    pad[n & 3] = vendor_inner(n);
    return pad[1];
}

int main(int argc, char **argv)
{
    (void)argv;
    sink = filter(argc) + walk(argc) + ping(argc) + dispatch(argc, 3) + vendor_op(argc + 1);
    return 0;
}
