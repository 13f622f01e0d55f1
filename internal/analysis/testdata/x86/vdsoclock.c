/* vdso_test.go: now() reads the clock through glibc's clock_gettime,
 * which calls the kernel's vDSO through GLRO(dl_vdso_clock_gettime64).
 * Built with gcc -O2 -Wl,-z,now.
 *
 * Run with an argument, it measures the stack one call of now() uses on
 * a painted stack (gdb's single steps never leave the vDSO's clock read,
 * which retries while it is being traced): the words below main's SP are
 * painted, now() is called, and the deepest word changed gives the depth
 * from SP at the call, return address included. */
#include <stdio.h>
#include <time.h>

__attribute__((noinline)) long now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return -1;
	return ts.tv_nsec;
}

#define PAINT 0x5a5aa5a55a5aa5a5UL
#define WORDS 1024

int main(int argc, char **argv)
{
	(void)argv;
	if (argc < 2)
		return now() < 0;
	volatile unsigned long *sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	for (int i = 1; i <= WORDS; i++)
		sp[-i] = PAINT;
	__asm__ volatile("call now" ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	int deepest = 0;
	for (int i = 1; i <= WORDS; i++)
		if (sp[-i] != PAINT)
			deepest = i;
	printf("DEPTH %d\n", deepest * 8);
	return 0;
}
