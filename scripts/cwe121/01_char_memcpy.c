/* CWE121 style: memcpy of 100 bytes into a 50-byte stack array. */
#include <string.h>
#include <stdio.h>
void CWE121_char_memcpy_bad(void) {
	char source[100];
	char dest[50];
	memset(source, 'C', 99); source[99] = 0;
	memcpy(dest, source, 100 * sizeof(char));
	dest[49] = 0;
	printf("%s\n", dest);
}
int main(void) { CWE121_char_memcpy_bad(); return 0; }
