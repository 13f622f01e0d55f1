/* AArch64 frame shapes for TestARM64FramesMatchStackUsage, built by the
 * test with aarch64-linux-gnu-gcc -fstack-usage at -O0, -O2, -Os and with
 * -fstack-clash-protection:
 *   aarch64-linux-gnu-gcc -c -fstack-usage -fno-inline -O2 frames.c
 * Each function is a shape the decoder and the frame walk must follow. */
#include <string.h>

volatile int sink;
typedef int (*op_fn)(int);

__attribute__((noinline)) int leaf(int a) { return a * 3 + sink; }
/* stp x29, x30, [sp, #-N]!; mov x29, sp */
__attribute__((noinline)) int small(int a) { volatile int v[4]; v[a & 3] = a; return leaf(v[1]) + 1; }
/* mov x12, #N; sub sp, sp, x12 */
__attribute__((noinline)) int bigframe(int x) { volatile char buf[5000]; buf[x] = 1; return buf[x + 1]; }
/* sub sp, sp, #N, lsl #12 */
__attribute__((noinline)) int hugeframe(int x) { volatile char buf[70000]; buf[x] = 1; return buf[x + 1]; }
/* mov/movk into a register over several instructions */
__attribute__((noinline)) int giant(int x) { volatile char buf[17000000]; buf[x] = 1; return buf[x + 1]; }
/* str x30, [sp, #-16]! or a frame with callee-saved pairs */
__attribute__((noinline)) int saves(int a, int b, int c) {
	int r = leaf(a);
	r += leaf(b + r);
	r += leaf(c + r);
	return r + a + b + c;
}
/* a chain: chain1 -> chain2 -> chain3 -> leaf */
__attribute__((noinline)) int chain3(int a) { volatile int v[40]; v[a & 31] = a; return leaf(v[2]) + v[3]; }
__attribute__((noinline)) int chain2(int a) { volatile int v[20]; v[a & 15] = a; return chain3(v[1]) + v[2]; }
__attribute__((noinline)) int chain1(int a) { volatile int v[100]; v[a & 63] = a; return chain2(v[0]) + v[5]; }
/* recursion */
__attribute__((noinline)) int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
/* alloca and a VLA: dynamic */
__attribute__((noinline)) int vla(int n) { int a[n]; for (int i = 0; i < n; i++) a[i] = i * i; return a[n / 2]; }
__attribute__((noinline)) int use_alloca(int n) { char *p = __builtin_alloca(n); memset(p, 1, n); return p[n - 1]; }
/* a tail call (b) at -O2 */
__attribute__((noinline)) int tail(int a) { return chain3(a + 1); }
/* an indirect call (blr) */
__attribute__((noinline)) int call_through(op_fn f, int a) { return f(a) + 1; }
/* a jump table: adrp/add/ldrb/adr/add/br */
__attribute__((noinline)) int sw(int x, int y) {
	switch (x) {
	case 0: return leaf(y + 5);
	case 1: return chain3(y * 7);
	case 2: return leaf(y - 9) * 3;
	case 3: return fib(y);
	case 4: return small(y) + 4;
	case 5: return saves(y, y, 2);
	case 6: return leaf(y / 3) + 6;
	case 7: return chain2(y % 11);
	case 8: return bigframe(y) - 2;
	case 9: return hugeframe(y ^ 0x55);
	case 10: return leaf(y) * leaf(y + 1);
	case 11: return small(y + 11);
	}
	return 0;
}
/* varargs: the register save area */
__attribute__((noinline)) int sumv(int n, ...) {
	__builtin_va_list ap;
	int s = 0;
	__builtin_va_start(ap, n);
	for (int i = 0; i < n; i++) s += __builtin_va_arg(ap, int);
	__builtin_va_end(ap);
	return s;
}

int main(int argc, char **argv) {
	(void)argv;
	int r = chain1(argc) + tail(argc) + sw(argc, 3) + call_through(leaf, argc) + sumv(3, 1, 2, argc);
	if (argc > 5) r += fib(argc) + vla(argc) + use_alloca(argc) + giant(argc);
	return r & 0x7f;
}
