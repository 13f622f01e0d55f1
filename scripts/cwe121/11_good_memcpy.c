/* CWE121 style good case: the copy fits. */
#include <string.h>
#include <stdio.h>
void CWE121_char_memcpy_good(void) {
	char source[100];
	char dest[100];
	memset(source, 'C', 99); source[99] = 0;
	memcpy(dest, source, 100 * sizeof(char));
	printf("%s\n", dest);
}
int main(void) { CWE121_char_memcpy_good(); return 0; }
