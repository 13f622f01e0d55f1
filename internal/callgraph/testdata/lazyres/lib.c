/* A library built without -z now: the program's first call of lib_fn
 * goes through ld.so's lazy-binding resolver (lazyresolver_test.go). */
int lib_fn(int x)
{
	return x * 3 + 1;
}
