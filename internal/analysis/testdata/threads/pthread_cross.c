/* Pthreads for the 64-bit cross targets (AArch64, RV64 Linux), built with
   -DSTACK=<PTHREAD_STACK_MIN of the target>: big_worker's frame alone is
   more than its stack (an overflow by a number), deep_worker recurses
   (no bound) below a frame that is already more (an overflow by at
   least a number), small_worker's size comes from the command line (only
   PTHREAD_STACK_MIN is proved, which it fits). Run with "measure", it
   prints how far below the top of a stack given with pthread_attr_setstack
   a start routine's CFA is: glibc's descriptor, static TLS and
   start_thread's frame. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noipa)) long fill(char *buf, size_t n, long v)
{
	for (size_t i = 0; i < n; i += 512)
		buf[i] = (char)(v + i);
	return buf[v] + buf[n - 1];
}

void *big_worker(void *arg)
{
	char buf[STACK + STACK / 2];
	return (void *)fill(buf, sizeof buf, (long)arg);
}

__attribute__((noipa)) long rec(long n)
{
	char b[256];
	if (n <= 0)
		return 0;
	return fill(b, sizeof b, n & 7) + rec(n - 1);
}

void *deep_worker(void *arg)
{
	char buf[STACK + 4096];
	return (void *)(fill(buf, sizeof buf, (long)arg) + rec((long)arg));
}

void *small_worker(void *arg)
{
	volatile char buf[64];
	buf[0] = (char)(long)arg;
	return (void *)(long)buf[0];
}

static char *cfa;

__attribute__((noipa)) void *measure_worker(void *arg)
{
	cfa = __builtin_dwarf_cfa();
	return arg;
}

static int measure(void)
{
	size_t size = 4 * STACK;
	char *stack = aligned_alloc(65536, size);
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setstack(&at, stack, size);
	if (pthread_create(&t, &at, measure_worker, NULL) != 0)
		return 1;
	pthread_join(t, NULL);
	printf("top %ld\n", (long)(stack + size - cfa));
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t a, b, c;
	pthread_attr_t fixed, sized;
	if (argc > 1 && strcmp(argv[1], "measure") == 0)
		return measure();
	pthread_attr_init(&fixed);
	pthread_attr_setstacksize(&fixed, STACK);
	if (pthread_create(&a, &fixed, big_worker, (void *)1L) != 0)
		return 1;
	if (pthread_create(&c, &fixed, deep_worker, (void *)3L) != 0)
		return 1;
	pthread_attr_init(&sized);
	pthread_attr_setstacksize(&sized, argc > 1 ? strtoul(argv[1], NULL, 0) : 65536);
	if (pthread_create(&b, &sized, small_worker, (void *)2L) != 0)
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	return 0;
}
