/* work calls lib_fn once, through a lazily bound PLT slot, and not as a
 * tail call: the test measures, under gdb, the SP at work's entry and at
 * _dl_fixup's, which the resolver calls. */
int lib_fn(int);

__attribute__((noinline)) int work(int x)
{
	return lib_fn(x) + 1;
}

int main(int argc, char **argv)
{
	(void)argv;
	return work(argc) == 5 ? 0 : 1;
}
