/* A FreeRTOS application for stackscope's run-time task measurement (issue
 * 16), built by testutil.BuildFreeRTOS for mps2-an385 (ARM_CM3) and
 * mps2-an386 (ARM_CM4F): a producer and a consumer task talking through a
 * queue, a static "worker" task that goes deep through a chain of frames, a
 * software timer (its callback runs on the timer task), the idle task. After
 * a fixed number of rounds the "report" task prints FreeRTOS's own view of
 * every task's stack through semihosting and exits:
 *   HWM <name>=<free words> <name>=<free words> ...
 * (uxTaskGetStackHighWaterMark: the words at the stack's low end that still
 * hold the kernel's fill byte), which the test compares with stackscope.
 *
 * -DWORKER_WORDS=N sets the worker's stack (words): the default is ample;
 * a small one makes the worker's chain overflow it. -DRUNTIME_DEPTH gives
 * the producer a depth read from a volatile, which no static analysis can
 * tell. -DWORKER_LOG puts plain data right below the worker's stack.
 * Built for RISC-V (ports rv32/rv64, QEMU virt) too: only semihosting
 * differs. */
#include <stdint.h>

#include "FreeRTOS.h"
#include "queue.h"
#include "task.h"
#include "timers.h"

#ifndef WORKER_WORDS
#define WORKER_WORDS 300
#endif
#define ROUNDS 30
#ifdef RUNTIME_DEPTH
static volatile configSTACK_DEPTH_TYPE producer_words = 160;
#define PRODUCER_WORDS producer_words
#else
#define PRODUCER_WORDS 160
#endif

static QueueHandle_t items;
static volatile uint32_t sink;
static volatile uint32_t beats;

void vAssertCalled(const char *file, int line)
{
    (void)file;
    (void)line;
    taskDISABLE_INTERRUPTS();
    for (;;)
        ;
}

#ifdef __riscv
/* RISC-V semihosting: op in a0, argument in a1, and the three-instruction
 * sequence QEMU recognises, uncompressed. */
static void semihost(uintptr_t op, const void *arg)
{
    register uintptr_t a0 __asm("a0") = op;
    register const void *a1 __asm("a1") = arg;
    __asm volatile(".option push\n.option norvc\n"
                   "slli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n"
                   ".option pop"
                   : "+r"(a0) : "r"(a1) : "memory");
}
#else
static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}
#endif

/* SYS_EXIT with ApplicationExit: a 64-bit target passes a pointer to
 * {reason, subcode}, a 32-bit one the reason itself. */
static void semihost_exit(void)
{
#if defined(__riscv) && __riscv_xlen == 64
    static const uint64_t block[2] = {0x20026, 0};
    semihost(0x18, block);
#else
    semihost(0x18, (const void *)0x20026);
#endif
}

/* The worker's chain: three frames of different sizes, each noinline so
 * that the static analysis and the run see the same frames. */
__attribute__((noinline)) static uint32_t leaf(volatile uint32_t *v, int n)
{
    volatile uint32_t scratch[24];
    for (int i = 0; i < 24; i++)
        scratch[i] = v[i % n] + (uint32_t)i;
    return scratch[n % 24];
}

__attribute__((noinline)) static uint32_t middle(int n)
{
    volatile uint32_t buf[40];
    for (int i = 0; i < 40; i++)
        buf[i] = (uint32_t)(i * n);
    return leaf(buf, 40) + buf[n % 40];
}

__attribute__((noinline)) static uint32_t outer(int n)
{
    volatile uint32_t big[64];
    for (int i = 0; i < 64; i++)
        big[i] = (uint32_t)(n + i);
    return middle(n) + big[n % 64];
}

#ifdef WORKER_LOG
static void log_sink(int n);
#endif

static void worker_task(void *arg)
{
    (void)arg;
    for (int n = 0;; n++) {
        sink += outer(n);
#ifdef WORKER_LOG
        log_sink(n);
#endif
        vTaskDelay(1);
    }
}

static void producer_task(void *arg)
{
    (void)arg;
    for (uint32_t n = 0;; n++) {
        xQueueSend(items, &n, portMAX_DELAY);
        vTaskDelay(1);
    }
}

__attribute__((noinline)) static uint32_t digest(uint32_t v)
{
    volatile uint32_t acc[8];
    for (int i = 0; i < 8; i++)
        acc[i] = v * (uint32_t)(i + 1);
    return acc[v & 7];
}

static void consumer_task(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t v;
        if (xQueueReceive(items, &v, portMAX_DELAY) == pdPASS)
            sink += digest(v);
    }
}

static void beat_cb(TimerHandle_t t)
{
    (void)t;
    beats++;
}

static char *put_str(char *o, const char *s)
{
    while (*s)
        *o++ = *s++;
    return o;
}

static char *put_uint(char *o, uint32_t v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

static TaskHandle_t handles[8];
static int n_handles;

static void report_task(void *arg)
{
    static char line[256];
    (void)arg;
    vTaskDelay(ROUNDS);
    handles[n_handles++] = xTaskGetIdleTaskHandle();
    handles[n_handles++] = xTimerGetTimerDaemonTaskHandle();
    handles[n_handles++] = xTaskGetCurrentTaskHandle();
    char *o = put_str(line, "HWM");
    for (int i = 0; i < n_handles; i++) {
        o = put_str(o, " ");
        o = put_str(o, pcTaskGetName(handles[i]));
        o = put_str(o, "=");
        o = put_uint(o, (uint32_t)uxTaskGetStackHighWaterMark(handles[i]));
    }
    o = put_str(o, "\n");
    *o = 0;
    semihost(0x04, line);                  /* SYS_WRITE0 */
    semihost_exit();
    for (;;)
        ;
}

static StaticTask_t worker_tcb;
static StackType_t worker_stack[WORKER_WORDS];
#ifdef WORKER_LOG
/* -DWORKER_LOG: plain data the worker keeps, declared after its stack so
 * that GCC and ld place it right below (the injection tests check this in
 * the ELF): an overflow of the worker's stack lands in data whose
 * corruption does not crash the kernel, the silent case. */
static volatile uint32_t worker_log[128];
static void log_sink(int n)
{
    worker_log[n % 128] = sink;
}
#endif

static StaticTask_t idle_tcb;
static StackType_t idle_stack[configMINIMAL_STACK_SIZE];
void vApplicationGetIdleTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    *tcb = &idle_tcb;
    *stack = idle_stack;
    *words = configMINIMAL_STACK_SIZE;
}

static StaticTask_t timer_tcb;
static StackType_t timer_stack[configTIMER_TASK_STACK_DEPTH];
void vApplicationGetTimerTaskMemory(StaticTask_t **tcb, StackType_t **stack, configSTACK_DEPTH_TYPE *words)
{
    *tcb = &timer_tcb;
    *stack = timer_stack;
    *words = configTIMER_TASK_STACK_DEPTH;
}

int main(void)
{
    items = xQueueCreate(4, sizeof(uint32_t));
    TaskHandle_t h;
    xTaskCreate(producer_task, "producer", PRODUCER_WORDS, NULL, 2, &h);
    handles[n_handles++] = h;
    xTaskCreate(consumer_task, "consumer", 180, NULL, 3, &h);
    handles[n_handles++] = h;
    handles[n_handles++] = xTaskCreateStatic(worker_task, "worker", WORKER_WORDS, NULL, 1, worker_stack, &worker_tcb);
    xTaskCreate(report_task, "report", 256, NULL, 4, NULL);
    TimerHandle_t beat = xTimerCreate("beat", 3, pdTRUE, NULL, beat_cb);
    xTimerStart(beat, 0);
    vTaskStartScheduler();
    for (;;)
        ;
}
