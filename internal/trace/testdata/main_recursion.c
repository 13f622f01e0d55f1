// Unbounded recursion on the main thread.
// Build: gcc -O0 -g -o main_recursion main_recursion.c
#include <stdio.h>

static int runaway(int n) {
	volatile char buf[128];
	buf[n % 128] = (char)n;
	return runaway(n + 1) + buf[0];
}

int main(int argc, char **argv) {
	(void)argv;
	return runaway(argc);
}
