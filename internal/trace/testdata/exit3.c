// Exits with status 3 after printing to stdout and stderr.
// Build: gcc -O0 -o exit3 exit3.c
#include <stdio.h>
int main(void) {
	printf("out\n");
	fprintf(stderr, "err\n");
	return 3;
}
