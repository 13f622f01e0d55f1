/* A bare-metal RISC-V program for layout's tests: .bss objects (what an
 * overflow of the stack above them corrupts) and a 512-byte frame. */
volatile int ticks;
char log_buf[64];

__attribute__((noinline)) int work(int n)
{
	volatile char buf[512];
	buf[n] = (char)n;
	return buf[0] + ticks;
}

int main(void)
{
	log_buf[0] = 1;
	return work(3);
}
