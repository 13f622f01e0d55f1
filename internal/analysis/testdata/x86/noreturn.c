/* An assert on an error path inside a loop (TestX86NoReturnCalls): at
 * -Os GCC aligns the stack with a push before the call to __assert_fail
 * and lays out the loop's next block right after the call. Walked past
 * the call, the push repeats on every trip: a false "SP moves down in a
 * loop" (musl sqlite3's quickscan). */
#include <assert.h>
#include <stddef.h>

size_t quickscan(const unsigned char *s, size_t n, int k)
{
	size_t i = 0;
	while (i < n) {
		assert(s[i] != 0xff);
		if (s[i] == k)
			break;
		i += s[i] > 0x7f ? 2 : 1;
	}
	return i;
}

int main(int argc, char **argv)
{
	return (int)quickscan((const unsigned char *)argv[0], 10, argc);
}
