// A stack buffer overflow caught by AddressSanitizer, which reports and then
// exits with status 1 (no signal).
// Build: gcc -O0 -g -fsanitize=address -o asan_stack asan_stack.c
#include <stdio.h>

__attribute__((noinline)) static int fill_scores(int n) {
	int scores[8];
	for (int i = 0; i <= n; i++)
		scores[i] = i;
	return scores[3];
}

int main(int argc, char **argv) {
	(void)argv;
	printf("%d\n", fill_scores(7 + argc));
	return 0;
}
