/* A FreeRTOS application written for stackscope's tests (issue 12): three
 * tasks (two created dynamically, one statically), a software timer, two
 * interrupts at different NVIC priorities that talk to the tasks through
 * the FromISR API, configASSERT calling an assert handler that prints, the
 * static-allocation hooks for the idle and timer tasks, and a HardFault
 * handler that branches through a literal-pool constant as FreeRTOS's demos
 * do. Built by testutil.BuildFreeRTOS with the shared startup and board.
 *
 * -DCONTROL_STACK_WORDS=N sets the static task's stack (words); the default
 * is large enough. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "FreeRTOS.h"
#include "queue.h"
#include "semphr.h"
#include "task.h"
#include "timers.h"

#ifdef MEASURE
/* measure.c: painted stacks, a stimulus task, the peaks over semihosting. */
void measure_task(TaskHandle_t h, uint32_t words);
void measure_pend_irq(unsigned irq);
void measure_start(void);
#define MEASURE_PAINT() paint_main_stack()
#include "measure_paint.h"
#else
#define MEASURE_PAINT() do { } while (0)
#endif

#ifndef CONTROL_STACK_WORDS
#define CONTROL_STACK_WORDS 256
#endif
#define SENSOR_STACK_WORDS 200
/* newlib's snprintf can reach __assert_func (a failed Balloc in dtoa),
 * which prints to the unbuffered stderr through __sbprintf's 1 KiB
 * buffer: about 2 KiB on that path, more than the task needs otherwise. */
#define LOGGER_STACK_WORDS 640

/* The NVIC's interrupt priority registers, one byte per IRQ on ARMv7-M,
 * word access only on ARMv6-M. */
#define NVIC_IPR ((volatile uint32_t *)0xE000E400UL)
#define NVIC_ISER ((volatile uint32_t *)0xE000E100UL)
#define PRIO_SHIFT (8 - configPRIO_BITS)

static inline void set_irq_priority(unsigned irq, unsigned prio)
{
    unsigned shift = (irq & 3u) * 8u;
    uint32_t v = NVIC_IPR[irq >> 2];
    v &= ~(0xFFu << shift);
    v |= ((prio << PRIO_SHIFT) & 0xFFu) << shift;
    NVIC_IPR[irq >> 2] = v;
}

static inline void enable_irq(unsigned irq)
{
    NVIC_ISER[irq >> 5] = 1u << (irq & 31u);
}

static QueueHandle_t samples;
static SemaphoreHandle_t rx_ready;
static TimerHandle_t heartbeat;
static volatile uint32_t ticks_seen;
static volatile uint32_t uart_data;

void vAssertCalled(const char *file, int line)
{
    taskDISABLE_INTERRUPTS();
    printf("assertion failed at %s:%d\n", file, line);
    for (;;)
        ;
}

/* IRQ0: a receive interrupt, priority 6 (below the syscall ceiling 5). */
void IRQ0_Handler(void)
{
    BaseType_t woken = pdFALSE;
    uart_data++;
    xSemaphoreGiveFromISR(rx_ready, &woken);
#ifdef MEASURE
    measure_pend_irq(1); /* IRQ1 has the higher priority: it nests here */
#endif
    portYIELD_FROM_ISR(woken);
}

/* IRQ1: a sampling timer, priority 5: it can preempt IRQ0. */
void IRQ1_Handler(void)
{
    BaseType_t woken = pdFALSE;
    uint32_t sample[4];
    for (int i = 0; i < 4; i++)
        sample[i] = ticks_seen * (uint32_t)i;
    xQueueSendFromISR(samples, &sample[ticks_seen & 3u], &woken);
    portYIELD_FROM_ISR(woken);
}

static uint32_t filter(const uint32_t *v, int n)
{
    uint32_t window[32];
    uint32_t acc = 0;
    for (int i = 0; i < n && i < 32; i++) {
        window[i] = v[i] ^ (uint32_t)i;
        acc += window[i] / (uint32_t)(i + 1);
    }
    return acc + window[n > 0 ? (n - 1) & 31 : 0];
}

static void sensor_task(void *arg)
{
    (void)arg;
    uint32_t buf[16];
    int n = 0;
    for (;;) {
        uint32_t v;
        if (xQueueReceive(samples, &v, pdMS_TO_TICKS(10)) == pdPASS) {
            buf[n++ & 15] = v;
            ticks_seen += filter(buf, n < 16 ? n : 16);
        }
    }
}

static void control_task(void *arg)
{
    (void)arg;
    for (;;) {
        if (xSemaphoreTake(rx_ready, portMAX_DELAY) == pdPASS) {
            configASSERT(uart_data != 0);
            ticks_seen++;
        }
    }
}

static void logger_task(void *arg)
{
    char line[64];
    (void)arg;
    for (;;) {
        snprintf(line, sizeof line, "ticks %lu data %lu", (unsigned long)ticks_seen, (unsigned long)uart_data);
        puts(line);
        vTaskDelay(pdMS_TO_TICKS(100));
    }
}

static void heartbeat_cb(TimerHandle_t t)
{
    (void)t;
    ticks_seen++;
}

static StaticTask_t control_tcb;
static StackType_t control_stack[CONTROL_STACK_WORDS];

/* The static-allocation hooks: the kernel asks for the idle and timer
 * tasks' memory through out-parameters. */
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

/* Where the HardFault handler lands: the stacked registers, for a debugger. */
void hard_fault_report(uint32_t *stacked)
{
    volatile uint32_t pc = stacked[6];
    volatile uint32_t lr = stacked[5];
    (void)pc;
    (void)lr;
    for (;;)
        ;
}

#ifdef STACKLESS_HARDFAULT
/* The handler the article behind this project recommends: naked, it
 * compares SP with the stack's limit and, on an overflow, puts SP back at
 * the top of the main stack before it calls C code that must not return. */
void fault_report(const char *what, uint32_t code)
{
    volatile char copy[48];
    for (int i = 0; i < 47 && what[i]; i++)
        copy[i] = what[i];
    (void)code;
    hard_fault_report((uint32_t *)(uintptr_t)copy);
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        " mov r0, sp                  \n"
        " ldr r1, =__StackLimit       \n"
        " cmp r0, r1                  \n"
        " bcs 1f                      \n"
        " ldr r0, =_estack            \n"
        " mov sp, r0                  \n"
        " ldr r0, =str_overflow       \n"
        " movs r1, #1                 \n"
        " b fault_report              \n"
        "1:                           \n"
        " ldr r0, =str_hardfault      \n"
        " movs r1, #2                 \n"
        " b fault_report              \n"
        " .ltorg                      \n"
        "str_overflow: .asciz \"StackOverflow\" \n"
        "str_hardfault: .asciz \"HardFault\" \n"
        " .align 1                    \n");
}
#else
/* As FreeRTOS's demos write it: pick the stack that holds the exception
 * frame, then branch to the C function through a literal-pool constant. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        " movs r0, #4                 \n"
        " mov r1, lr                  \n"
        " tst r0, r1                  \n"
        " beq 1f                      \n"
        " mrs r0, psp                 \n"
        " b 2f                        \n"
        "1:                           \n"
        " mrs r0, msp                 \n"
        "2:                           \n"
        " ldr r2, report_address      \n"
        " bx r2                       \n"
        " .align 2                    \n"
        "report_address: .word hard_fault_report \n");
}
#endif

int main(void)
{
    MEASURE_PAINT();
    samples = xQueueCreate(8, sizeof(uint32_t));
    rx_ready = xSemaphoreCreateBinary();
    configASSERT(samples != NULL && rx_ready != NULL);

    set_irq_priority(0, 6);
    set_irq_priority(1, 5);
    enable_irq(0);
    enable_irq(1);

    TaskHandle_t sensor, logger, control;
    xTaskCreate(sensor_task, "sensor", SENSOR_STACK_WORDS, NULL, 2, &sensor);
    xTaskCreate(logger_task, "logger", LOGGER_STACK_WORDS, NULL, 1, &logger);
    control = xTaskCreateStatic(control_task, "control", CONTROL_STACK_WORDS, NULL, 3, control_stack, &control_tcb);
#ifdef MEASURE
    measure_task(sensor, SENSOR_STACK_WORDS);
    measure_task(logger, LOGGER_STACK_WORDS);
    measure_task(control, CONTROL_STACK_WORDS);
    measure_start();
#else
    (void)sensor, (void)logger, (void)control;
#endif
    heartbeat = xTimerCreate("beat", pdMS_TO_TICKS(50), pdTRUE, NULL, heartbeat_cb);
    configASSERT(heartbeat != NULL);
    xTimerStart(heartbeat, 0);

    vTaskStartScheduler();
    for (;;)
        ;
}
