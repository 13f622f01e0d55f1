/* Frames for the RISC-V comparison with GCC's -fstack-usage
   (riscv_test.go builds it for RV32IMAC and RV64IMAC at -O0, -O2, -Os and
   -Os -msave-restore, linked with picolibc):

   riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 -O2 -fstack-usage \
       --specs=picolibc.specs -o frames frames.c */
#include <stdarg.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

volatile int sink;
struct big { int a[40]; };

/* A call chain: chain -> top -> mid -> leaf is its deepest path. */
NOINLINE int leaf(int x) { volatile char b[24]; b[x & 7] = x; return b[1]; }
NOINLINE int mid(int x) { volatile int a[30]; a[x & 15] = leaf(x); return a[2] + leaf(x + 1); }
NOINLINE int top(int x) { volatile long a[9]; a[x & 7] = mid(x); return a[1] + mid(x * 3); }
NOINLINE int shallow(int x) { return x * 7 + leaf(x) * 3; }
NOINLINE int chain(int x) { int r = top(x); return r + shallow(r); }

/* Frames past addi's 12-bit immediate: built in a register. */
NOINLINE int big(int x) { volatile char buf[5000]; buf[x] = 1; return buf[x + 1]; }
NOINLINE int huge(int x) { volatile char buf[70000]; buf[x] = 1; return buf[x + 1]; }
NOINLINE int odd(int x) { volatile char buf[2037]; buf[x] = 1; return buf[x + 3]; }

/* Not bounded: recursion, a VLA, alloca. */
NOINLINE int rec(int n) { volatile int a[4]; a[n & 3] = n; return n <= 0 ? a[0] : rec(n - 1) + a[1]; }
NOINLINE int vla(int n) { volatile int a[n]; for (int i = 0; i < n; i++) a[i] = i * i; return a[n / 2]; }
NOINLINE int use_alloca(int n) { char *p = __builtin_alloca(n); memset(p, 1, n); return p[n - 1]; }

/* A switch that becomes a jump table, a tail call, calls through pointers. */
NOINLINE int sw(int x, int y) {
	switch (x) {
	case 0: return y + 5;
	case 1: return y * 7;
	case 2: return y - 9;
	case 3: return leaf(y);
	case 4: return mid(y);
	case 5: return y << 3;
	case 6: return y / 3;
	case 7: return y % 11;
	case 8: return -y;
	case 9: return y ^ 0x55;
	}
	return 0;
}
NOINLINE int tail(int x) { return leaf(x + 1); }
NOINLINE int callfp(int (*f)(int), int x) { return f(x) + 1; }

NOINLINE int sumv(int n, ...) {
	va_list ap;
	int s = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++) s += va_arg(ap, int);
	va_end(ap);
	return s;
}
NOINLINE struct big retbig(int x) { struct big b; for (int i = 0; i < 40; i++) b.a[i] = x + i; return b; }
NOINLINE int takebig(struct big b) { return b.a[3] + b.a[39]; }
NOINLINE long long lldiv_(long long a, long long b) { return a / b + a % b; }
NOINLINE int many(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j) {
	volatile int v[3] = {a * b, c * d, e * f};
	return v[0] + v[1] + v[2] + g + h + i + j + leaf(a);
}

int main(void) {
	sink = chain(1) + big(2) + huge(3) + odd(4) + rec(5) + vla(6) + use_alloca(7);
	sink += sw(sink & 15, 4) + tail(1) + callfp(leaf, 2) + sumv(3, 1, 2, 3);
	sink += takebig(retbig(sink)) + (int)lldiv_(sink * 1000000007LL, 13) + many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
	return 0;
}
