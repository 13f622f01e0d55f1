/* Two pthreads: one with pthread_attr_setstacksize(16384) whose start
   routine needs more (a large local buffer), one whose size comes from the
   command line (not a constant: glibc's default is assumed). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noipa)) long fill(char *buf, size_t n, long v)
{
	memset(buf, (int)v, n);
	return buf[v] + buf[n - 1];
}

void *big_worker(void *arg)
{
	char buf[20000];
	return (void *)fill(buf, sizeof buf, (long)arg);
}

void *small_worker(void *arg)
{
	volatile char buf[64];
	buf[0] = (char)(long)arg;
	return (void *)(long)buf[0];
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	pthread_attr_t fixed, sized;
	pthread_attr_init(&fixed);
	pthread_attr_setstacksize(&fixed, 16384);
	if (pthread_create(&a, &fixed, big_worker, (void *)1L) != 0)
		return 1;
	pthread_attr_init(&sized);
	pthread_attr_setstacksize(&sized, argc > 1 ? strtoul(argv[1], NULL, 0) : 65536);
	if (pthread_create(&b, &sized, small_worker, (void *)2L) != 0)
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
