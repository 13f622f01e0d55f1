/* A library that calls the callback its caller passes, two levels down
 * (as glibc's pthread_once -> __pthread_once_slow -> init routine): each
 * level does work after its call, so no call is a tail call.
 * Built: gcc -O2 -fPIC -shared -fstack-usage -Wl,-z,now -o libctxcb.so ctxcb_lib.c */
volatile int ctxcb_calls;

__attribute__((noinline)) static void run_cb_slow(void (*f)(void))
{
	f();
	ctxcb_calls++;
}

void run_cb(void (*f)(void))
{
	run_cb_slow(f);
	ctxcb_calls++;
}

/* A run-time sized frame: a reason that each caller's copy of the
 * function has, and that an entry calling it twice lists once. */
void run_cb_vla(void (*f)(void), int n)
{
	volatile char a[n];
	a[0] = 0;
	f();
	ctxcb_calls += a[0];
}
