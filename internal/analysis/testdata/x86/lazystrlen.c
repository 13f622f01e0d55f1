/* Fixture of TestFixupIFunc (internal/analysis/rtldhooks_test.go): a
 * lazily bound program whose one library call, strlen, is an IFUNC of
 * libc: the first call through its PLT slot runs _dl_fixup, which calls
 * libc's strlen resolver (elf_ifunc_invoke) to bind it.
 *   gcc -O2 -fno-builtin -Wl,-z,lazy -o lazystrlen lazystrlen.c */
#include <string.h>

int main(int argc, char **argv)
{
	(void)argc;
	return (int)strlen(argv[0]) & 1;
}
