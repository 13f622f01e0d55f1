/* Indirect control flow on Thumb, in the shapes FreeRTOS and its demos
 * use:
 *   - HardFault_Handler as the FreeRTOS demos write it: naked, the fault
 *     handler's address loaded from a literal word and branched to (bx);
 *   - a call through a constant address built with movw/movt;
 *   - calls through a typedef'd callback member of a struct reached
 *     through a register (FreeRTOS's timer pxCallbackFunction) and
 *     through a global table, which go only to the address-taken
 *     functions whose prototype fits: cb_small, cb_big, cb_none and
 *     UART_IRQHandler (no parameters), never wide_job (a 64-bit
 *     parameter) or pair_job (two parameters), though they are
 *     address-taken and deeper; nor prvGetRegistersFromStack, whose
 *     address only HardFault_Handler's branch reads. */
#include <stdint.h>

typedef struct Timer Timer;
typedef void (*TimerCallback_t)(Timer *);
struct Timer {
    const char *name;
    uint32_t period;
    TimerCallback_t callback;
    void *arg;
};

typedef void (*WideJob_t)(long long);
typedef void (*PairJob_t)(void *, int);
typedef void (*Handler_t)(void);

volatile uint32_t sink;

__attribute__((noinline)) void cb_small(Timer *t)
{
    volatile uint8_t b[24];
    b[t->period & 15] = 1;
    sink += b[(t->period + 1) & 15];
}

__attribute__((noinline)) void cb_big(Timer *t)
{
    volatile uint8_t b[256];
    b[t->period & 255] = 2;
    sink += b[(t->period + 3) & 255];
}

__attribute__((noinline)) void cb_none(void)
{
    volatile uint8_t b[40];
    b[sink & 31] = 3;
    sink += b[(sink + 1) & 31];
}

__attribute__((noinline)) void wide_job(long long x)
{
    volatile uint8_t b[1024];
    b[x & 1023] = 4;
    sink += b[(x + 5) & 1023];
}

__attribute__((noinline)) void pair_job(void *p, int n)
{
    volatile uint8_t b[2048];
    b[n & 2047] = (uint8_t)(uintptr_t)p;
    sink += b[(n + 7) & 2047];
}

Timer timers[2] = {
    {"small", 10, cb_small, 0},
    {"big", 20, cb_big, 0},
};
WideJob_t wide_jobs[] = {wide_job};
PairJob_t pair_jobs[] = {pair_job};
Handler_t hooks[] = {cb_none};

void UART_IRQHandler(void)
{
    sink++;
}

/* A RAM table of handlers: UART_IRQHandler's address is taken by the
 * program, not only by the vector table. */
Handler_t ram_handlers[2] = {UART_IRQHandler};

void SysTick_Handler(void)
{
    sink += 2;
}

void TIMER_IRQHandler(void)
{
    sink += 3;
}

/* FreeRTOS's prvProcessExpiredTimer: the callback member of a timer
 * reached through a register. */
__attribute__((noinline)) void fire_timer(Timer *t)
{
    t->callback(t);
    t->period++;
}

/* The same member read from a global table with an index. */
__attribute__((noinline)) void fire_indexed(int i)
{
    timers[i & 1].callback(&timers[i & 1]);
    sink++;
}

/* A call through a constant address: built with movw/movt on ARMv7-M and
 * ARMv8-M, loaded from a literal word on ARMv6-M (which has no movw). */
__attribute__((noinline)) void call_constant(void)
{
#if __ARM_ARCH_ISA_THUMB >= 2
    __asm volatile("movw r3, #:lower16:cb_none\n\t"
                   "movt r3, #:upper16:cb_none\n\t"
                   "blx r3"
                   ::: "r0", "r1", "r2", "r3", "r12", "lr", "cc", "memory");
#else
    __asm volatile("ldr r3, 1f\n\t"
                   "blx r3\n\t"
                   "b 2f\n\t"
                   ".align 2\n"
                   "1: .word cb_none\n"
                   "2:"
                   ::: "r0", "r1", "r2", "r3", "r12", "lr", "cc", "memory");
#endif
    sink++;
}

static void prvGetRegistersFromStack(uint32_t *pulFaultStackAddress) __attribute__((used));

/* As the FreeRTOS demos write it (CORTEX_MPS2_QEMU_IAR_GCC/main.c; the
 * ARMv6-M variant tests EXC_RETURN without tst #imm and IT). */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
#if __ARM_ARCH_ISA_THUMB >= 2
        " tst lr, #4                                \n"
        " ite eq                                    \n"
        " mrseq r0, msp                             \n"
        " mrsne r0, psp                             \n"
#else
        " movs r0, #4                               \n"
        " mov r1, lr                                \n"
        " tst r0, r1                                \n"
        " beq 1f                                    \n"
        " mrs r0, psp                               \n"
        " b 2f                                      \n"
        "1: mrs r0, msp                             \n"
        "2:                                         \n"
#endif
        " ldr r1, [r0, #24]                         \n"
        " ldr r2, handler2_address_const            \n"
        " bx r2                                     \n"
        " .align 4                                  \n"
        " handler2_address_const: .word prvGetRegistersFromStack \n");
}

static void prvGetRegistersFromStack(uint32_t *pulFaultStackAddress)
{
    volatile uint32_t regs[8];
    for (int i = 0; i < 8; i++)
        regs[i] = pulFaultStackAddress[i];
    for (;;)
        sink = regs[sink & 7];
}

/* Branched to through r2, a parameter register: keep_self takes three
 * parameters, so it receives its own address in its third and stores it:
 * that literal is a pointer that escapes, and keep_self is address-taken. */
void (*kept)(void);
void keep_self(int a, int b, void (*self)(void))
{
    (void)a;
    (void)b;
    kept = self;
}

__attribute__((naked)) void branch_to_keep_self(void)
{
    __asm volatile(
        " ldr r2, keep_self_address \n"
        " bx r2                     \n"
        " .align 2                  \n"
        " keep_self_address: .word keep_self \n");
}

int main(void)
{
    branch_to_keep_self();
    fire_timer(&timers[sink & 1]);
    fire_indexed((int)sink);
    call_constant();
    wide_jobs[0](sink);
    pair_jobs[0](0, (int)sink);
    hooks[0]();
    ram_handlers[sink & 1]();
    for (;;)
        ;
}

/* Never called: with -ffunction-sections and --gc-sections the linker
 * drops it, and its .debug_frame FDE is left at address 0, where the
 * vector table is. */
void unused_helper(void)
{
    sink *= 3;
}
