/* Wide output and a call of the library's libfn (which may change the
   locale, in its constructor, its DT_INIT or libfn itself). */
#include <wchar.h>
#include <stdio.h>
int libfn(int);
int main(int argc, char **argv) { (void)argv; fputws(L"h\xe9llo\n", stdout); return libfn(argc); }
