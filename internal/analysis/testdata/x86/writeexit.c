/* Fixture of TestWriteExitBounded (writeexit_test.go): issue 14's
 * program whose only library calls are write and exit.
 *   gcc -O2 -fstack-usage -Wl,-z,now -o writeexit writeexit.c */
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	write(1, "hi\n", 3);
	exit(0);
}
