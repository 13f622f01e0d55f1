/* The function lib_fn (lib.c) reaches through its lazy slot. */
int lib_inner(int x)
{
	return x + 1;
}
