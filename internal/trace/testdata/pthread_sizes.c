// Pthreads with the stack sizes given as arguments (0: glibc's default);
// each prints what glibc says it has, pthread_getattr_np's stack size
// (the size asked for, without the guard), as "SIZE tid bytes".
// Build: gcc -O0 -g -pthread -o pthread_sizes pthread_sizes.c
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
	(void)arg;
	pthread_attr_t a;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_destroy(&a);
	}
	pthread_mutex_lock(&mu);
	printf("SIZE %ld %zu\n", (long)syscall(SYS_gettid), size);
	fflush(stdout);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		long n = atol(argv[i]);
		if (n > 0 && pthread_attr_setstacksize(&a, (size_t)n) != 0)
			return 2;
		pthread_t t;
		if (pthread_create(&t, &a, worker, NULL) != 0)
			return 1;
		pthread_join(t, NULL);
		pthread_attr_destroy(&a);
	}
	return 0;
}
