// Thread and process churn for the supervisor's event handling: thousands
// of threads, threads that create threads, forks from threads (whose
// children start threads of their own), detached threads, and threads
// exiting while others start. Output and exit status are deterministic:
// one line of totals, then exit status 3 (so a status passed through
// unchanged is visible).
// Build: gcc -O2 -pthread -o stress stress.c
// Usage: stress [SPAWNERS [CHILDREN [FORKS]]]   (default 8 250 4)
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int children = 250;
static long detached_done, detached_n;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

// A little stack and a little work, different per thread.
static long work(long seed) {
	volatile char buf[512 + (seed % 7) * 256];
	long h = seed;
	for (unsigned i = 0; i < sizeof buf; i += 64) {
		buf[i] = (char)h;
		h = h * 6364136223846793005L + 1442695040888963407L;
	}
	return (h >> 33) & 0xff;
}

static void *grandchild(void *arg) { return (void *)work((long)arg * 31); }

// A child thread: some create a grandchild of their own.
static void *child(void *arg) {
	long i = (long)arg, r = work(i);
	if (i % 5 == 0) {
		pthread_t g;
		void *gr;
		if (pthread_create(&g, NULL, grandchild, (void *)i) != 0) exit(20);
		pthread_join(g, &gr);
		r += (long)gr;
	}
	return (void *)r;
}

static void *detached(void *arg) {
	long r = work((long)arg);
	pthread_mutex_lock(&mu);
	detached_done += r;
	detached_n++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

// Spawners run at once: each starts its children in waves (so threads
// exit while others start) and one detached thread per wave.
static void *spawner(void *arg) {
	long base = (long)arg * 100000, sum = 0;
	pthread_t t[16];
	for (int w = 0; w < children; w += 16) {
		int n = children - w < 16 ? children - w : 16;
		for (int k = 0; k < n; k++)
			if (pthread_create(&t[k], NULL, child, (void *)(base + w + k)) != 0) exit(21);
		pthread_t d;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&d, &a, detached, (void *)(base + w)) != 0) exit(22);
		pthread_attr_destroy(&a);
		for (int k = 0; k < n; k++) {
			void *r;
			pthread_join(t[k], &r);
			sum += (long)r;
		}
	}
	return (void *)sum;
}

// A forker thread: fork; the child process runs a few threads and exits
// with a status made of their results; the parent checks it.
static void *forker(void *arg) {
	long i = (long)arg, want = 0;
	for (int k = 0; k < 4; k++) want += work(i * 10 + k);
	pid_t p = fork();
	if (p < 0) exit(23);
	if (p == 0) {
		pthread_t t[4];
		long got = 0;
		for (int k = 0; k < 4; k++)
			if (pthread_create(&t[k], NULL, grandchild, (void *)(i * 10 + k)) != 0) _exit(24);
		for (int k = 0; k < 4; k++) {
			void *r;
			pthread_join(t[k], &r);
		}
		for (int k = 0; k < 4; k++) got += work(i * 10 + k);
		_exit((int)(got & 0x7f));
	}
	int st;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st)) return (void *)-1;
	return (void *)(long)(WEXITSTATUS(st) == (int)(want & 0x7f));
}

int main(int argc, char **argv) {
	int spawners = argc > 1 ? atoi(argv[1]) : 8;
	children = argc > 2 ? atoi(argv[2]) : 250;
	int forks = argc > 3 ? atoi(argv[3]) : 4;
	if (spawners > 64 || forks > 64) return 2;
	pthread_t s[64], f[64];
	for (long i = 0; i < spawners; i++)
		if (pthread_create(&s[i], NULL, spawner, (void *)i) != 0) return 25;
	for (long i = 0; i < forks; i++)
		if (pthread_create(&f[i], NULL, forker, (void *)i) != 0) return 26;
	long sum = 0, forked = 0;
	for (int i = 0; i < spawners; i++) {
		void *r;
		pthread_join(s[i], &r);
		sum += (long)r;
	}
	for (int i = 0; i < forks; i++) {
		void *r;
		pthread_join(f[i], &r);
		forked += (long)r;
	}
	// Every detached thread has finished (by its count) before the totals.
	long waves = (children + 15) / 16;
	pthread_mutex_lock(&mu);
	while (detached_n != spawners * waves) pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	printf("threads %d sum %ld detached %ld forks %ld/%d\n", spawners * children, sum, detached_done, forked, forks);
	fflush(stdout);
	return 3;
}
