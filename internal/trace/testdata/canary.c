// A loop that writes past a float[10]; the stack protector catches it.
// Build: gcc -O0 -g -fstack-protector-strong -o canary canary.c
#include <stdio.h>

__attribute__((noinline)) static float smash_samples(int n) {
	float samples[10];
	// Off by several: the first writes past the end may land in padding,
	// the later ones reach the canary.
	for (int i = 0; i <= n; i++)
		samples[i] = (float)i * 1.5f;
	float s = 0;
	for (int i = 0; i < 10; i++)
		s += samples[i];
	return s;
}

int main(int argc, char **argv) {
	(void)argv;
	printf("%f\n", smash_samples(14 + argc));
	return 0;
}
