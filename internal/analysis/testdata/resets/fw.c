/* Firmware for the Cortex-M stack-model tests (TestThumbStackResets): code
   that writes MSP, PSP and SP the ways RTOS ports and fault handlers do.
   RESET_KIND selects how start_first sets MSP before the scheduler phase:
   1 = the VTOR chain (FreeRTOS ARM_CM3 prvPortStartFirstTask),
   2 = a constant that is not the initial SP, 3 = a word loaded from RAM.
   SCHED_BYTES and APP_BYTES size the scheduler's and the startup's frames
   (ARMv6-M sets up frames over 508 bytes with a register: keep them below).
   Built by the test: arm-none-eabi-gcc -mthumb -mcpu=... -O2 -g
   -fstack-usage -nostdlib -T link.ld [-DRESET_KIND=N] [-DSCHED_BYTES=N -DAPP_BYTES=N]
   fw.c -lgcc */
#include <stdint.h>

#ifndef RESET_KIND
#define RESET_KIND 1
#endif

extern uint32_t _estack;
void Reset_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
void Default_Handler(void);

__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, NMI_Handler, HardFault_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler, 0, 0, PendSV_Handler, SysTick_Handler,
};

volatile uint32_t sink;
uint32_t saved_msp = 0x20007000;
uint32_t *volatile current_sp;

/* Frames the compiler reports in .su: each touches a buffer so that the
   frame stays, and calls the next so that the path is a sum of frames. */
__attribute__((noinline)) void leaf(volatile uint8_t *p)
{
    volatile uint8_t buf[24];
    buf[0] = p[0];
    sink = buf[0];
}

#ifndef APP_BYTES
#define APP_BYTES 400
#endif

__attribute__((noinline)) void app_init(void)
{
    volatile uint8_t big[APP_BYTES];
    big[0] = 1;
    leaf(big);
}

#ifndef SCHED_BYTES
#define SCHED_BYTES 96
#endif

__attribute__((noinline, noreturn)) void scheduler_run(void)
{
    volatile uint8_t work[SCHED_BYTES];
    for (;;) {
        work[sink & 63] = 2;
        leaf(work);
    }
}

__attribute__((noinline)) void switch_context(void)
{
    volatile uint8_t t[40];
    t[0] = 3;
    leaf(t);
}

__attribute__((noinline, noreturn)) void stack_overflow_report(void)
{
    volatile uint8_t msg[200];
    for (;;) {
        msg[0] = 4;
        leaf(msg);
    }
}

__attribute__((noinline)) void fault_report(void)
{
    volatile uint8_t r[16];
    r[0] = 5;
    sink = r[0];
}

/* Sets MSP back to the top of the main stack and starts the scheduler:
   the startup phase's stack is given back. */
__attribute__((naked, noinline)) void start_first(void)
{
#if RESET_KIND == 1
    __asm volatile("ldr r0, =0xE000ED08\n"
                   "ldr r0, [r0]\n"
                   "ldr r0, [r0]\n"
                   "msr msp, r0\n"
                   "cpsie i\n"
                   "bl scheduler_run\n"
                   ".ltorg\n");
#elif RESET_KIND == 2
    __asm volatile("ldr r0, =0x20001000\n"
                   "msr msp, r0\n"
                   "cpsie i\n"
                   "bl scheduler_run\n"
                   ".ltorg\n");
#else
    __asm volatile("ldr r0, =saved_msp\n"
                   "ldr r0, [r0]\n"
                   "msr msp, r0\n"
                   "cpsie i\n"
                   "bl scheduler_run\n"
                   ".ltorg\n");
#endif
}

#if defined(__ARM_ARCH_8M_MAIN__)
/* ARMv8-M stack limits: not stack pointers. */
__attribute__((naked, noinline)) void set_limits(uint32_t lim)
{
    __asm volatile("msr msplim, r0\n"
                   "msr psplim, r0\n"
                   "bx lr\n");
}
#endif

__attribute__((noinline)) int main(void)
{
    volatile uint8_t m[64];
    m[0] = 6;
#if defined(__ARM_ARCH_8M_MAIN__)
    set_limits((uint32_t)&_estack - 2048);
#endif
    app_init();
    start_first();
}

void Reset_Handler(void)
{
    main();
    for (;;)
        ;
}

void NMI_Handler(void)
{
    volatile uint8_t n[32];
    n[0] = 7;
    leaf(n);
}

void SysTick_Handler(void) { sink++; }

void Default_Handler(void)
{
    for (;;)
        ;
}

/* The stackless fault handler: when SP is below the stack's limit (an
   overflow), it sets SP to the top of the main stack before it calls
   anything; otherwise it reports on the stack it has. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("mov r0, sp\n"
                   "ldr r1, =__stack_start__\n"
                   "cmp r0, r1\n"
                   "bcs 1f\n"
                   "ldr r0, =__stack_end__\n"
                   "mov sp, r0\n"
                   "b stack_overflow_report\n"
                   "1:\n"
                   "b fault_report\n"
                   ".ltorg\n");
}

/* A context switch as in FreeRTOS's ports: saves the task's registers on
   its process stack (PSP), calls C on the main stack, writes PSP back. */
__attribute__((naked)) void PendSV_Handler(void)
{
#if defined(__ARM_ARCH_6M__)
    __asm volatile(".syntax unified\n"
                   "mrs r0, psp\n"
                   "subs r0, #32\n"
                   "ldr r3, =current_sp\n"
                   "str r0, [r3]\n"
                   "stmia r0!, {r4-r7}\n"
                   "push {r3, lr}\n"
                   "bl switch_context\n"
                   "pop {r2, r3}\n"
                   "mov lr, r3\n"
                   "ldr r0, [r2]\n"
                   "ldmia r0!, {r4-r7}\n"
                   "adds r0, #16\n"
                   "msr psp, r0\n"
                   "bx lr\n"
                   ".ltorg\n");
#else
    __asm volatile(".syntax unified\n"
                   "mrs r0, psp\n"
                   "ldr r3, =current_sp\n"
                   "stmdb r0!, {r4-r11}\n"
                   "str r0, [r3]\n"
                   "stmdb sp!, {r3, lr}\n"
                   "bl switch_context\n"
                   "ldmia sp!, {r3, lr}\n"
                   "ldr r0, [r3]\n"
                   "ldmia r0!, {r4-r11}\n"
                   "msr psp, r0\n"
                   "bx lr\n"
                   ".ltorg\n");
#endif
}
