// Clean multi-process program: fork, vfork+exec, and a raw clone() on an
// anonymous mmap'd stack that returns normally.
// Build: gcc -O0 -g -o forks forks.c
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(void *arg) {
	volatile char buf[2000];
	buf[0] = 1;
	(void)arg;
	return buf[0] + 4;
}

int main(void) {
	int st;
	pid_t p = fork();
	if (p == 0) _exit(7);
	waitpid(p, &st, 0);
	if (WEXITSTATUS(st) != 7) return 1;
	p = vfork();
	if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
	waitpid(p, &st, 0);
	if (WEXITSTATUS(st) != 0) return 2;
	size_t sz = 64 * 1024;
	char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	p = clone(child, stk + sz, CLONE_VM | SIGCHLD, NULL);
	waitpid(p, &st, 0);
	if (WEXITSTATUS(st) != 5) return 3;
	printf("ok\n");
	return 0;
}
