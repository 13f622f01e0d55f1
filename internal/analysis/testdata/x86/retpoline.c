/* main calls through a function pointer that may point to a 4 KiB
 * function (TestX86Retpoline): built plainly and with GCC's retpoline
 * options, its bound must be the same and reach big. */
__attribute__((noinline)) int big(int x)
{
	volatile char buf[4096];
	for (int i = 0; i < 4096; i++)
		buf[i] = (char)(x + i);
	return buf[x & 4095];
}

__attribute__((noinline)) int small(int x)
{
	return x + 1;
}

int (*fp)(int) = big;

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 5)
		fp = small;
	int r = fp(argc);
	return r * 3 + argc;
}
