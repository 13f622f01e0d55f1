/* Allocas in a loop, capped (or not) by a counter.
 * Built by TestCountedAllocaLoop: gcc -O1/-O2 -fno-pie -no-pie -fstack-usage. */
#include <alloca.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>

/* One 32-byte alloca per character of s: the assert caps them at 16. */
__attribute__((noinline)) int counted(const char *s)
{
	char *p[16];
	int n = 0;
	while (*s) {
		assert(n < 16);
		p[n] = alloca(32);
		memset(p[n], *s, 32);
		n++;
		s++;
	}
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += p[i][0];
	return sum;
}

/* No check: as many allocas as characters. */
__attribute__((noinline)) int unchecked(const char *s)
{
	char *p[16];
	int n = 0;
	while (*s) {
		p[n & 15] = alloca(32);
		memset(p[n & 15], *s, 32);
		n++;
		s++;
	}
	return n ? p[0][0] + p[(n - 1) & 15][0] : 0;
}

/* A check whose failing branch goes on round the loop. */
__attribute__((noinline)) int overflowing(const char *s)
{
	char *p[16];
	int n = 0;
	while (*s) {
		if (n >= 16) {
			puts("full");
			n = 15;
		}
		p[n] = alloca(32);
		memset(p[n], *s, 32);
		n++;
		s++;
	}
	return n ? p[0][0] + p[n - 1][0] : 0;
}

/* The counter goes down on '-': no cap. */
__attribute__((noinline)) int decremented(const char *s)
{
	char *p[16];
	int n = 0;
	while (*s) {
		assert(n < 16);
		p[n] = alloca(32);
		memset(p[n], *s, 32);
		n++;
		if (*s == '-')
			n -= 1 + (s[1] == '-');
		s++;
	}
	return n > 0 ? p[0][0] + p[n - 1][0] : 0;
}

/* A check that returns: the function ends, so the cap holds too. */
__attribute__((noinline)) int returning(const char *s)
{
	char *p[16];
	int n = 0;
	while (*s) {
		if (n >= 16)
			return -1;
		p[n] = alloca(32);
		memset(p[n], *s, 32);
		n++;
		s++;
	}
	return n ? p[0][0] + p[n - 1][0] : 0;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	int r = counted(s);
	if (argc > 2)
		r += unchecked(s) + overflowing(s) + decremented(s) + returning(s);
	printf("%d\n", r);
	return 0;
}
