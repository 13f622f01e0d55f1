/* A FreeRTOS application for stackscope's RISC-V tests, built by
 * testutil.BuildFreeRTOS with the port portable/GCC/RISC-V, start_riscv.S
 * and board_riscv.ld: two tasks created dynamically, one statically, a
 * software timer, a queue, configASSERT calling an assert handler, and the
 * static-allocation hooks for the idle and timer tasks.
 *
 * -DCONTROL_STACK_WORDS=N sets the static task's stack (words), and
 * -DSENSOR_STACK_WORDS=N the sensor task's; the defaults are large enough.
 * -DISR_WORK=N gives the port's interrupt hook a buffer of N words. */
#include <stdint.h>

#include "FreeRTOS.h"
#include "queue.h"
#include "semphr.h"
#include "task.h"
#include "timers.h"

#ifndef CONTROL_STACK_WORDS
#define CONTROL_STACK_WORDS 256
#endif
#ifndef SENSOR_STACK_WORDS
#define SENSOR_STACK_WORDS 200
#endif

static QueueHandle_t samples;
static SemaphoreHandle_t ready;
static TimerHandle_t heartbeat;
static volatile uint32_t ticks_seen;

void vAssertCalled(const char *file, int line)
{
    (void)file;
    (void)line;
    taskDISABLE_INTERRUPTS();
    for (;;)
        ;
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

static void producer_task(void *arg)
{
    (void)arg;
    for (uint32_t i = 0;; i++) {
        xQueueSend(samples, &i, portMAX_DELAY);
        xSemaphoreGive(ready);
        vTaskDelay(1);
    }
}

static void control_task(void *arg)
{
    (void)arg;
    for (;;) {
        if (xSemaphoreTake(ready, portMAX_DELAY) == pdPASS) {
            configASSERT(ticks_seen != 0xFFFFFFFFu);
            ticks_seen++;
        }
    }
}

#ifdef ISR_WORK
/* The port's hook for interrupts other than the machine timer, called on
 * the ISR stack (xISRStack): a handler with a buffer of its own. */
void freertos_risc_v_application_interrupt_handler(void)
{
    volatile uint32_t scratch[ISR_WORK];
    for (int i = 0; i < ISR_WORK; i++)
        scratch[i] = ticks_seen + (uint32_t)i;
    ticks_seen += scratch[ISR_WORK - 1];
}
#endif

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

int main(void)
{
    samples = xQueueCreate(8, sizeof(uint32_t));
    ready = xSemaphoreCreateBinary();
    configASSERT(samples != NULL && ready != NULL);

    xTaskCreate(sensor_task, "sensor", SENSOR_STACK_WORDS, NULL, 2, NULL);
    xTaskCreate(producer_task, "producer", configMINIMAL_STACK_SIZE * 2, NULL, 1, NULL);
    xTaskCreateStatic(control_task, "control", CONTROL_STACK_WORDS, NULL, 3, control_stack, &control_tcb);

    heartbeat = xTimerCreate("beat", pdMS_TO_TICKS(50), pdTRUE, NULL, heartbeat_cb);
    configASSERT(heartbeat != NULL);
    xTimerStart(heartbeat, 0);

    vTaskStartScheduler();
    for (;;)
        ;
}
