/* CWE121 style: memmove 100 bytes into a 50-byte alloca buffer. */
#include <alloca.h>
#include <string.h>
#include <stdio.h>
void CWE121_alloca_memmove_bad(size_t n) {
	char *data = alloca(50);
	char source[100];
	memset(source, 'C', 99); source[99] = 0;
	memmove(data, source, n);
	data[49] = 0;
	printf("%s\n", data);
}
int main(int argc, char **argv) { (void)argv; CWE121_alloca_memmove_bad(99 + argc); return 0; }
