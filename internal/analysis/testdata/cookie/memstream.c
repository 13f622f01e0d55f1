/* fflush of a fmemopen stream: glibc's fmemopen makes a cookie stream
 * with its own fmemopen_write, which _IO_cookie_write calls.
 * Built by cookie_test.go: gcc -g -O2 -o memstream memstream.c */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	static char buf[64];
	FILE *f = fmemopen(buf, sizeof buf, "w");
	fputs("hello", f);
	fflush(f);
	_exit(0);
}
