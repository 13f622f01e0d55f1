/* A C11 thread: thrd_create passes no attributes, so the thread gets
   glibc's default stack, and glibc's start_thread runs its entry as it
   runs a pthread's (the C11 branch of its call of pd->start_routine). */
#include <threads.h>

static int worker(void *arg)
{
	volatile char buf[256];
	buf[0] = (char)(long)arg;
	return buf[0];
}

int main(void)
{
	thrd_t t;
	int res;
	if (thrd_create(&t, worker, (void *)1) != thrd_success)
		return 1;
	thrd_join(t, &res);
	return res == 1 ? 0 : 2;
}
