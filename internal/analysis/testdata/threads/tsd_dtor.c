/* A thread whose start routine is shallow but whose thread-specific data
   destructor has a large frame: glibc's start_thread calls the destructor
   (through __nptl_deallocate_tsd) after the routine returns, on the
   thread's own stack. The thread gets a 32 KiB stack; the routine needs a
   few hundred bytes, the destructor DTOR_BYTES.

   Built with -DNO_DTOR the key has no destructor: the control.

   Run, it prints one line: the thread's stack (lowest and highest address:
   a static array given with pthread_attr_setstack), the destructor's frame
   address and its SP (x86-64). The destructor writes only the array's
   highest byte and calls nothing, so the program does not crash even
   though its SP is below the stack: the line is the measurement. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#ifndef DTOR_BYTES
#define DTOR_BYTES 30720
#endif

static pthread_key_t key;
static char thread_stack[32768] __attribute__((aligned(4096)));
static volatile uintptr_t dtor_frame, dtor_sp;

__attribute__((noinline)) static void big_destructor(void *p)
{
	volatile char buf[DTOR_BYTES];
	buf[DTOR_BYTES - 1] = (char)(uintptr_t)p;
	uintptr_t sp;
	/* the destructor's SP inside its body (a leaf: its deepest) */
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	dtor_sp = sp;
	dtor_frame = (uintptr_t)__builtin_frame_address(0);
}

static void *worker(void *arg)
{
	pthread_setspecific(key, arg);
	return NULL;
}

int main(void)
{
	pthread_t t;
	pthread_attr_t attr;
#ifdef NO_DTOR
	if (pthread_key_create(&key, NULL) != 0)
		return 2;
#else
	if (pthread_key_create(&key, big_destructor) != 0)
		return 2;
#endif
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, thread_stack, sizeof thread_stack);
	if (pthread_create(&t, &attr, worker, (void *)1) != 0)
		return 3;
	pthread_join(t, NULL);
	printf("stack %#lx %#lx dtor %#lx sp %#lx\n", (unsigned long)(uintptr_t)thread_stack,
	       (unsigned long)(uintptr_t)(thread_stack + sizeof thread_stack),
	       (unsigned long)dtor_frame, (unsigned long)dtor_sp);
	return 0;
}
