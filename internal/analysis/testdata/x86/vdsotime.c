/* vdso_test.go: stamp() calls glibc's gettimeofday and time, ifuncs
 * whose resolver returns the kernel's vDSO function (else a system call).
 * Built with gcc -O2 -Wl,-z,now.
 *
 * Run with an argument, it measures the stack one call of stamp() uses
 * on a painted stack, as vdsoclock.c does. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

__attribute__((noinline)) long stamp(void)
{
	struct timeval tv;
	if (gettimeofday(&tv, NULL) != 0)
		return -1;
	return tv.tv_usec + time(NULL);
}

#define PAINT 0x5a5aa5a55a5aa5a5UL
#define WORDS 1024

int main(int argc, char **argv)
{
	(void)argv;
	if (argc < 2)
		return stamp() < 0;
	volatile unsigned long *sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	for (int i = 1; i <= WORDS; i++)
		sp[-i] = PAINT;
	__asm__ volatile("call stamp" ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	int deepest = 0;
	for (int i = 1; i <= WORDS; i++)
		if (sp[-i] != PAINT)
			deepest = i;
	printf("DEPTH %d\n", deepest * 8);
	return 0;
}
