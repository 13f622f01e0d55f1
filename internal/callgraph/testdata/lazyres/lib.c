/* A library built without -z now: its call of lib_inner (in a second
 * library) goes through its lazily bound PLT slot, so the program's first
 * call of lib_fn runs ld.so's lazy-binding resolver (lazyresolver_test.go).
 * Not a tail call: the test measures the stack under it. */
int lib_inner(int);

int lib_fn(int x)
{
	return lib_inner(x * 3) + 1;
}
