/* Variants of cookie.c's stream for cookie_test.go, chosen with -D:
 *   CONST_IO:  the io functions come from a static const struct (copied
 *              from .rodata, or .data.rel.ro in a PIE) 
 *   RUNTIME_IO: the write function depends on argc (not a constant)
 *   TAKEN:     fopencookie's address is taken and it is called through it
 * Built by cookie_test.go: gcc -g -O2 [-no-pie] -DVARIANT -o variants variants.c */
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

static ssize_t other_write(void *cookie, const char *buf, size_t n)
{
	volatile char small[16];
	(void)cookie;
	small[n % sizeof small] = buf[0];
	return (ssize_t)n;
}

#ifdef CONST_IO
static const cookie_io_functions_t io = { .write = deep_write };
#endif

FILE *(*volatile opener)(void *, const char *, cookie_io_functions_t);

int main(int argc, char **argv)
{
	(void)argv;
#ifndef CONST_IO
	cookie_io_functions_t io = { .write = deep_write };
#endif
#ifdef RUNTIME_IO
	if (argc > 5)
		io.write = other_write;
#else
	(void)other_write;
	(void)argc;
#endif
#ifdef TAKEN
	opener = fopencookie;
	FILE *f = opener(NULL, "w", io);
#else
	FILE *f = fopencookie(NULL, "w", io);
#endif
	fputs("hello", f);
	fflush(f);
	_exit(0);
}
