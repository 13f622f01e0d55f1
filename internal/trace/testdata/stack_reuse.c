// Threads that run one after another, so that glibc gives a later thread
// the cached stack of an earlier one. Each prints, after all are joined,
// "TOUCH <tid> <bytes> <stackaddr>": bytes measured from the thread
// function's own frame to the lowest byte it wrote, and the stack glibc
// gave it (pthread_getattr_np), which shows the reuse.
//   stack_reuse deep-shallow  a 200 KiB thread, then a shallow one
//   stack_reuse shallow       the shallow thread alone
//   stack_reuse small         16 KiB stacks (PTHREAD_STACK_MIN): 8 KiB,
//                             then shallow (glibc's exit madvise frees
//                             nothing on so small a stack)
//   stack_reuse small-shallow the shallow thread alone on a 16 KiB stack
//   stack_reuse fork          a 200 KiB thread alive at fork; in the child,
//                             a shallow thread (glibc's cache in the child
//                             holds the parent thread's stack)
//   stack_reuse user          one pthread_attr_setstack buffer for a
//                             100 KiB thread and then a shallow one; main
//                             fills the buffer's bottom between them and
//                             prints whether it is intact at the end
// In every mode a first thread does what the others do (its first calls
// create malloc's thread arena, deeper than any later thread goes) and
// stays alive until the end, so that its stack is not reused.
// Build: gcc -O0 -g -pthread -o stack_reuse stack_reuse.c
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct job {
	size_t bytes;
	long tid, touched;
	void *stack;
	pthread_barrier_t *hold; // waited on after the touch when set
};

__attribute__((noinline)) static void touch(struct job *j, char *top) {
	char *buf = __builtin_alloca(j->bytes + 16);
	for (size_t i = 0; i < j->bytes + 16; i++)
		((volatile char *)buf)[i] = 0x5a;
	j->touched = top - buf;
}

static void *worker(void *arg) {
	char marker;
	struct job *j = arg;
	pthread_attr_t a;
	size_t sz;
	j->tid = syscall(SYS_gettid);
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &j->stack, &sz);
		pthread_attr_destroy(&a);
	}
	touch(j, &marker);
	if (j->hold) {
		pthread_barrier_wait(j->hold); // touched
		pthread_barrier_wait(j->hold); // forked
	}
	return NULL;
}

static void run(struct job *j, pthread_attr_t *attr) {
	pthread_t t;
	if (pthread_create(&t, attr, worker, j) != 0) {
		perror("pthread_create");
		exit(2);
	}
	pthread_join(t, NULL);
}

static void report(struct job *j, int n) {
	for (int i = 0; i < n; i++)
		printf("TOUCH %ld %ld %p\n", j[i].tid, j[i].touched, j[i].stack);
}

static pthread_barrier_t warmed, done;

static void *warm(void *arg) {
	struct job *j = arg;
	worker(j);
	pthread_barrier_wait(&warmed);
	pthread_barrier_wait(&done);
	return NULL;
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "deep-shallow";
	struct job j[2] = {{.bytes = 200 * 1024}, {.bytes = 0}}, w = {.bytes = 0};
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_t wt;
	pthread_barrier_init(&warmed, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_create(&wt, NULL, warm, &w);
	pthread_barrier_wait(&warmed);
	if (strcmp(mode, "deep-shallow") == 0) {
		run(&j[0], NULL);
		run(&j[1], NULL);
		report(j, 2);
	} else if (strcmp(mode, "shallow") == 0) {
		run(&j[1], NULL);
		report(&j[1], 1);
	} else if (strcmp(mode, "small") == 0 || strcmp(mode, "small-shallow") == 0) {
		pthread_attr_setstacksize(&attr, 16384);
		j[0].bytes = 8 * 1024;
		if (strcmp(mode, "small") == 0) {
			run(&j[0], &attr);
			run(&j[1], &attr);
			report(j, 2);
		} else {
			run(&j[1], &attr);
			report(&j[1], 1);
		}
	} else if (strcmp(mode, "fork") == 0) {
		pthread_barrier_t b;
		pthread_barrier_init(&b, NULL, 2);
		j[0].hold = &b;
		pthread_t t;
		pthread_create(&t, NULL, worker, &j[0]);
		pthread_barrier_wait(&b); // the deep thread has touched
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			run(&j[1], NULL);
			report(&j[1], 1);
			fflush(stdout);
			_exit(0);
		}
		int st;
		waitpid(p, &st, 0);
		pthread_barrier_wait(&b);
		pthread_join(t, NULL);
		report(j, 1);
	} else if (strcmp(mode, "user") == 0) {
		size_t size = 256 * 1024;
		char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			return 2;
		pthread_attr_setstack(&attr, buf, size);
		j[0].bytes = 100 * 1024;
		run(&j[0], &attr);
		// The program's own data in its own buffer, below where the
		// next thread's stack will reach: not stackscope's to touch.
		memset(buf, 0x77, 4096);
		run(&j[1], &attr);
		int intact = 1;
		for (int i = 0; i < 4096; i++)
			intact &= buf[i] == 0x77;
		report(j, 2);
		printf("USER BUFFER %s\n", intact ? "intact" : "changed");
	} else {
		fprintf(stderr, "stack_reuse: unknown mode %s\n", mode);
		return 2;
	}
	pthread_barrier_wait(&done);
	pthread_join(wt, NULL);
	return 0;
}
