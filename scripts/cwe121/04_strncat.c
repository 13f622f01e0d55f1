/* CWE121 style: strncat with the source's length, not the room left. */
#include <string.h>
#include <stdio.h>
void CWE121_strncat_bad(const char *src) {
	char dest[20] = "prefix:";
	strncat(dest, src, strlen(src));
	printf("%s\n", dest);
}
int main(void) { CWE121_strncat_bad("0123456789012345678901234567890123456789"); return 0; }
