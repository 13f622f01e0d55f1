/* Fixture of TestLibcModel (internal/analysis/libcmodel_test.go): a
 * program whose only library calls are write, fflush and exit, plus an
 * exit handler it registers with atexit. Built with -z now.
 *   gcc -O1 -fstack-usage -Wl,-z,now -o libcmodel libcmodel.c
 * With -DCANCEL it also calls pthread_cancel (never on the path that
 * runs), which makes thread cancellation possible: the paths from
 * write's cancellation point into the unwinder stay. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef CANCEL
#include <pthread.h>
#endif

/* deep is reached only as the registered exit handler's callee. */
__attribute__((noinline)) static int deep(int n)
{
	volatile char buf[1500];
	for (int i = 0; i < (int)sizeof buf; i++)
		buf[i] = (char)(n + i);
	return buf[n % sizeof buf];
}

static void on_exit_handler(void)
{
	char c = (char)deep(7);
	if (write(1, &c, 0) < 0)
		_exit(4);
}

__attribute__((noinline)) static int fill(char *b, int n)
{
	for (int i = 0; i < n; i++)
		b[i] = 'a' + i % 26;
	b[n - 1] = '\n';
	return n;
}

int main(int argc, char **argv)
{
	char buf[200];
	(void)argv;
#ifdef CANCEL
	if (argc > 5)
		pthread_cancel(pthread_self());
#endif
	atexit(on_exit_handler);
	int n = fill(buf, 100 + argc);
	if (write(1, buf, n) != n)
		exit(3);
	fflush(stdout);
	exit(0);
}
