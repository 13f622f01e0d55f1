/* Frames that keep a copy of SP (see TestX86SPCopies). Built with -mavx2
 * and with -mstackrealign; use() is in drap_use.c, so that the compiler
 * cannot see which registers it leaves alone (with -fipa-ra it keeps SP
 * in a caller-saved register across a call to a function of the same
 * file, which the analyzer does not follow).
 *
 * Names with "aligned" are realigned frames: the analyzer may say more
 * than .su (it assumes the caller's SP 16-byte aligned, GCC 32). */
#include <immintrin.h>

void use(void *p, int n);
int twice(int x);

/* GCC's DRAP (r10): a VLA beside a 32-byte-aligned local. */
int drap_aligned_vla(int n, const float *x)
{
	__m256 v[8] __attribute__((aligned(32)));
	char buf[n];
	for (int i = 0; i < 8; i++)
		v[i] = _mm256_set1_ps(x[i] * n);
	use(v, n);
	use(buf, n);
	float s = 0;
	for (int i = 0; i < 8; i++)
		s += v[i][i];
	return (int)s + buf[1];
}

/* DRAP with a tail call: GCC keeps the caller's SP in r13 (a caller-saved
 * DRAP register would not survive to the tail call's epilogue). */
int drap_aligned_tail(int a, int b, int c, int d, int e, int f, int g, const float *x)
{
	__m256 v[8] __attribute__((aligned(32)));
	for (int i = 0; i < 8; i++)
		v[i] = _mm256_set1_ps(x[i] * g);
	use(v, a + b + c + d + e + f);
	return twice((int)v[g & 7][1]);
}

/* Stack arguments read through DRAP, called with pushed arguments. */
int drap_aligned_args(int a, int b, int c, int d, int e, int f, int g, int h, const float *x)
{
	__m256 v[4] __attribute__((aligned(32)));
	for (int i = 0; i < 4; i++)
		v[i] = _mm256_set1_ps(x[i] * (g + h));
	use(v, a + b + c + d + e + f);
	return (int)v[h & 3][g & 7];
}

/* A block-scoped VLA in a loop: SP saved before it and restored after
 * each iteration, across the calls in between. */
int vla_loop(int n)
{
	int s = 0;
	for (int j = 0; j < 3; j++) {
		char buf[n];
		use(buf, n);
		s += buf[0];
	}
	return s;
}

int spcopy_main(int argc)
{
	float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	return drap_aligned_vla(argc, x) + drap_aligned_tail(argc, 1, 2, 3, 4, 5, 6, x) +
	       drap_aligned_args(argc, 1, 2, 3, 4, 5, 6, 7, x) + vla_loop(argc + 8);
}
