/* A FreeRTOS application for the static-allocation hooks (issue 12, item
 * 6): configSUPPORT_STATIC_ALLOCATION=1, and the kernel gets the idle and
 * timer tasks' stacks from vApplicationGetIdleTaskMemory and
 * vApplicationGetTimerTaskMemory through out-parameters. Built by
 * testutil.BuildFreeRTOS with the shared startup, board and config.
 *
 * -DIDLE_WORDS=N, -DTIMER_WORDS=N: the hooks' static stacks (words).
 * -DRUNTIME_HOOKS=1: the hooks choose the buffer and its size at run time
 *   (a volatile index into tables): stackscope cannot know them.
 * -DTINY_WORDS=N: the stack of a task created with xTaskCreateStatic whose
 *   own frame needs more (an overflow stackscope must report).
 * Other tasks: one xTaskCreate'd, one xTaskCreateStatic'd with a large
 * stack, and a software timer. The assert handler only stops. */
#include <stdint.h>

#include "FreeRTOS.h"
#include "task.h"
#include "timers.h"

#ifndef IDLE_WORDS
#define IDLE_WORDS 1024
#endif
#ifndef TIMER_WORDS
#define TIMER_WORDS 1024
#endif
#ifndef TINY_WORDS
#define TINY_WORDS 64
#endif
#define WORKER_WORDS 1024
#define BIG_WORDS 1024

volatile uint32_t sink;

void vAssertCalled(const char *file, int line)
{
    (void)file;
    (void)line;
    taskDISABLE_INTERRUPTS();
    for (;;)
        ;
}

__attribute__((noinline)) static void fill(volatile uint8_t *buf, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i + sink);
}

static void worker_task(void *p)
{
    volatile uint8_t buf[128];
    for (;;) {
        fill(buf, sizeof buf);
        vTaskDelay((TickType_t)(uintptr_t)p);
    }
}

static void big_task(void *p)
{
    volatile uint8_t buf[256];
    for (;;) {
        fill(buf, sizeof buf);
        vTaskDelay((TickType_t)(uintptr_t)p);
    }
}

/* Its frame alone is larger than its TINY_WORDS-word stack. */
static void tiny_task(void *p)
{
    volatile uint8_t buf[1024];
    for (;;) {
        fill(buf, sizeof buf);
        vTaskDelay((TickType_t)(uintptr_t)p);
    }
}

static void on_timer(TimerHandle_t t)
{
    sink += (uint32_t)(uintptr_t)pvTimerGetTimerID(t);
}

static StackType_t big_stack[BIG_WORDS];
static StaticTask_t big_tcb;
static StackType_t tiny_stack[TINY_WORDS];
static StaticTask_t tiny_tcb;

static StaticTask_t idle_tcb;
static StaticTask_t timer_tcb;

#if RUNTIME_HOOKS
/* Two candidate stacks each, picked at run time. */
static StackType_t idle_stacks[2][IDLE_WORDS];
static StackType_t timer_stacks[2][TIMER_WORDS];
static const configSTACK_DEPTH_TYPE sizes[2] = {IDLE_WORDS, IDLE_WORDS / 2};
static const configSTACK_DEPTH_TYPE timer_sizes[2] = {TIMER_WORDS, TIMER_WORDS / 2};
volatile int board_variant;

void vApplicationGetIdleTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    int i = board_variant & 1;
    *tcb = &idle_tcb;
    *stack = idle_stacks[i];
    *words = sizes[i];
}

void vApplicationGetTimerTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    int i = board_variant & 1;
    *tcb = &timer_tcb;
    *stack = timer_stacks[i];
    *words = timer_sizes[i];
}
#else
static StackType_t idle_stack[IDLE_WORDS];
static StackType_t timer_stack[TIMER_WORDS];

void vApplicationGetIdleTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    *tcb = &idle_tcb;
    *stack = idle_stack;
    *words = IDLE_WORDS;
}

void vApplicationGetTimerTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    *tcb = &timer_tcb;
    *stack = timer_stack;
    *words = TIMER_WORDS;
}
#endif

int main(void)
{
    xTaskCreate(worker_task, "worker", WORKER_WORDS, (void *)10, 1, NULL);
    xTaskCreateStatic(big_task, "big", BIG_WORDS, (void *)20, 2, big_stack, &big_tcb);
    xTaskCreateStatic(tiny_task, "tiny", TINY_WORDS, (void *)30, 1, tiny_stack, &tiny_tcb);
    TimerHandle_t t = xTimerCreate("tick", 100, pdTRUE, (void *)1, on_timer);
    if (t != NULL)
        xTimerStart(t, 0);
    vTaskStartScheduler();
    for (;;)
        ;
}
