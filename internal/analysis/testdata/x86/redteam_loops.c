/* Red-team shapes of allocas in a loop and what caps them (or does not),
 * built by TestRedTeamCountedLoops at -O0, -O1, -O2 and -Os
 * (gcc -fno-pie -no-pie -fstack-usage). Every function but after_check
 * runs as many allocas as its string has characters (or more): no counter
 * caps it, and its frame must not be called static. */
#include <alloca.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

static inline void use(char *p, int c) { memset(p, c, 32); __asm__ volatile("" ::"r"(p) : "memory"); }

/* The counter grows on one way round the loop only. */
__attribute__((noinline)) int one_path(const char *s)
{
	int n = 0;
	while (*s) {
		assert(n < 16);
		use(alloca(32), *s);
		if (*s == 'x')
			n++;
		s++;
	}
	return n;
}

/* The counter is reset through a pointer to it. */
__attribute__((noinline)) int reset_through_pointer(const char *s)
{
	int n = 0;
	int *volatile pn = &n;
	while (*s) {
		assert(n < 16);
		use(alloca(32), *s);
		n++;
		if (*s == 'r')
			*pn = 0;
		s++;
	}
	return n;
}

/* The check reads a copy that stops following the counter. */
__attribute__((noinline)) int copy_diverges(const char *s)
{
	int n = 0, m = 0;
	while (*s) {
		assert(m < 16);
		use(alloca(32), *s);
		n++;
		m = *s == 'r' ? 0 : n;
		s++;
	}
	return n + m;
}

/* An unsigned char counter that wraps: 0, 128, 0, ... never reaches 250. */
__attribute__((noinline)) int wraps(const char *s)
{
	unsigned char n = 0;
	while (*s) {
		if (n >= 250)
			abort();
		use(alloca(32), *s);
		n += 128;
		s++;
	}
	return n;
}

/* A way round the loop skips the check. */
__attribute__((noinline)) int skips_check(const char *s)
{
	int n = 0;
	while (*s) {
		if (*s != 'k')
			assert(n < 16);
		use(alloca(32), *s);
		n++;
		s++;
	}
	return n;
}

/* The outer counter is checked; the inner loop's allocas are not capped. */
__attribute__((noinline)) int nested(const char *s)
{
	int n = 0;
	for (; *s; s++) {
		assert(n < 4);
		for (int i = 0; i < *s; i++)
			use(alloca(32), i);
		n++;
	}
	return n;
}

/* The check after the alloca: 17 allocas run before it fails. */
__attribute__((noinline)) int after_check(const char *s)
{
	int n = 0;
	while (*s) {
		use(alloca(32), *s);
		assert(n < 16);
		n++;
		s++;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	int w = argc > 2 ? atoi(argv[2]) : 0;
	switch (w) {
	case 0: return after_check(s) & 1;
	case 1: return one_path(s) & 1;
	case 2: return reset_through_pointer(s) & 1;
	case 3: return copy_diverges(s) & 1;
	case 4: return wraps(s) & 1;
	case 5: return skips_check(s) & 1;
	case 6: return nested(s) & 1;
	}
	return 0;
}
