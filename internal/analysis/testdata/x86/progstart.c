/* progstart.c: a program whose main reaches only its own functions, so
 * that main's bound is the sum of GCC's .su frames along one path
 * (main -> mid -> leaf), stripped or not. Built by TestProgramStart with
 * gcc -pie, gcc -no-pie, gcc -static and musl-gcc -static, each with and
 * without -s. A constructor and a destructor fill .init_array and
 * .fini_array, which the model of __libc_start_main calls. */
static volatile int sink;

__attribute__((noinline)) static int leaf(volatile char *p, int n)
{
	volatile char buf[200];
	buf[n & 127] = p[0];
	return buf[(n * 3) & 127];
}

__attribute__((noinline)) static int mid(int n)
{
	volatile char buf[600];
	buf[n & 511] = (char)n;
	return leaf(buf, n) + buf[7];
}

__attribute__((noinline)) static int other(int n)
{
	volatile char buf[100];
	buf[n & 63] = 1;
	return buf[3];
}

__attribute__((constructor)) static void ctor(void) { sink = 1; }
__attribute__((destructor)) static void dtor(void) { sink = 2; }

int main(int argc, char **argv)
{
	(void)argv;
	return (mid(argc) + other(argc) + sink) & 1;
}
