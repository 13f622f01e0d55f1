/* A stackless HardFault handler for the example: it compares SP with the
 * stack's start before anything touches the stack, and on an overflow
 * resets SP to the top and reports, ending in a semihosting exit (status
 * 3) where a product would log and reset. */
#include <stdint.h>

volatile uint32_t overflow_reported;

__attribute__((noinline, noreturn)) void report_overflow(uint32_t code)
{
    overflow_reported = code;
    uint32_t block[2] = {0x20026, code}; /* ADP_Stopped_ApplicationExit */
    register uint32_t r0 __asm("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;)
        ;
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "    mov r0, sp\n\t"
        "    ldr r1, =__stack_start__\n\t"
        "    cmp r0, r1\n\t"
        "    bcs 1f\n\t"
        "    ldr r0, =__stack_end__\n\t"
        "    mov sp, r0\n\t"
        "    movs r0, #3\n\t"
        "    b report_overflow\n\t"
        "1:\n\t"
        "    movs r0, #4\n\t"
        "    b report_overflow\n\t"
        "    .ltorg\n\t");
}
