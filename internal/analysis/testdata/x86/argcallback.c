/* A program that calls tfind with a comparator of its own: a constant
   (lea rdx,[rip+by_len]) unless built with -DPICK, where the comparator
   depends on argc. glibc's __tfind calls its comparator argument; the
   analysis links that call to the constants its callers pass
   (TestArgumentCallbacks). */
#include <search.h>
#include <string.h>
#include <unistd.h>

static int by_len(const void *a, const void *b) {
	volatile char scratch[200];
	scratch[0] = 0;
	return (int)strlen(a) - (int)strlen(b) + scratch[0];
}

static int by_str(const void *a, const void *b) { return strcmp(a, b); }

int main(int argc, char **argv) {
	void *root = 0;
#ifdef PICK
	int (*cmp)(const void *, const void *) = argc > 1 ? by_len : by_str;
#else
	int (*cmp)(const void *, const void *) = by_len;
	(void)by_str;
#endif
	void *found = tfind(argv[0], &root, cmp);
	write(1, found ? "y\n" : "n\n", 2);
	return 0;
}
