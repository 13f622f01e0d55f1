/* Calls libspillcb's apply_all with the constant callback shallow. deep
   has its address taken too (in a volatile global), so the program's
   address-taken set is {shallow, deep}: only the constant argument
   narrows apply_all's call to shallow (TestSpilledCallback). Built with
   -DLEAK it calls apply_leak instead, which passes a frame address on. */
int apply_all(int (*cb)(int), int n);
int apply_leak(int (*cb)(int), int n);

static int shallow(int i) { return i + 1; }

static int deep(int i) {
	volatile char buf[512];
	buf[i & 511] = (char)i;
	return buf[(i + 1) & 511];
}

int (*volatile keep)(int) = deep;

int main(int argc, char **argv) {
	(void)argv;
#ifdef LEAK
	return apply_leak(shallow, argc) + 1;
#else
	return apply_all(shallow, argc) + 1;
#endif
}
