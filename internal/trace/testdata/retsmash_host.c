/* Calls compute_op64 from a library: through dlopen/dlsym when built with
   -DUSE_DLOPEN (argv[1] is the library), linked directly otherwise.
   Arguments: N (how many ints to copy into the int[16]) and the data:
   "ints" (37, 39, 41, ...: an arithmetic progression, as a loop writes;
   the return address becomes 0x000000XX000000YY, a canonical address with
   nothing mapped), "fill" ('A' bytes: a non-canonical return address, so
   `ret` itself faults), "fnptr" (no overrun: a call through a corrupted
   function pointer, to an address that is not code) or "wild" (no overrun:
   one stray store of data over a return address, nothing around it).

   gcc -O0 -g [-DUSE_DLOPEN] -o host retsmash_host.c [-ldl | -L. -lretsmash] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef USE_DLOPEN
#include <dlfcn.h>
#endif

int compute_op64(const int *in, int n);

static int (*op)(const int *, int);

int run_op(const int *in, int n)
{
	return op(in, n) + 1;
}

/* One stray store over its own return address (needs the frame pointer:
   built -O0). The saved RBP below it and the caller's frame above it keep
   what they held. */
__attribute__((noinline)) void wild_return(long v)
{
	((volatile long *)__builtin_frame_address(0))[1] = v;
}

int main(int argc, char **argv)
{
	int a = 1;
#ifdef USE_DLOPEN
	void *h = dlopen(argv[a++], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	op = (int (*)(const int *, int))dlsym(h, "compute_op64");
#else
	op = compute_op64;
#endif
	int n = argc > a ? atoi(argv[a]) : 16;
	const char *mode = argc > a + 1 ? argv[a + 1] : "ints";
	static int in[64];
	for (int i = 0; i < 64; i++)
		in[i] = 37 + 2 * i;
	if (strcmp(mode, "fill") == 0)
		memset(in, 'A', sizeof in);
	if (strcmp(mode, "fnptr") == 0) {
		/* A corrupted function pointer, not on the stack: a global. */
		memcpy(&op, &in[20], sizeof op);
	}
	if (strcmp(mode, "wild") == 0) {
		printf("start\n");
		fflush(stdout);
		wild_return(0x4b00000049);
		return 0;
	}
	printf("start\n");
	fflush(stdout);
	printf("sum %d\n", run_op(in, n));
	return 0;
}
