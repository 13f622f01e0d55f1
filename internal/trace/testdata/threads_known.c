// Threads that each touch a known amount of stack, then exit cleanly. Each
// prints "TOUCH <tid> <bytes-below-its-first-frame>" so the test can compare.
// Build: gcc -O0 -g -pthread -o threads_known threads_known.c
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void touch(size_t n, char *top) {
	char *buf = __builtin_alloca(n);
	memset(buf, 0x5a, n);
	pthread_mutex_lock(&mu);
	printf("TOUCH %ld %ld\n", (long)syscall(SYS_gettid), (long)(top - buf));
	fflush(stdout);
	pthread_mutex_unlock(&mu);
}

static void *worker(void *arg) {
	char marker;
	touch((size_t)arg, &marker);
	return NULL;
}

int main(void) {
	size_t sizes[] = {16 * 1024, 100 * 1024, 300 * 1024};
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, worker, (void *)sizes[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return 0;
}
