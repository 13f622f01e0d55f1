/* Firmware for TestThumbExceptionReturns: indirect jumps that may or may
   not be Cortex-M exception returns.
     - PendSV_Handler switches tasks as FreeRTOS's ARM_CM0 port does: it
       saves EXC_RETURN and r4-r7 below the task's PSP, and resumes the
       next task with bx through the EXC_RETURN read from the context it
       restores (ldmia r0!, {r3-r7}; msr psp, r0; bx r3): an exception
       return, assumed (the saved word is an EXC_RETURN only because the
       code that saved it put one there);
     - SVC_Handler returns with bx through the constant 0xFFFFFFFD: an
       exception return, proved;
     - TIMER_IRQHandler writes PSP, then jumps through a word of a RAM
       table: not the restored context, an indirect jump;
     - SysTick_Handler jumps through the word right at the new PSP, above
       the restored context: an indirect jump;
     - start_task and jump_exc_thread, called from main (thread mode, on
       the main stack), have the same shapes as PendSV_Handler and
       SVC_Handler: in thread mode they are ordinary branches.
   Built by the test: arm-none-eabi-gcc -mthumb -mcpu=... -O2 -g
   -fstack-usage -nostdlib -T ../resets/link.ld fw.c */
#include <stdint.h>

extern uint32_t _estack;
void Reset_Handler(void);
void Default_Handler(void);
void SVC_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
void TIMER_IRQHandler(void);

__attribute__((section(".isr_vector"), used))
void (*const vectors[17])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Default_Handler, Default_Handler,
    0, 0, 0, 0, 0, 0, 0, SVC_Handler, 0, 0, PendSV_Handler, SysTick_Handler,
    TIMER_IRQHandler,
};

volatile uint32_t sink;
uint32_t *volatile current_sp;
void (*volatile ram_table[2])(void);

__attribute__((noinline)) void leaf(volatile uint8_t *p)
{
    volatile uint8_t buf[24];
    buf[0] = p[0];
    sink = buf[0];
}

__attribute__((noinline)) void switch_context(void)
{
    volatile uint8_t t[40];
    t[0] = 3;
    leaf(t);
}

__attribute__((naked)) void PendSV_Handler(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " mrs r0, psp              \n"
        " ldr r2, =current_sp      \n"
        " subs r0, #20             \n"
        " str r0, [r2]             \n"
        " mov r3, lr               \n"
        " stmia r0!, {r3-r7}       \n"
        " cpsid i                  \n"
        " bl switch_context        \n"
        " cpsie i                  \n"
        " ldr r2, =current_sp      \n"
        " ldr r0, [r2]             \n"
        " ldmia r0!, {r3-r7}       \n"
        " msr psp, r0              \n"
        " bx r3                    \n"
        " .ltorg                   \n");
}

__attribute__((naked)) void SVC_Handler(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " bl switch_context        \n"
        " ldr r0, =0xFFFFFFFD      \n"
        " bx r0                    \n"
        " .ltorg                   \n");
}

__attribute__((naked)) void TIMER_IRQHandler(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " ldr r0, =current_sp      \n"
        " ldr r0, [r0]             \n"
        " msr psp, r0              \n"
        " ldr r1, =ram_table       \n"
        " ldr r1, [r1]             \n"
        " bx r1                    \n"
        " .ltorg                   \n");
}

__attribute__((naked)) void SysTick_Handler(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " ldr r2, =current_sp      \n"
        " ldr r0, [r2]             \n"
        " ldmia r0!, {r4-r7}       \n"
        " msr psp, r0              \n"
        " ldr r3, [r0]             \n"
        " bx r3                    \n"
        " .ltorg                   \n");
}

__attribute__((naked, noinline)) void start_task(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " ldr r2, =current_sp      \n"
        " ldr r0, [r2]             \n"
        " ldmia r0!, {r3-r7}       \n"
        " msr psp, r0              \n"
        " bx r3                    \n"
        " .ltorg                   \n");
}

__attribute__((naked, noinline)) void jump_exc_thread(void)
{
    __asm volatile(
        " .syntax unified          \n"
        " ldr r0, =0xFFFFFFF9      \n"
        " bx r0                    \n"
        " .ltorg                   \n");
}

static void task(void)
{
    for (;;)
        sink++;
}

int main(void)
{
    ram_table[0] = task;
    if (sink)
        jump_exc_thread();
    start_task();
    return 0;
}

void Reset_Handler(void)
{
    main();
    for (;;)
        ;
}

void Default_Handler(void)
{
    for (;;)
        ;
}
