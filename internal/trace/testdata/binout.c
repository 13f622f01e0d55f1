// Writes argv[1] bytes of a pseudo-random binary stream to stdout and the
// same stream (a quarter as long) to stderr, from a child process and a thread.
// Build: gcc -O2 -pthread -o binout binout.c
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

static void emit(int fd, long n, unsigned seed) {
	unsigned char buf[4096];
	unsigned x = seed;
	while (n > 0) {
		long k = n < (long)sizeof buf ? n : (long)sizeof buf;
		for (long i = 0; i < k; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (unsigned char)(x >> 16);
		}
		for (long off = 0; off < k;) {
			ssize_t w = write(fd, buf + off, k - off);
			if (w <= 0) exit(1);
			off += w;
		}
		n -= k;
	}
}

static void *errwriter(void *arg) {
	emit(2, (long)arg, 7);
	return NULL;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1 << 20;
	pthread_t t;
	pthread_create(&t, NULL, errwriter, (void *)(n / 4));
	pthread_join(t, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		emit(1, n, 1);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}
