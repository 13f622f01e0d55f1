/* The callees of drap.c, in their own file (see there). */
void use(void *p, int n)
{
	__asm__ volatile("" : : "r"(p), "r"(n) : "memory");
}

int twice(int x)
{
	return 2 * x;
}
