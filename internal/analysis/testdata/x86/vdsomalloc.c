/* vdso_test.go: the first malloc runs ptmalloc_init, which calls
 * clock_gettime (and through it the kernel's vDSO). Built with gcc -O2
 * -Wl,-z,now. */
#include <stdlib.h>

__attribute__((noinline)) void *alloc(size_t n)
{
	return malloc(n);
}

int main(int argc, char **argv)
{
	(void)argv;
	void *p = alloc((size_t)argc * 16);
	free(p);
	return p == 0;
}
