/* Wide characters to stdout, no setlocale: the locale stays "C", and
   glibc converts through the C locale's static gconv steps
   (gconvstep_test.go). gcc -O2 -Wl,-z,now -o widechars widechars.c */
#include <stdio.h>
#include <wchar.h>

int main(void)
{
	fputws(L"h\u00e9llo, wide world\n", stdout);
	fputwc(L'x', stdout);
	fputwc(L'\n', stdout);
	return 0;
}
