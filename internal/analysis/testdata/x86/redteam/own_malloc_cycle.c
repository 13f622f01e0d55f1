/* The program's own malloc (which ld.so's malloc words reach) has a
   recursion of its own (round_up), and round_up calls sscanf, whose
   __vfscanf_internal calls through libc's lazy slots: the resolver's
   component then has cycles that do not pass through the resolver. */
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
static unsigned char arena[1 << 20];
static size_t used;
static int busy;
static __attribute__((noinline)) size_t round_up(size_t n, int depth) {
	volatile char pad[256];
	pad[0] = (char)n;
	if (depth == 3 && !busy) { busy = 1; int v = 0; sscanf("12", "%d", &v); busy = 0; pad[1] = (char)v; }
	if (depth > 0 && (n & 15)) { size_t r = round_up(n + 1, depth - 1); return r + (size_t)(pad[0] & 0); }
	return n;
}
void *malloc(size_t n) {
	n = round_up(n, 16);
	if (used + n + 16 > sizeof arena) return NULL;
	size_t *h = (size_t *)(arena + used);
	*h = n; used += n + 16;
	return (unsigned char *)h + 16;
}
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
void *realloc(void *p, size_t n) { void *q = malloc(n); if (q && p) memcpy(q, p, ((size_t *)p)[-2] < n ? ((size_t *)p)[-2] : n); return q; }
int main(void) { char *p = malloc(10); write(1, p ? "x\n" : "y\n", 2); _exit(0); }
