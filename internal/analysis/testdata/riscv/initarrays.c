/* picolibc's _start runs __libc_init_array, which calls the functions of
 * .preinit_array and .init_array through pointers. Without -DCTOR the
 * image has no such array: the loops run zero times. With -DCTOR, a
 * constructor deeper than main's own path is in .init_array. */
#include <string.h>

volatile int sink;

static int work(int n)
{
	volatile char buf[48];
	memset((char *)buf, n, sizeof buf);
	return buf[n & 31];
}

#ifdef CTOR
__attribute__((constructor, noinline)) static void setup(void)
{
	volatile char big[400];
	memset((char *)big, 1, sizeof big);
	sink = big[sink & 255];
}
#endif

int main(void)
{
	sink = work(sink);
	return 0;
}
