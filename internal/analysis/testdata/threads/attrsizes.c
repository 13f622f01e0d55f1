/* pthread stack sizes set up in the ways optimised code keeps them, for
   TestThreadAttrSizes. Each thread's size is a constant in this source
   (or deliberately not); the program prints the stack glibc really gave
   each thread (pthread_getattr_np on the thread before it is joined), and
   a worker only uses its large buffer when the program gets 4 or more
   arguments, so a plain run does not overflow. A worker's need is its own
   frame, its _deep helper's, fill's and memset's.
   - attr: pthread_attr_setstacksize(&attr, 32768) in main, used twice
     (at -O1 GCC keeps &attr in rbx across the calls);
   - init_attr: a static helper that sets 65536 (inlined from -O1 on);
   - set_size: a helper never inlined, the size its parameter (49152);
   - the size from argv: not a constant, at least PTHREAD_STACK_MIN;
   - a size set to 1 MiB and then changed through an indirect call: the
     1 MiB must not be taken;
   - shrink: a helper never inlined that sets 20480 over an earlier 1 MiB;
   - a size that depends on the path (1 MiB, or 16384 with 3 arguments):
     not one constant, at least PTHREAD_STACK_MIN;
   - a loop creating LOOPN threads from one call with one attr (24576).
   Build: gcc -O1 -pthread -fstack-usage attrsizes.c */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOPN 3

__attribute__((noipa)) long fill(char *buf, size_t n, long v)
{
	memset(buf, (int)v, n);
	return buf[v] + buf[n - 1];
}

/* The large buffer is in a helper the worker calls only when asked: at -O0
   the worker's own spilled argument would sit below a buffer of its own,
   past the end of a small stack, even on a run that never uses it. */
/* A worker that returns at once waits until main has read its stack
   size: pthread_getattr_np fails (ESRCH, from the affinity it also reads)
   for a thread that has exited, which a loaded machine made happen. */
static volatile int released;

#define WORKER(name, n)                                            \
	__attribute__((noipa)) long name##_deep(void)              \
	{                                                          \
		char buf[n];                                       \
		return fill(buf, sizeof buf, 1);                   \
	}                                                          \
	void *name(void *arg)                                      \
	{                                                          \
		if (arg)                                           \
			return (void *)name##_deep();              \
		while (!released)                                  \
			sched_yield();                             \
		return NULL;                                       \
	}

WORKER(big_worker, 40000)    /* over 32768 */
WORKER(fit_worker, 2000)     /* within 32768 */
WORKER(helper_worker, 100000) /* over 65536 */
WORKER(param_worker, 60000)  /* over 49152 */
WORKER(argv_worker, 30000)   /* over PTHREAD_STACK_MIN */
WORKER(hook_worker, 100000)  /* under the stale 1 MiB, over the minimum */
WORKER(shrink_worker, 30000) /* under the stale 1 MiB, over 20480 */
WORKER(loop_worker, 1000)    /* within 24576 */
WORKER(branch_worker, 30000) /* over PTHREAD_STACK_MIN */

static void init_attr(pthread_attr_t *a)
{
	pthread_attr_init(a);
	pthread_attr_setstacksize(a, 65536);
}

__attribute__((noipa)) void set_size(pthread_attr_t *a, size_t n)
{
	pthread_attr_init(a);
	pthread_attr_setstacksize(a, n);
}

__attribute__((noipa)) void shrink(pthread_attr_t *a)
{
	pthread_attr_setstacksize(a, 20480);
}

void (*volatile hook)(pthread_attr_t *) = shrink;

static pthread_t tids[8 + LOOPN];
static const char *names[8 + LOOPN];

static void report(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_attr_t got;
		size_t size = 0;
		if (pthread_getattr_np(tids[i], &got) == 0) {
			pthread_attr_getstacksize(&got, &size);
			pthread_attr_destroy(&got);
		}
		printf("%s %zu\n", names[i], size);
	}
	released = 1;
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

int main(int argc, char **argv)
{
	pthread_attr_t attr, h, p, r, k, s, b, l;
	void *deep = (void *)(long)(argc > 4);
	int n = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 32768);
	names[n] = "big_worker";
	if (pthread_create(&tids[n++], &attr, big_worker, deep) != 0)
		return 1;
	names[n] = "fit_worker";
	if (pthread_create(&tids[n++], &attr, fit_worker, deep) != 0)
		return 1;

	init_attr(&h);
	names[n] = "helper_worker";
	if (pthread_create(&tids[n++], &h, helper_worker, deep) != 0)
		return 1;

	set_size(&p, 49152);
	names[n] = "param_worker";
	if (pthread_create(&tids[n++], &p, param_worker, deep) != 0)
		return 1;

	pthread_attr_init(&r);
	pthread_attr_setstacksize(&r, argc > 1 ? strtoul(argv[1], NULL, 0) : 65536);
	names[n] = "argv_worker";
	if (pthread_create(&tids[n++], &r, argv_worker, deep) != 0)
		return 1;

	pthread_attr_init(&k);
	pthread_attr_setstacksize(&k, 1 << 20);
	hook(&k);
	names[n] = "hook_worker";
	if (pthread_create(&tids[n++], &k, hook_worker, deep) != 0)
		return 1;

	pthread_attr_init(&s);
	pthread_attr_setstacksize(&s, 1 << 20);
	shrink(&s);
	names[n] = "shrink_worker";
	if (pthread_create(&tids[n++], &s, shrink_worker, deep) != 0)
		return 1;

	pthread_attr_init(&b);
	pthread_attr_setstacksize(&b, 1 << 20);
	if (argc > 3)
		pthread_attr_setstacksize(&b, 16384);
	names[n] = "branch_worker";
	if (pthread_create(&tids[n++], &b, branch_worker, deep) != 0)
		return 1;

	pthread_attr_init(&l);
	pthread_attr_setstacksize(&l, 24576);
	for (int i = 0; i < LOOPN; i++) {
		names[n] = "loop_worker";
		if (pthread_create(&tids[n++], &l, loop_worker, deep) != 0)
			return 1;
	}
	report(n);
	return 0;
}
