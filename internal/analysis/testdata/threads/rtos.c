/* A FreeRTOS-style Cortex-M firmware with a minimal fake task API: tasks
   created with xTaskCreate (stack depth in words) and xTaskCreateStatic
   (a stack buffer of its own). Self-contained: vector table, reset, main.
   Build: arm-none-eabi-gcc -mthumb -mcpu=cortex-m3 -O2 -fstack-usage
   --specs=nosys.specs -nostartfiles -T ../thumb/link.ld -o rtos.elf rtos.c */
#include <stdint.h>

typedef void (*TaskFunction_t)(void *);
typedef uint32_t StackType_t;
typedef struct { uint32_t opaque[24]; } StaticTask_t;
typedef void *TaskHandle_t;

extern uint32_t _estack;
void Reset_Handler(void);

__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {(void (*)(void))&_estack, Reset_Handler};

/* ---- the fake kernel ---- */
struct tcb { TaskFunction_t fn; const char *name; uint32_t depth; void *params; StackType_t *stack; };
static struct tcb tasks[8];
static int ntasks;
static StackType_t heap[2048];
static uint32_t heap_used;

__attribute__((noinline)) long xTaskCreate(TaskFunction_t fn, const char *name, uint16_t depth,
					   void *params, uint32_t prio, TaskHandle_t *handle)
{
	if (ntasks == 8 || heap_used + depth > 2048)
		return 0;
	struct tcb *t = &tasks[ntasks++];
	t->fn = fn, t->name = name, t->depth = depth, t->params = params, t->stack = &heap[heap_used];
	heap_used += depth;
	if (handle)
		*handle = t;
	return prio != 0;
}

__attribute__((noinline)) TaskHandle_t xTaskCreateStatic(TaskFunction_t fn, const char *name, uint32_t depth,
							  void *params, uint32_t prio, StackType_t *stack,
							  StaticTask_t *tcb)
{
	if (ntasks == 8)
		return 0;
	struct tcb *t = &tasks[ntasks++];
	t->fn = fn, t->name = name, t->depth = depth + prio, t->params = params, t->stack = stack;
	tcb->opaque[0] = (uint32_t)t;
	return t;
}

__attribute__((noinline)) void vTaskDelay(uint32_t ticks)
{
	static volatile uint32_t now;
	now += ticks;
}

/* ---- the application ---- */
volatile uint32_t sink;

__attribute__((noinline)) void work(volatile uint8_t *buf, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i + sink);
}

void sensor_task(void *p)
{
	volatile uint8_t samples[600];
	for (;;) {
		work(samples, sizeof samples);
		vTaskDelay((uint32_t)p);
	}
}

void logger_task(void *p)
{
	volatile uint8_t line[64];
	for (;;) {
		work(line, sizeof line);
		vTaskDelay((uint32_t)p);
	}
}

void comm_task(void *p)
{
	volatile uint8_t frame[128];
	for (;;) {
		work(frame, sizeof frame);
		vTaskDelay((uint32_t)p);
	}
}

static StackType_t comm_stack[200];
static StaticTask_t comm_tcb;

int main(void)
{
	TaskHandle_t h;
	xTaskCreate(sensor_task, "sensor", 128, (void *)5, 2, &h);
	xTaskCreate(logger_task, "logger", 256, (void *)50, 1, 0);
	xTaskCreateStatic(comm_task, "comm", 200, (void *)10, 3, comm_stack, &comm_tcb);
	for (;;)
		vTaskDelay(1);
}

void Reset_Handler(void)
{
	main();
	for (;;)
		;
}
