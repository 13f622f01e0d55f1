/* Positional arguments: glibc's __vfprintf_internal and
   __vfwprintf_internal hand such formats to printf_positional, which
   writes through the stream's __xsputn slot after a vtable check whose
   block spills the vtable pointer around _IO_vtable_check. */
#include <stdio.h>
#include <wchar.h>

int main(int argc, char **argv)
{
	printf("%2$s %1$d\n", argc, argv[0]);
	fwprintf(stderr, L"%2$d %1$d\n", argc, argc + 1);
	return 0;
}
