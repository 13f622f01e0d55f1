/* printf's registered handlers (TestPrintfRegistry). Built plain, nothing
   registers a handler: glibc's calls through __printf_function_table and
   __printf_arginfo_table have no target. With -DREGISTER, main registers
   %W: those calls reach print_w and arginfo_w.
   gcc -O2 -Wl,-z,now [-DREGISTER] printfreg.c */
#include <printf.h>
#include <stdio.h>

static int print_w(FILE *s, const struct printf_info *info, const void *const *args) {
	(void)info;
	return fprintf(s, "<%d>", **(const int *const *)args[0]);
}

static int arginfo_w(const struct printf_info *info, size_t n, int *types, int *size) {
	(void)info;
	(void)size;
	if (n > 0)
		types[0] = PA_INT;
	return 1;
}

int main(int argc, char **argv) {
	(void)argv;
#ifdef REGISTER
	register_printf_specifier('W', print_w, arginfo_w);
#else
	(void)print_w;
	(void)arginfo_w;
#endif
	printf("%d\n", argc);
	return 0;
}
