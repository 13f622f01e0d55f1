/* Fixture for srcloc: functions declared over several lines, an inline
 * function with an out-of-line copy, a static helper, a loop. */
#include <string.h>

static inline int
square(int x)
{
	return x * x;
}

static int
fill(char *buf, int n)
{
	int sum = 0;
	for (int i = 0; i < n; i++) {
		buf[i] = (char)i;
		sum += square(buf[i]);
	}
	return sum;
}

int
work(int n)
{
	char buf[128];
	memset(buf, 0, sizeof buf);
	return fill(buf, n & 127) + square(n);
}

int (*take_square)(int) = square;

int
main(int argc, char **argv)
{
	(void)argv;
	return work(argc) & 1;
}
