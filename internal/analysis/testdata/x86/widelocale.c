/* The same, after setlocale(LC_ALL, ""): the locale can be any, and the
   conversion steps a gconv module's (gconvstep_test.go).
   gcc -O2 -Wl,-z,now -o widelocale widelocale.c */
#include <locale.h>
#include <stdio.h>
#include <wchar.h>

int main(void)
{
	setlocale(LC_ALL, "");
	fputws(L"h\u00e9llo, wide world\n", stdout);
	return 0;
}
