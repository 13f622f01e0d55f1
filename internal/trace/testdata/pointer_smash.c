/* An overrun from an alloca'd buffer runs up through victim's frame: it
 * overwrites the local pointer target (and, when long enough, victim's
 * stack-protector canary) and the program crashes in use(), dereferencing
 * the overwritten pointer, before victim returns to check its canary.
 * Argument: the number of bytes copied into the 16-byte buffer. */
#include <alloca.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) void use(char *p) { p[0] = 1; puts(p); }
__attribute__((noinline)) void victim(size_t n) {
	char *buf = alloca(16);
	char *volatile target = buf;
	char src[512];
	memset(src, 'A', sizeof src);
	memcpy(buf, src, n); /* n > 16 overruns buf upward through the frame */
	use(target);
}
int main(int argc, char **argv) { victim(argc > 1 ? (size_t)atoi(argv[1]) : 8); return 0; }
