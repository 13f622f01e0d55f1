/* A printf handler that makes its stream (vfprintf's helper, stderr being unbuffered) unbuffered and prints on it: a second helper whose put stream is the first. */
#include <printf.h>
#include <stdio.h>
static int print_w(FILE *s, const struct printf_info *info, const void *const *args) {
	(void)info;
	setvbuf(s, NULL, _IONBF, 0);
	return fprintf(s, "<%d>", **(const int *const *)args[0]);
}
static int arginfo_w(const struct printf_info *info, size_t n, int *types, int *size) {
	(void)info; (void)size;
	if (n > 0) types[0] = PA_INT;
	return 1;
}
int main(int argc, char **argv) {
	(void)argv;
	register_printf_specifier('W', print_w, arginfo_w);
	fprintf(stderr, "%W\n", argc);
	return 0;
}
