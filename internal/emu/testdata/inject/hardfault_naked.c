/* The stackless HardFault handler: it compares SP with the stack's limit
 * first, and on an overflow resets SP to the top before calling C, whose
 * report ends in a semihosting exit with status 3. */
#include <stdint.h>

void semihost_exit(uint32_t code);
volatile uint32_t overflow_seen;

__attribute__((noinline, noreturn)) void report_overflow(uint32_t code)
{
    overflow_seen = code;
    semihost_exit(code);
    for (;;)
        ;
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "    mov r0, sp\n\t"
        "    ldr r1, =__stack_limit\n\t"
        "    cmp r0, r1\n\t"
        "    bcs 1f\n\t"
        "    ldr r0, =__stack_top\n\t"
        "    mov sp, r0\n\t"
        "    movs r0, #3\n\t"
        "    b report_overflow\n\t"
        "1:\n\t"
        "    movs r0, #4\n\t"
        "    b report_overflow\n\t"
        "    .ltorg\n\t");
}
