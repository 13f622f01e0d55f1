/* A program whose only path to a deep function is a FILE operation on a
 * fopencookie stream: deep_write is the stream's write function, called
 * by glibc's _IO_cookie_write when fflush writes the buffer out.
 * Built by cookie_test.go: gcc -g -O0|-O2 -o cookie cookie.c */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

static ssize_t deep_write(void *cookie, const char *buf, size_t n)
{
	volatile char big[16000];
	(void)cookie;
	big[n % sizeof big] = buf[0];
	return big[n % sizeof big] == buf[0] ? (ssize_t)n : -1;
}

int main(void)
{
	cookie_io_functions_t io = { .write = deep_write };
	FILE *f = fopencookie(NULL, "w", io);
	fputs("hello", f);
	fflush(f);
	_exit(0);
}
