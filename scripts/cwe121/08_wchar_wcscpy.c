/* CWE121 style: wcscpy of a long wide string into wchar_t[10]. */
#include <wchar.h>
#include <stdio.h>
void CWE121_wchar_wcscpy_bad(const wchar_t *src) {
	wchar_t dest[10];
	wcscpy(dest, src);
	printf("%ls\n", dest);
}
int main(void) { CWE121_wchar_wcscpy_bad(L"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); return 0; }
