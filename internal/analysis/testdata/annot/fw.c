/* Firmware fixture for the annotations ([[exclude]], [[frame]],
 * [[indirect]], [[recursion]]): an assert handler that prints and never
 * returns, a stackless HardFault handler that branches through the literal
 * pool, a reset function, recursion, a dispatch table and a function
 * whose callees cannot be bounded. Built at test time with
 * arm-none-eabi-gcc -mthumb -O2 -fno-optimize-sibling-calls -fstack-usage
 * --specs=nosys.specs -nostartfiles -T ../thumb/link.ld. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern uint32_t _estack;
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void UART_IRQHandler(void);
/* NMI_Handler is another name of Default_Handler: annotations find a
 * function by any of its names. */
void NMI_Handler(void) __attribute__((alias("Default_Handler")));

__attribute__((section(".isr_vector"), used))
void (*const vectors[16 + 2])(void) = {
    (void (*)(void))&_estack, Reset_Handler, NMI_Handler, HardFault_Handler,
    0, 0, 0, 0, 0, 0, 0, Default_Handler, 0, 0, Default_Handler, SysTick_Handler,
    UART_IRQHandler, Default_Handler,
};

volatile uint32_t ticks, bytes_in, sink;
static char message[64];

/* The assert handler: prints through newlib (whose FILE callbacks are
 * indirect calls: not bounded without annotations), then never returns. */
__attribute__((noinline)) void vAssertCalled(const char *file, int line)
{
    char text[40];
    snprintf(text, sizeof text, "%s:%d", file, line);
    memcpy(message, text, sizeof text);
    for (;;)
        ;
}

#define ASSERT(x) do { if (!(x)) vAssertCalled(__FILE__, __LINE__); } while (0)

/* Resets the chip through SCB->AIRCR: SYSRESETREQ with the key. */
__attribute__((noinline, noreturn)) void system_reset(void)
{
    *(volatile uint32_t *)0xE000ED0C = 0x05FA0004;
    for (;;)
        ;
}

__attribute__((noinline)) void fault_report(void)
{
    volatile char dump[24];
    dump[ticks & 15] = 1;
    sink = dump[3];
    system_reset();
}

/* Stackless: branches to fault_report through a literal-pool constant. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("ldr r2, =fault_report\n\tbx r2\n\t.ltorg");
}

__attribute__((noinline)) int32_t sum_block(const int32_t *v, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

__attribute__((noinline)) int32_t filter(int seed)
{
    int32_t buf[24];
    for (int i = 0; i < 24; i++)
        buf[i] = seed * i;
    ASSERT(seed >= 0);
    return sum_block(buf, 24);
}

/* Recursion: walk calls itself, ping and pong call each other. */
__attribute__((noinline)) int walk(int n)
{
    volatile int pad[4];
    pad[n & 3] = n;
    return n <= 0 ? pad[1] : walk(n - 1) + pad[2];
}

__attribute__((noinline)) int ping(int n);
__attribute__((noinline)) int pong(int n)
{
    volatile int pad[6];
    pad[n & 3] = n;
    return n <= 0 ? pad[0] : ping(n - 1) + pad[1];
}
__attribute__((noinline)) int ping(int n)
{
    volatile int pad[2];
    pad[n & 1] = n;
    return n <= 0 ? pad[0] : pong(n - 2) + pad[1];
}

/* A dispatch table: an indirect call [[indirect]] names the targets of. */
__attribute__((noinline)) int op_small(int x) { volatile int b[2]; b[x & 1] = x; return b[0]; }
__attribute__((noinline)) int op_big(int x) { volatile int b[30]; b[x & 15] = x; return b[1]; }
int (*volatile ops[2])(int) = {op_small, op_big};
__attribute__((noinline)) int dispatch(int k, int x)
{
    volatile int pad[3];
    pad[k & 1] = ops[k & 1](x);
    return pad[0];
}

/* vendor_op reaches a VLA (dynamic): [[frame]] declares it. */
__attribute__((noinline)) int vendor_inner(int n)
{
    volatile char v[n];
    v[0] = 1;
    return v[n - 1];
}
__attribute__((noinline)) int vendor_op(int n)
{
    volatile int pad[5];
    pad[n & 3] = vendor_inner(n);
    return pad[1];
}

void SysTick_Handler(void)
{
    ticks++;
    ASSERT(ticks != 0);
}

void UART_IRQHandler(void) { bytes_in += (uint32_t)filter((int)ticks) + (uint32_t)vendor_op((int)(ticks & 7) + 1); }

int main(void)
{
    for (;;)
        sink = (uint32_t)(filter((int)ticks) + walk((int)ticks) + ping((int)ticks) + dispatch((int)ticks, 3));
}

void Reset_Handler(void)
{
    main();
}

void Default_Handler(void)
{
    for (;;)
        ;
}
