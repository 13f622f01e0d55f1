/* Baseline: wide output, no locale change: the c-locale model applies. */
#include <wchar.h>
#include <stdio.h>
int main(void) { fputws(L"h\xe9llo\n", stdout); return 0; }
