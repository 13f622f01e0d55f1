/* Prints through fprintf and vfprintf to stdout: glibc's
   __vfprintf_internal writes through the stream's __xsputn slot (a call
   through the FILE's jump table, in a function with jump tables). */
#include <stdarg.h>
#include <stdio.h>

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	fprintf(stdout, "%d %s\n", argc, argv[0]);
	say("%x\n", argc);
	return 0;
}
