// A clone() child on an 8 KiB malloc'd stack that recurses without bound.
// Build: gcc -O0 -g -o clone_heap clone_heap.c
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static int deep_dive(int n) {
	volatile char pad[64];
	pad[0] = (char)n;
	return deep_dive(n + 1) + pad[0];
}

static int child(void *arg) {
	(void)arg;
	return deep_dive(0);
}

int main(void) {
	// Keep some heap below the stack so it lands inside [heap].
	void *before = malloc(1 << 16);
	char *stack = malloc(8192);
	void *after = malloc(64);
	if (!before || !stack || !after) return 1;
	int pid = clone(child, stack + 8192, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0) { perror("clone"); return 1; }
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
