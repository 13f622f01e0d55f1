/* fopen with ccs=: the stream converts through a named charset. */
#include <wchar.h>
#include <stdio.h>
int main(void) {
	FILE *f = fopen("/dev/null", "w,ccs=UTF-8");
	if (f) fputws(L"h\xe9llo\n", f);
	return 0;
}
