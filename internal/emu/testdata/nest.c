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
 * ALL_LEVELS goes on through every level the model counts: the inner
 * handler at its deepest point pends SysTick (priority 0, the reset value),
 * whose handler at its deepest point executes an SVC, which cannot preempt
 * it (SVCall is at 0 too) and escalates to HardFault (-1), whose handler
 * at its deepest point pends NMI (-2). Each returns: an escalated SVC
 * returns after the svc instruction.
 *
 * PRIGROUP=N writes AIRCR's PRIGROUP before the priorities.
 *
 * Self-contained (its own vector table and reset handler): built alone
 * with -nostdlib, and exits through semihosting with main's status (0:
 * both handlers ran, nested; with ALL_LEVELS, NMI ran on top of all). */
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
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04)
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_NMIPENDSET (1u << 31)
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

/* pend_at stores bits to a pending register with SP 4 bytes lower than
 * the frame, and waits for the exception to be taken (the barriers)
 * before SP comes back. */
#define pend_at(reg, bits)                                                 \
    __asm volatile("sub sp, #4\n\tstr %0, [%1]\n\tdsb\n\tisb\n\tadd sp, #4" \
                   :                                                       \
                   : "r"(bits), "r"(&(reg))                                \
                   : "memory")
#define pend(irq) pend_at(NVIC_ISPR0, 1u << (irq))

/* How many handlers are active: NMI records what it saw (5 with
 * ALL_LEVELS: outer, inner, SysTick, HardFault and itself). */
volatile int active, nmi_saw;

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

#ifdef ALL_LEVELS
void NMI_Handler(void)
{
    volatile uint8_t buf[24];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
#ifdef __ARM_FP
    fsink = fsink * 2.0f + (float)buf[2];
#endif
    nmi_saw = active + 1;
}

void HardFault_Handler(void)
{
    volatile uint8_t buf[32];
    active++;
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i + 9);
#ifdef __ARM_FP
    fsink = fsink * 0.75f + (float)buf[4];
#endif
    pend_at(SCB_ICSR, ICSR_NMIPENDSET);
    active--;
    sink += buf[0];
}

void SysTick_Handler(void)
{
    volatile uint8_t buf[16];
    active++;
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(i + 1);
#ifdef __ARM_FP
    fsink = fsink * 1.5f + (float)buf[5];
#endif
    /* SVCall's priority is SysTick's: the svc escalates to HardFault. */
    __asm volatile("sub sp, #4\n\tsvc 0\n\tadd sp, #4" ::: "memory");
    active--;
    sink += buf[0];
}
#define NMI_VECTOR NMI_Handler
#define SYSTICK_VECTOR SysTick_Handler
#else
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("b .");
}
#define NMI_VECTOR Default_Handler
#define SYSTICK_VECTOR Default_Handler
#endif

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
#ifdef ALL_LEVELS
    active++;
    pend_at(SCB_ICSR, ICSR_PENDSTSET);
    active--;
#endif
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
    active++;
    pend(INNER_IRQ);
    active--;
    outer_active = 0;
    outer_ran = 1;
    sink += buf[0];
}

__attribute__((section(".isr_vector"), used)) void *const vectors[18] = {
    &__StackTop, Reset_Handler, NMI_VECTOR, HardFault_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, SYSTICK_VECTOR,
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
#ifdef ALL_LEVELS
    if (nmi_saw != 5)
        return 5;
#endif
    return 0;
}
