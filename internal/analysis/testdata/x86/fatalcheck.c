/* glibc's fatal-error paths (TestLibcFatalPaths). The program writes and
   exits; its only libc calls are write, exit and, through its own assert,
   __assert_fail, whose path (message formatting, abort) must still count.
   glibc's own calls into its fatal-error functions (malloc's heap checks,
   get_nprocs's assert, pthread_mutex_lock's asserts) are not followed.
   gcc -O2 -Wl,-z,now fatalcheck.c */
#include <assert.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
	(void)argv;
	assert(argc < 100);
	write(1, "hi\n", 3);
	exit(0);
}
