// Prints its environment, one entry a line, as the kernel gave it.
// Build: gcc -O0 -o environ environ.c
#include <stdio.h>

extern char **environ;

int main(void) {
	for (char **e = environ; *e; e++)
		printf("%s\n", *e);
	return 0;
}
