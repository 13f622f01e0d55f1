/* Fixture of TestRtldMalloc (internal/analysis/rtldhooks_test.go): a
 * program that defines its own malloc, calloc, realloc and free (a bump
 * allocator over a static arena); malloc has a big frame. ld.so's
 * __rtld_malloc_init_real looks these names up from the program once libc
 * is relocated and finds the program's first, so ld.so's own allocations
 * (its symbol lookup's among them) run this malloc from then on.
 *   gcc -O1 -fstack-usage -Wl,-z,now -o ownmalloc ownmalloc.c */
#include <stddef.h>
#include <string.h>
#include <unistd.h>

static unsigned char arena[1 << 20];
static size_t used;

void *malloc(size_t n)
{
	volatile unsigned char scratch[8192];
	for (size_t i = 0; i < sizeof scratch; i += 64)
		scratch[i] = (unsigned char)(n + i);
	n = (n + 15) & ~(size_t)15;
	if (n < 16 || used + n + 16 > sizeof arena)
		return NULL;
	size_t *h = (size_t *)(arena + used + scratch[64] * 0);
	*h = n;
	used += n + 16;
	return (unsigned char *)h + 16;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t k, size_t n)
{
	if (n && k > (size_t)-1 / n)
		return NULL;
	unsigned char *p = malloc(k * n);
	if (p)
		memset(p, 0, k * n);
	return p;
}

void *realloc(void *old, size_t n)
{
	unsigned char *p = malloc(n);
	if (p && old) {
		size_t had = ((size_t *)old)[-2];
		memcpy(p, old, had < n ? had : n);
	}
	return p;
}

int main(void)
{
	write(1, "hi\n", 3);
	return 0;
}
