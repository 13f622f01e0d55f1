/* FILE jump tables of the streams a program makes (TestLibioInstalled).
   Plain, the program writes to stdout only: no reachable code installs
   _IO_cookie_jumps, and no FILE jump table call reaches _IO_cookie_*.
   With -DCOOKIE it writes through fopencookie to count_write: the cookie
   table's functions, and count_write through them, are reached. With
   -DCOOKIE -DPOINTER it calls fopencookie through a pointer (a GOT load
   in a PIE): the same. With -DCOOKIE -DDLSYM the pointer comes from
   dlsym (TestDlsymRegistrars).
   gcc -O2 -Wl,-z,now [-DCOOKIE [-DPOINTER | -DDLSYM]] cookiestream.c */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/types.h>

static size_t total;

static ssize_t count_write(void *cookie, const char *buf, size_t size) {
	(void)cookie;
	(void)buf;
	total += size;
	return (ssize_t)size;
}

int main(int argc, char **argv) {
	(void)argv;
#ifdef COOKIE
	cookie_io_functions_t io = {.write = count_write};
#ifdef POINTER
	FILE *(*volatile open)(void *, const char *, cookie_io_functions_t) = fopencookie;
	FILE *f = open(NULL, "w", io);
#elif defined(DLSYM)
	FILE *(*open)(void *, const char *, cookie_io_functions_t) =
		(FILE * (*)(void *, const char *, cookie_io_functions_t)) dlsym(RTLD_DEFAULT, "fopencookie");
	FILE *f = open ? open(NULL, "w", io) : NULL;
#else
	FILE *f = fopencookie(NULL, "w", io);
#endif
	if (f == NULL)
		return 1;
	fprintf(f, "%d\n", argc);
	fclose(f);
#else
	(void)count_write;
	fprintf(stdout, "%d\n", argc);
#endif
	fflush(NULL);
	return (int)total;
}
