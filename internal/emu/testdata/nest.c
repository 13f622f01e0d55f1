/* Firmware for TestNestedInterruptsMeasured: the worst case of the main
 * stack, forced. Main runs a deep path (path_a > path_b > rec, REC_DEPTH
 * + 1 activations, > leaf), and at leaf's deepest point pends the outer
 * IRQ (IRQ0, priority 0x80); the outer handler at its deepest point pends
 * the inner IRQ (IRQ1, priority 0x40, more urgent), which preempts it. So
 * the nesting happens where the static model puts it: each handler on top
 * of the deepest point of what it interrupts.
 *
 * Each pend runs with SP 4 bytes below the frame (`sub sp, #4`), so SP is
 * 4 mod 8 when the exception is taken and the core adds the 4-byte
 * alignment word the model counts (CCR.STKALIGN, set at reset on these
 * cores). Every frame fills its whole buffer so its lowest word is written.
 *
 * On a hard-float build (__ARM_FP) the reset handler enables CP10/CP11
 * (CPACR) and leaves lazy stacking as reset sets it; leaf and the outer
 * handler do float arithmetic before they pend, so the context each
 * exception interrupts has an active FP context (CONTROL.FPCA) and the
 * core reserves the extended frame (104 bytes) for both; the inner one
 * does float arithmetic too. The static model counts the extended frame
 * for every handler of an image that uses the FPU.
 *
 * Self-contained (its own vector table and reset handler): built alone
 * with -nostdlib, and exits through semihosting with main's status (0:
 * both handlers ran, nested). */
#include <stdint.h>

#ifndef REC_DEPTH
#define REC_DEPTH 4
#endif

#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100)
#define NVIC_ISPR0 (*(volatile uint32_t *)0xE000E200)
/* IRQ0's and IRQ1's priority bytes; written as a word, as ARMv6-M needs. */
#define NVIC_IPR0 (*(volatile uint32_t *)0xE000E400)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0C)
#define OUTER_IRQ 0
#define INNER_IRQ 1

extern uint32_t __StackTop, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);

volatile int depth = REC_DEPTH;
volatile uint32_t sink;
volatile int outer_ran, inner_ran, inner_nested;
volatile int outer_active;
#ifdef __ARM_FP
volatile float fsink = 1.0f;
#endif

/* pend sets the IRQ pending with SP 4 bytes lower than the frame, and
 * waits for it to be taken (the barriers) before SP comes back. */
#define pend(irq)                                                          \
    __asm volatile("sub sp, #4\n\tstr %0, [%1]\n\tdsb\n\tisb\n\tadd sp, #4" \
                   :                                                       \
                   : "r"(1u << (irq)), "r"(&NVIC_ISPR0)                    \
                   : "memory")

__attribute__((noinline, noclone)) void semihost_exit(uint32_t code)
{
    uint32_t block[2] = {0x20026, code}; /* ADP_Stopped_ApplicationExit, status */
    register uint32_t r0 __asm("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;)
        ;
}

void Reset_Handler(void)
{
#ifdef __ARM_FP
    SCB_CPACR |= 0xFu << 20; /* CP10, CP11: full access */
    __asm volatile("dsb\n\tisb");
#endif
    uint32_t *s = &_sidata, *d = &_sdata;
    while (d < &_edata)
        *d++ = *s++;
    for (d = &_sbss; d < &_ebss; d++)
        *d = 0;
    semihost_exit(main());
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("b .");
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile("b .");
}

void InnerIRQ_Handler(void)
{
    volatile uint8_t buf[40];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i * 3);
#ifdef __ARM_FP
    fsink = fsink * 1.25f + (float)buf[7];
#endif
    inner_nested = outer_active;
    inner_ran = 1;
}

void OuterIRQ_Handler(void)
{
    volatile uint8_t buf[72];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i + 5);
#ifdef __ARM_FP
    fsink = fsink * 0.5f + (float)buf[3];
#endif
    outer_active = 1;
    pend(INNER_IRQ);
    outer_active = 0;
    outer_ran = 1;
    sink += buf[0];
}

__attribute__((section(".isr_vector"), used)) void *const vectors[18] = {
    &__StackTop, Reset_Handler, Default_Handler, HardFault_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
    OuterIRQ_Handler, InnerIRQ_Handler,
};

__attribute__((noinline, noclone)) uint32_t leaf(int n)
{
    volatile uint8_t buf[48];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(n + i);
#ifdef __ARM_FP
    fsink = fsink + (float)buf[1];
#endif
    pend(OUTER_IRQ);
    return buf[n] + buf[47];
}

/* One activation per level of n: n = REC_DEPTH..0, then leaf. */
__attribute__((noinline, noclone)) uint32_t rec(int n)
{
    volatile uint8_t buf[24];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(n ^ i);
    if (n > 0)
        return rec(n - 1) + buf[n];
    return leaf(3) + buf[0];
}

__attribute__((noinline, noclone)) uint32_t path_b(int n)
{
    volatile uint8_t buf[120];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(n * i);
    return rec(n) + buf[n];
}

__attribute__((noinline, noclone)) uint32_t path_a(int n)
{
    volatile uint8_t buf[200];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)i;
    return path_b(n) + buf[n];
}

int main(void)
{
    /* Priorities first, then enable: outer 0x80, inner 0x40 (bits 7:6,
     * implemented on every core here, even ARMv6-M's two). */
#ifdef PRIGROUP
    SCB_AIRCR = 0x05FA0000u | PRIGROUP << 8;
#endif
    NVIC_IPR0 = 0x80u << (8 * OUTER_IRQ) | 0x40u << (8 * INNER_IRQ);
    NVIC_ISER0 = 1u << OUTER_IRQ | 1u << INNER_IRQ;
    sink = path_a(depth);
    if (!outer_ran || !inner_ran)
        return 3;
    if (!inner_nested)
        return 4;
    return 0;
}
