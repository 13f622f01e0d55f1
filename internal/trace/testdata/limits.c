// Prints what the limits Config sets look like from inside: the soft
// RLIMIT_STACK, glibc's default pthread stack size, and the address of a
// local (the same on every run when ASLR is off).
// Build: gcc -O0 -g -pthread -o limits limits.c
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>

int main(void) {
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	pthread_attr_t a;
	size_t size = 0;
	if (pthread_getattr_default_np(&a) == 0) {
		pthread_attr_getstacksize(&a, &size);
	}
	int local = 0;
	printf("rlimit %llu\npthread %zu\nlocal %p\n", (unsigned long long)rl.rlim_cur, size, (void *)&local);
	return 0;
}
