// Threads that each touch a known amount of stack below their first frame,
// then exit cleanly. After joining, main prints one line per thread:
// "TOUCH <tid> <bytes>", bytes measured from the thread function's own frame
// to the lowest byte it wrote. Nothing deep is called after the touch.
// Build: gcc -O0 -g -pthread -o threads_known threads_known.c
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define N 4
static size_t sizes[N] = {0, 16 * 1024, 100 * 1024, 300 * 1024};
static long tids[N], touched[N];

__attribute__((noinline)) static void touch(int i, char *top) {
	char *buf = __builtin_alloca(sizes[i] + 16);
	for (size_t j = 0; j < sizes[i] + 16; j++)
		((volatile char *)buf)[j] = 0x5a;
	touched[i] = top - buf;
}

static void *worker(void *arg) {
	char marker;
	int i = (int)(long)arg;
	tids[i] = syscall(SYS_gettid);
	touch(i, &marker);
	return NULL;
}

int main(void) {
	pthread_t t[N];
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++)
		printf("TOUCH %ld %ld\n", tids[i], touched[i]);
	return 0;
}
