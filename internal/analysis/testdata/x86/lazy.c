/* The first call through a lazily bound PLT slot runs ld.so's resolver on
 * the caller's stack. main paints the stack below it, calls work() (whose
 * first call to the library goes through the PLT), and prints how many
 * bytes below its own frame were touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAINT 32768
static unsigned char *painted;

__attribute__((noinline)) static void paint(void)
{
	volatile unsigned char a[PAINT];
	for (int i = 0; i < PAINT; i++)
		a[i] = 0xA5;
	painted = (unsigned char *)a;
}

__attribute__((noinline)) int work(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

int main(int argc, char **argv)
{
	unsigned char here;
	paint();
	int v = work(argc > 1 ? argv[1] : "7");
	long used = 0;
	for (unsigned char *p = painted; p < &here; p++)
		if (*p != 0xA5) {
			used = &here - p;
			break;
		}
	printf("%ld %d\n", used, v);
	return 0;
}
