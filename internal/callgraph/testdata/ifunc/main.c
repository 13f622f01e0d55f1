/* See lib.c. cmp's address is taken (qsort), so that the program has an
   address-taken set that an unresolved call could be assumed to go to. */
#include <stdlib.h>
int fa(int); int fb(int); int fc(int); void set_b(void);
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
	int v[2] = {argc, 1};
	qsort(v, 2, sizeof v[0], cmp);
	set_b();
	return fa(v[0]) + fb(v[1]) + fc(argc) == 12345;
}
