// Writes one line to stdout and one to stderr and exits 3: what
// `stackscope run` must pass through unchanged.
// Build: gcc -O0 -o outerr outerr.c
#include <stdio.h>

int main(void) {
	fputs("out\n", stdout);
	fflush(stdout);
	fputs("err\n", stderr);
	return 3;
}
