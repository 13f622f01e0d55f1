/* CWE121 style: strcpy of a 31-character string into char[16]. */
#include <string.h>
#include <stdio.h>
void CWE121_char_strcpy_bad(const char *src) {
	char dest[16];
	strcpy(dest, src);
	printf("%s\n", dest);
}
int main(int argc, char **argv) { (void)argv; CWE121_char_strcpy_bad(argc > 5 ? "x" : "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); return 0; }
