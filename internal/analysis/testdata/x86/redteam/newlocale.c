/* A locale_t from newlocale installed with uselocale before wcsrtombs. */
#define _GNU_SOURCE
#include <locale.h>
#include <wchar.h>
#include <stdio.h>
#include <string.h>
int main(void) {
	locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	char buf[64]; const wchar_t *s = L"h\xe9llo";
	size_t n = wcsrtombs(buf, &s, sizeof buf, 0);
	uselocale(l);
	n += wcsrtombs(buf, &s, sizeof buf, 0);
	return (int)n;
}
