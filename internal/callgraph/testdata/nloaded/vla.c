/* Fixture of TestCountedVLAs (ldnloaded_test.go): VLAs sized from a
   struct array's count field (as ld.so's _dl_fini), from an argument (as
   _dl_sort_maps), and two that are not the count. Built gcc -O2
   -fstack-usage. */
#include <string.h>
struct ns { void *loaded; unsigned nloaded; char rest[148]; };
struct ns tab[4];
int nns = 1;
__attribute__((noipa)) void use(void **a, unsigned n) { __asm__ volatile("" :: "r"(a), "r"(n) : "memory"); }
/* The count from the namespace's field, as _dl_fini reads it. */
__attribute__((noipa)) void fromfield(int k) {
	unsigned n = tab[k].nloaded;
	void *maps[n];
	use(maps, n);
}
/* The count from another field: not the count. */
__attribute__((noipa)) void otherfield(int k) {
	unsigned n = *(unsigned *)tab[k].rest;
	void *maps[n];
	use(maps, n);
}
/* The count from the argument, as _dl_sort_maps's nmaps. */
__attribute__((noipa)) void fromarg(void **m, unsigned nmaps) {
	void *rpo[nmaps];
	memcpy(rpo, m, nmaps * sizeof *m);
	use(rpo, nmaps);
}
/* The argument times something unknown: not bounded. */
__attribute__((noipa)) void scaled(void **m, unsigned nmaps) {
	void *rpo[nmaps * nns];
	use(rpo, nmaps);
}
int main(int c, char **v) { fromfield(c); otherfield(c); fromarg((void **)v, c); scaled((void **)v, c); return 0; }
