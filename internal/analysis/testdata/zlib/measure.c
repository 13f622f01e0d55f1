/* Measures the stack zlib's deflate and inflate really use, for
 * TestRealWorldZlibMeasured: paint the stack below the caller, note SP at
 * the call, call, and find the lowest byte that changed. Prints
 * "deflate N inflate M" in bytes below the caller's SP at the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zlib.h"

#define PAINT 65536
static unsigned char *painted;

__attribute__((noinline)) static void paint(void)
{
	volatile unsigned char a[PAINT];
	for (int i = 0; i < PAINT; i++)
		a[i] = 0xA5;
	painted = (unsigned char *)a;
}

__attribute__((noinline)) static long used_below(unsigned char *sp)
{
	for (unsigned char *p = painted; p < sp; p++)
		if (*p != 0xA5)
			return sp - p;
	return 0;
}

static unsigned char in[1 << 20], out[1 << 21], back[1 << 20];

int main(int argc, char **argv)
{
	int level = argc > 1 ? atoi(argv[1]) : 6;
	int strategy = argc > 2 ? atoi(argv[2]) : Z_DEFAULT_STRATEGY;
	unsigned char *sp;
	srand(1);
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (i % 97 < 50) ? 'a' + rand() % 26 : in[i / 2];

	z_stream d;
	memset(&d, 0, sizeof d);
	deflateInit2(&d, level, Z_DEFLATED, 15, 9, strategy);
	d.next_in = in, d.avail_in = sizeof in, d.next_out = out, d.avail_out = sizeof out;
	paint();
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	if (deflate(&d, Z_FINISH) != Z_STREAM_END)
		return 2;
	long dused = used_below(sp);

	z_stream f;
	memset(&f, 0, sizeof f);
	inflateInit(&f);
	f.next_in = out, f.avail_in = d.total_out, f.next_out = back, f.avail_out = sizeof back;
	paint();
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	if (inflate(&f, Z_FINISH) != Z_STREAM_END || memcmp(in, back, sizeof in) != 0)
		return 3;
	long iused = used_below(sp);
	printf("deflate %ld inflate %ld\n", dused, iused);
	return 0;
}
