/* Measurement for the FreeRTOS test application (built with -DMEASURE=1
 * together with app.c), run in QEMU (mps2-an385/an386) by the tests: the
 * main stack is painted at the start of main, the kernel paints every task
 * stack (INCLUDE_uxTaskGetStackHighWaterMark), a stimulus task pends the
 * two IRQs (IRQ0 pends IRQ1 from inside, so that they nest), and after a
 * while the peaks are printed through semihosting and QEMU is told to exit:
 *   MEASURE main=<bytes> sensor=<bytes> ...
 * A peak is the bytes from the stack's top down to the lowest word that
 * is no longer the paint. */
#include <stdint.h>

#include "FreeRTOS.h"
#include "task.h"

#define PAINT 0xDEADBEEFu

extern uint32_t __StackLimit, _estack;

static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

static uint32_t main_stack_peak(void)
{
    uint32_t *p = &__StackLimit;
    while (p < &_estack && *p == PAINT)
        p++;
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
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

#define MAX_MEASURED 8
static TaskHandle_t measured[MAX_MEASURED];
static uint32_t measured_words[MAX_MEASURED];
static int n_measured;

void measure_task(TaskHandle_t h, uint32_t words)
{
    if (n_measured < MAX_MEASURED) {
        measured[n_measured] = h;
        measured_words[n_measured] = words;
        n_measured++;
    }
}

#define NVIC_ISPR ((volatile uint32_t *)0xE000E200UL)

void measure_pend_irq(unsigned irq)
{
    NVIC_ISPR[irq >> 5] = 1u << (irq & 31u);
}

static void stimulus_task(void *arg)
{
    static char line[256];
    (void)arg;
    for (int i = 0; i < 40; i++) {
        measure_pend_irq(0);
        vTaskDelay(2);
    }
    char *o = put_str(line, "MEASURE main=");
    o = put_uint(o, main_stack_peak());
    for (int i = 0; i < n_measured; i++) {
        o = put_str(o, " ");
        o = put_str(o, pcTaskGetName(measured[i]));
        o = put_str(o, "=");
        UBaseType_t free_words = uxTaskGetStackHighWaterMark(measured[i]);
        o = put_uint(o, (measured_words[i] - free_words) * sizeof(StackType_t));
    }
    o = put_str(o, "\n");
    *o = 0;
    semihost(0x04, line);  /* SYS_WRITE0 */
    /* SYS_EXIT; on AArch32 the argument is the reason code itself. */
    semihost(0x18, (const void *)0x20026); /* ADP_Stopped_ApplicationExit */
    for (;;)
        ;
}

void measure_start(void)
{
    static StaticTask_t tcb;
    static StackType_t stack[256];
    TaskHandle_t h = xTaskCreateStatic(stimulus_task, "stimulus", 256, NULL, 4, stack, &tcb);
    measure_task(h, 256);
}
