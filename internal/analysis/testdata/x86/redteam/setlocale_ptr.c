/* setlocale through a pointer the program holds (its GOT word escapes). */
#include <locale.h>
#include <wchar.h>
#include <stdio.h>
char *(*volatile set)(int, const char *) = setlocale;
int main(void) { set(LC_ALL, ""); fputws(L"h\xe9llo\n", stdout); return 0; }
