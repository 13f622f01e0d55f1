/* A program that makes glibc's vfprintf use its helper stream: stderr is
 * unbuffered, so fprintf(stderr, ...) runs buffered_vfprintf, whose
 * helper's buffer (BUFSIZ, 8,192 bytes) fills with the 20,000-byte string
 * and goes out through _IO_helper_overflow to stderr.
 * Built by libiohelper_test.go: gcc -O2 -Wl,-z,now -o helper helper.c */
#include <stdio.h>
#include <string.h>

static char big[20000];

int main(void)
{
	memset(big, 'x', sizeof big - 1);
	fprintf(stderr, "%s\n", big);
	return 0;
}
