/* setjmp and longjmp (TestX86Longjmp): run() sets two jump buffers and
 * calls jumper(), which fills a frame of about 4 KiB and, with it live,
 * longjmps (or siglongjmps) back into run(). The stack glibc's longjmp
 * uses comes on top of jumper's frame: run's bound must hold what a run
 * measures. */
#include <setjmp.h>
#include <string.h>

static jmp_buf env;
static sigjmp_buf senv;
volatile int sink;

__attribute__((noinline)) void jumper(int n)
{
	volatile char buf[4000];
	memset((char *)buf, n, sizeof buf);
	sink = buf[n % sizeof buf];
	if (n & 1)
		siglongjmp(senv, 2);
	longjmp(env, 1);
}

__attribute__((noinline)) int run(int n)
{
	if (setjmp(env))
		return sink + 1;
	if (sigsetjmp(senv, 1))
		return sink + 2;
	jumper(n);
	return 0;
}

int main(int argc, char **argv)
{
	(void)argv;
	return run(argc) + run(argc + 1) > 0 ? 0 : 1;
}
