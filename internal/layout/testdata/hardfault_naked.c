/* The stackless HardFault handler of the article "Are We Shooting
 * Ourselves in the Foot with Stack Overflow?": it reads SP first, and on an
 * overflow resets SP to the top of the stack before calling C. The linker
 * scripts define __fault_stack_limit and __fault_stack_top. */
__attribute__((naked)) void HardFault_Handler(void);
void HardFault_Handler(void)
{
    __asm volatile(
        "    mov r0, sp\n\t"
        "    ldr r1, =__fault_stack_limit\n\t"
        "    cmp r0, r1\n\t"
        "    bcs 1f\n\t"
        "    ldr r0, =__fault_stack_top\n\t"
        "    mov sp, r0\n\t"
        "    ldr r0, =str_overflow\n\t"
        "    mov r1, #1\n\t"
        "    b assert_failed\n\t"
        "1:\n\t"
        "    ldr r0, =str_hardfault\n\t"
        "    mov r1, #2\n\t"
        "    b assert_failed\n\t"
        "    .ltorg\n\t"
        "str_overflow:  .asciz \"StackOverflow\"\n\t"
        "str_hardfault: .asciz \"HardFault\"\n\t"
        "    .align 2\n\t");
}
