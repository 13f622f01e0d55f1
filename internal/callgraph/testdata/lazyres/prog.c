/* Built with -z now: work's call of lib_fn is bound at load time, and the
 * lazy slot the resolver runs for is the library's (lib.c), the case the
 * resolver model covers. work calls lib_fn once, not as a tail call: the
 * test measures, under gdb, the SP at work's entry and at _dl_fixup's,
 * which the resolver calls. */
int lib_fn(int);

__attribute__((noinline)) int work(int x)
{
	return lib_fn(x) + 1;
}

int main(int argc, char **argv)
{
	(void)argv;
	return work(argc) == 6 ? 0 : 1;
}
