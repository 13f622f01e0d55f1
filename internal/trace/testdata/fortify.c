// strcpy past a stack buffer, caught by _FORTIFY_SOURCE.
// Build: gcc -O2 -g -D_FORTIFY_SOURCE=2 -o fortify fortify.c
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static void copy_name(const char *src) {
	char name[16];
	strcpy(name, src);
	printf("%s\n", name);
}

int main(int argc, char **argv) {
	const char *s = argc > 1 ? argv[1] : "this string is much longer than sixteen bytes";
	copy_name(s);
	return 0;
}
