/* Overruns of an alloca'd buffer that stop short of the stack-protector
 * canary: the copy runs up out of the dynamic area into fill's own pointer
 * variables, just above it, and the program dies using one of them. No
 * check fires; only the pointers show what happened. Mode (argv[1]):
 *   copy  memmove of 64 zero ints into a 16-int buffer: the pointers
 *         become NULL and show() dies reading through one
 *   loop  the same copy element by element, through dst, which is set on
 *         one branch only: the loop overwrites the low half of dst itself
 *         and the next write goes through the damaged pointer
 *   null  no overrun: dst is left NULL on purpose and show() dies on it
 *   ok    no overrun: 16 ints copied, a clean exit */
#include <alloca.h>
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) void show(int *p) { printf("%d\n", p[1]); }

__attribute__((noinline)) void fill(const char *mode)
{
	int *dst;
	int *small = alloca(16 * sizeof(int));
	int *spare = alloca(64 * sizeof(int));
	int zeros[64] = {0};
	size_t n = strcmp(mode, "ok") == 0 ? 16 : 64;
	dst = NULL;
	if (strcmp(mode, "null") != 0)
		dst = small;
	if (strcmp(mode, "loop") == 0) {
		for (size_t i = 0; i < n; i++)
			dst[i] = zeros[i];
	} else if (dst != NULL) {
		memmove(dst, zeros, n * sizeof(int));
	}
	show(dst);
	spare[0] = 1;
}

int main(int argc, char **argv)
{
	fill(argc > 1 ? argv[1] : "ok");
	return 0;
}
