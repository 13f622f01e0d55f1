/* Task stack sizes that come back through out-parameters, without an RTOS:
   a local is initialised to 0, its address is passed to a function that
   stores the size into it, then the local is the task's stack depth. The
   0 stored before the call must never be taken for the size.
   - get_depth stores the constant DEPTH_WORDS on every path: the size is
     DEPTH_WORDS words;
   - get_depth_runtime stores a value read at run time: unknown;
   - get_depth_sometimes stores only on one path: unknown;
   - remember keeps the address in a global and later stores DEPTH_WORDS
     through it: the call of later, which gets no argument, changes it.
   A minimal fake xTaskCreate (depth in words) stands for the kernel.
   Build: arm-none-eabi-gcc -mthumb -mcpu=cortex-m3 -O2 -fstack-usage
   --specs=nosys.specs -nostartfiles -T ../thumb/link.ld -DDEPTH_WORDS=300
   -o outparam.elf outparam.c */
#include <stdint.h>

#ifndef DEPTH_WORDS
#define DEPTH_WORDS 300
#endif

typedef void (*TaskFunction_t)(void *);

extern uint32_t _estack;
void Reset_Handler(void);

__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {(void (*)(void))&_estack, Reset_Handler};

static uint32_t created[8];
static int ncreated;

__attribute__((noinline)) long xTaskCreate(TaskFunction_t fn, const char *name, uint32_t depth,
					   void *params, uint32_t prio, void **handle)
{
	if (ncreated == 8)
		return 0;
	created[ncreated++] = depth + prio + (uint32_t)name[0];
	if (handle)
		*handle = (void *)fn;
	return params != 0;
}

volatile uint32_t configured_depth = 200;
volatile int use_default;

/* noipa: the caller must not see these bodies; the size really comes back
   through memory. */
__attribute__((noipa)) void get_depth(uint32_t *words)
{
	*words = DEPTH_WORDS;
}

__attribute__((noipa)) void get_depth_runtime(uint32_t *words)
{
	*words = configured_depth;
}

__attribute__((noipa)) void get_depth_sometimes(uint32_t *words)
{
	if (use_default)
		*words = DEPTH_WORDS;
}

static uint32_t *remembered;

__attribute__((noipa)) void remember(uint32_t *words)
{
	remembered = words;
}

__attribute__((noipa)) void later(void)
{
	*remembered = DEPTH_WORDS;
}

volatile uint32_t sink;

__attribute__((noinline)) void work(volatile uint8_t *buf, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i + sink);
}

void const_task(void *p)
{
	volatile uint8_t buf[64];
	for (;;)
		work(buf, sizeof buf + (uint32_t)p);
}

void runtime_task(void *p)
{
	volatile uint8_t buf[64];
	for (;;)
		work(buf, sizeof buf + (uint32_t)p);
}

void sometimes_task(void *p)
{
	volatile uint8_t buf[64];
	for (;;)
		work(buf, sizeof buf + (uint32_t)p);
}

void later_task(void *p)
{
	volatile uint8_t buf[64];
	for (;;)
		work(buf, sizeof buf + (uint32_t)p);
}

int main(void)
{
	uint32_t a = 0, b = 0, c = 0, d = 0;
	get_depth(&a);
	xTaskCreate(const_task, "const", a, 0, 1, 0);
	get_depth_runtime(&b);
	xTaskCreate(runtime_task, "runtime", b, 0, 1, 0);
	get_depth_sometimes(&c);
	xTaskCreate(sometimes_task, "sometimes", c, 0, 1, 0);
	remember(&d);
	later();
	xTaskCreate(later_task, "later", d, 0, 1, 0);
	for (;;)
		;
}

void Reset_Handler(void)
{
	main();
	for (;;)
		;
}
