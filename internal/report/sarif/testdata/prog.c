/* One finding of each analysis kind, for the SARIF tests. Compiled at test
 * time (with and without -g), never committed as a binary. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int big(int x) { volatile char b[4000]; b[x % 4000] = 1; return b[0]; }

__attribute__((noinline)) int rec(int n)
{
	volatile char b[64];
	b[n & 63] = 1;
	return n <= 0 ? 0 : rec(n - 1) + b[0];
}

__attribute__((noinline)) int speak(int n) { return puts(n ? "yes" : "no"); }

/* Two reasons of different kinds: the message names both. */
__attribute__((noinline)) int both(int n) { return rec(n) + speak(n); }

__attribute__((noinline)) int child(void *arg) { (void)arg; return big(3); }

/* A stack whose size the code does not show: a thread not judged. */
__attribute__((noinline)) int spawn(char *top) { return clone(child, top, CLONE_VM, 0); }

int main(int argc, char **argv)
{
	char *stack = malloc(1024);
	clone(child, stack + 1024, CLONE_VM, 0); /* a 1 KB stack for a 4 KB need */
	return big(argc) + both(argc) + spawn(argv[0]);
}
