/* Calls through a FILE's __xsputn slot in the two shapes of glibc's
   vtable check the libio model reads beyond straight-line code:
   - positional arguments: __vfprintf_internal and __vfwprintf_internal
     hand such formats to printf_positional, whose check block spills
     the vtable pointer around _IO_vtable_check (33 bytes long);
   - padding (_IO_padn, _IO_wpadn) and a wide string printed narrow
     (outstring_converted_wide_string): the check in a loop, a branch
     back to the call when the pointer is in the section, the check
     block falling through from it;
   - __vfwprintf_internal, whose jump tables include a switch whose
     default case branches over the lookup to a join before the jump;
   - __printf_fp_l (%f): the slot loaded on each of the paths (two checks
     and their blocks) that join before its one indirect call;
   - a call or tail jump through the table copied into the check block,
     after the call of _IO_vtable_check (_IO_wdefault_xsputn, whose other
     call is through memory, `call *0x18(%rbx)`; __overflow from putchar,
     __woverflow from fputwc, _IO_file_underflow_maybe_mmap from getc on
     an "rm" stream). */
#include <stdio.h>
#include <wchar.h>

int main(int argc, char **argv)
{
	printf("%2$s %1$d\n", argc, argv[0]);
	printf("%40s|%ls\n", argv[0], L"wide");
	fwprintf(stderr, L"%2$d %1$d\n", argc, argc + 1);
	fwprintf(stderr, L"%40d\n", argc);
	printf("%f\n", argc / 3.0);
	putchar('.');
	fputwc(L'.', stderr);
	FILE *f = fopen(argv[0], "rm");
	if (f)
		printf("%d\n", getc(f));
	return 0;
}
