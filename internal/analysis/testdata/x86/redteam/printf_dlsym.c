/* register_printf_specifier called through dlsym's pointer (held in a
   variable whose type is its prototype, which also holds fake_register),
   then printf("%W"): printf's calls through its handler tables can reach
   print_w (TestDlsymRegistrars, with --strict).
   gcc -O2 -Wno-format -Wl,-z,now printf_dlsym.c */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <printf.h>
#include <stdio.h>
#include <string.h>

typedef int register_fn(int, printf_function *, printf_arginfo_size_function *);

static int print_w(FILE *s, const struct printf_info *info, const void *const *args) {
	volatile char buf[65536];
	(void)info;
	memset((char *)buf, 1, sizeof buf);
	return fprintf(s, "<%d>", *(const int *)args[0] + buf[100]);
}

static int arginfo_w(const struct printf_info *info, size_t n, int *types, int *size) {
	(void)info;
	(void)size;
	if (n > 0)
		types[0] = PA_INT;
	return 1;
}

static int fake_register(int c, printf_function *f, printf_arginfo_size_function *a) {
	(void)f;
	(void)a;
	return c;
}

register_fn *volatile reg = fake_register;

int main(int argc, char **argv) {
	(void)argv;
	register_fn *found = (register_fn *)dlsym(RTLD_DEFAULT, "register_printf_specifier");
	if (found)
		reg = found;
	reg('W', print_w, arginfo_w);
	printf("%W\n", argc);
	return 0;
}
