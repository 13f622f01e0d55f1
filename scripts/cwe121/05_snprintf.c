/* CWE121 style: snprintf told the buffer is bigger than it is. */
#include <stdio.h>
#include <string.h>
void CWE121_snprintf_bad(const char *src) {
	char dest[24];
	snprintf(dest, 100, "%s", src);
	printf("%s\n", dest);
}
int main(void) { CWE121_snprintf_bad("a string that is far longer than twenty four bytes"); return 0; }
