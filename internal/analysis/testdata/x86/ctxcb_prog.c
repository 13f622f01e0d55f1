/* main passes run_cb a shallow callback, worker a deep one (a big local
 * array): main never runs deep.
 * Built: gcc -O2 -mno-red-zone -fstack-usage -Wl,-z,now -o prog ctxcb_prog.c -L. -lctxcb -Wl,-rpath,. */
void run_cb(void (*f)(void));
void run_cb_vla(void (*f)(void), int n);

volatile int sink;

__attribute__((noinline)) static void shallow(void)
{
	sink++;
}

__attribute__((noinline)) static void deep(void)
{
	volatile char buf[6000];
	for (int i = 0; i < (int)sizeof buf; i += 64)
		buf[i] = (char)i;
	sink += buf[sink & 4095];
}

void worker(void)
{
	run_cb(deep);
	sink++;
}

void both(void)
{
	run_cb_vla(shallow, 16);
	run_cb_vla(deep, 16);
}

int main(void)
{
	run_cb(shallow);
	return 0;
}
