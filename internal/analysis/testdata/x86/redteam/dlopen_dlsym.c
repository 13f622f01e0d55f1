/* dlopen through a pointer from dlsym, the program having an address-taken function. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>
#include <stdlib.h>
static void bye(void) { write(1, "bye\n", 4); }
int main(void) {
	void *(*op)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");
	atexit(bye);
	if (op) op("libm.so.6", RTLD_NOW);
	write(1, "x\n", 2);
	exit(0);
}
