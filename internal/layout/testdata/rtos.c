/* A FreeRTOS-style application: task stacks and task control blocks are
 * static arrays in .bss (as with configSUPPORT_STATIC_ALLOCATION), next to
 * each other and to the kernel's own variables; the main stack (MSP, used
 * by main before the scheduler starts and by every interrupt) is placed
 * by the linker script. */
#include <stdint.h>

typedef uint32_t StackType_t;
typedef struct {
    volatile StackType_t *pxTopOfStack;
    uint32_t uxPriority;
    char pcTaskName[12];
} TCB_t;

static StackType_t uxIdleTaskStack[128];
static TCB_t xIdleTaskTCB;
static StackType_t xSensorTaskStack[256];
static TCB_t xSensorTaskTCB;
static StackType_t xCommsTaskStack[192];
static TCB_t xCommsTaskTCB;
TCB_t *volatile pxCurrentTCB;
volatile uint32_t xTickCount;

__attribute__((noinline)) static void create_task(TCB_t *tcb, StackType_t *stack, uint32_t depth, uint32_t prio, const char *name)
{
    tcb->pxTopOfStack = stack + depth - 16;
    tcb->uxPriority = prio;
    for (int i = 0; i < 11 && name[i]; i++)
        tcb->pcTaskName[i] = name[i];
}

void SysTick_Handler(void)
{
    xTickCount++;
    pxCurrentTCB = (xTickCount & 1) ? &xSensorTaskTCB : &xCommsTaskTCB;
}

int main(void)
{
    create_task(&xIdleTaskTCB, uxIdleTaskStack, 128, 0, "IDLE");
    create_task(&xSensorTaskTCB, xSensorTaskStack, 256, 2, "sensor");
    create_task(&xCommsTaskTCB, xCommsTaskStack, 192, 1, "comms");
    pxCurrentTCB = &xIdleTaskTCB;
    for (;;)
        ;
}
