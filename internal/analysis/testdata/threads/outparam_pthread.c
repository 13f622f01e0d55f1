/* Thread stack sizes that come back through out-parameters on x86-64: a
   local size is initialised to 0, its address is passed to a function that
   stores the size, then it goes to pthread_attr_setstacksize. The 0 stored
   before the call must never be taken for the size.
   - get_size stores the constant SIZE: pthread_attr_setstacksize(SIZE);
   - get_size_runtime stores a value read at run time: not a constant;
   - remember keeps the address in a global and later stores SIZE through
     it: the call of later, which gets no argument, changes the size.
   Build: gcc -O2 -pthread -fstack-usage -DSIZE=65536 outparam_pthread.c */
#include <pthread.h>
#include <stddef.h>

#ifndef SIZE
#define SIZE 65536
#endif

volatile size_t configured = 1 << 20;

__attribute__((noipa)) void get_size(size_t *size)
{
	*size = SIZE;
}

__attribute__((noipa)) void get_size_runtime(size_t *size)
{
	*size = configured;
}

static size_t *remembered;

__attribute__((noipa)) void remember(size_t *size)
{
	remembered = size;
}

__attribute__((noipa)) void later(void)
{
	*remembered = SIZE;
}

__attribute__((noipa)) long touch(volatile char *buf, size_t n, long v)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(v + i);
	return buf[v];
}

void *const_worker(void *arg)
{
	volatile char buf[256];
	return (void *)touch(buf, sizeof buf, (long)arg);
}

void *runtime_worker(void *arg)
{
	volatile char buf[256];
	return (void *)touch(buf, sizeof buf, (long)arg);
}

void *later_worker(void *arg)
{
	volatile char buf[256];
	return (void *)touch(buf, sizeof buf, (long)arg);
}

int main(void)
{
	pthread_t a, b, c;
	pthread_attr_t fixed, chosen, delayed;
	size_t n = 0, m = 0, k = 0;
	pthread_attr_init(&fixed);
	get_size(&n);
	pthread_attr_setstacksize(&fixed, n);
	if (pthread_create(&a, &fixed, const_worker, (void *)1L) != 0)
		return 1;
	pthread_attr_init(&chosen);
	get_size_runtime(&m);
	pthread_attr_setstacksize(&chosen, m);
	if (pthread_create(&b, &chosen, runtime_worker, (void *)2L) != 0)
		return 1;
	pthread_attr_init(&delayed);
	remember(&k);
	later();
	pthread_attr_setstacksize(&delayed, k);
	if (pthread_create(&c, &delayed, later_worker, (void *)3L) != 0)
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	return 0;
}
