/* A clone() child that calls printf with a large local buffer and recurses:
   its stack of malloc(8192) cannot hold it. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define STACK 8192

int child_run(void *arg)
{
	char buf[6000];
	int depth = *(int *)arg;
	memset(buf, depth, sizeof buf);
	printf("child %d %s\n", depth, buf + depth);
	if (depth > 0) {
		int next = depth - 1;
		return child_run(&next) + buf[depth];
	}
	return buf[0];
}

int main(void)
{
	int depth = 3;
	char *stack = malloc(STACK);
	if (!stack) {
		perror("malloc");
		return 1;
	}
	pid_t pid = clone(child_run, stack + STACK, CLONE_VM | SIGCHLD, &depth);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	waitpid(pid, NULL, 0);
	free(stack);
	return 0;
}
