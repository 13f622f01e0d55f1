/* A library function that overruns its local int[16] by 64 bytes (16
   ints) when asked for 32 elements. Built without a stack protector, its
   `ret` pops the copied data as the return address (issue 13: a C++
   library loaded by Python through ctypes died this way).

   gcc -shared -fPIC -fno-stack-protector -O0 -g -o libretsmash.so retsmash_lib.c
   (and -O2) */
#include <string.h>

int compute_op64(const int *in, int n)
{
	int buf[16];
	int sum = 0;
	memcpy(buf, in, n * sizeof(int)); /* n > 16 overruns buf */
	for (int i = 0; i < 16; i++)
		sum += buf[i] * (i + 1);
	return sum;
}
