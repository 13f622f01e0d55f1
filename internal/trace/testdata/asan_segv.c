/* A NULL-pointer write under AddressSanitizer: its SIGSEGV handler reports
 * "ERROR: AddressSanitizer: SEGV on unknown address" (an upper-case kind:
 * a caught signal, not a memory error ASan named) and exits with 1.
 * Build: gcc -O0 -g -fsanitize=address -o asan_segv asan_segv.c */
#include <stdio.h>

volatile int *target;

__attribute__((noinline)) static void poke(int v) {
	*target = v;
}

int main(int argc, char **argv) {
	(void)argv;
	poke(argc);
	printf("unreached\n");
	return 0;
}
