// A pthread with a 64 KiB stack that recurses into its guard page.
// Build: gcc -O0 -g -pthread -o pthread_guard pthread_guard.c
#include <pthread.h>
#include <stdio.h>

static int recurse_forever(int n) {
	volatile char buf[256];
	buf[0] = (char)n;
	return recurse_forever(n + 1) + buf[0];
}

static void *worker(void *arg) {
	(void)arg;
	recurse_forever(0);
	return NULL;
}

int main(void) {
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_t t;
	if (pthread_create(&t, &a, worker, NULL) != 0) return 1;
	pthread_join(t, NULL);
	return 0;
}
