/* An exit handler registered through dlsym's pointer to on_exit: exit runs
   big_handler (64 KiB), which no direct call registers (TestDlsymExitHandler).
   gcc -O2 -Wl,-z,now onexit_dlsym.c */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void big_handler(int status, void *arg) {
	volatile char buf[65536];
	(void)arg;
	memset((char *)buf, status, sizeof buf);
	write(1, (char *)buf + 100, 1);
}
int main(void) {
	int (*reg)(void (*)(int, void *), void *) = (int (*)(void (*)(int, void *), void *))dlsym(RTLD_DEFAULT, "on_exit");
	if (reg)
		reg(big_handler, 0);
	exit(0);
}
