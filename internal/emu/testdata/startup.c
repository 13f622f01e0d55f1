/* Startup for the emu tests' firmware: a vector table, a reset handler
 * that copies .data, zeroes .bss, calls main and exits through
 * semihosting with main's return value, and a HardFault handler that is
 * a branch to itself (the usual "hang here"). FAULT_FIRST makes the
 * reset handler's first instruction undefined; BAD_HARDFAULT points the
 * HardFault vector at unmapped memory (with FAULT_FIRST the core locks
 * up). STACK_IN_BSS makes the main stack a 2 KiB array in .bss, which
 * the reset handler zeroes. */
#include <stdint.h>

extern uint32_t __StackTop, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);

#ifdef STACK_IN_BSS
uint32_t stack_area[512];
__asm(".global __StackLimit\n.set __StackLimit, stack_area\n"
      ".global __StackTop\n.set __StackTop, stack_area + 2048");
#endif

void semihost_exit(uint32_t code)
{
    uint32_t block[2] = {0x20026, code}; /* ADP_Stopped_ApplicationExit, status */
    register uint32_t r0 __asm("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;)
        ;
}

#ifdef FAULT_FIRST
__attribute__((naked)) void Reset_Handler(void)
{
    __asm volatile("udf #0");
}
#else
void Reset_Handler(void)
{
    uint32_t *s = &_sidata, *d = &_sdata;
    while (d < &_edata)
        *d++ = *s++;
    for (d = &_sbss; d < &_ebss; d++)
        *d = 0;
    semihost_exit(main());
}
#endif

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("b .");
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile("b .");
}

#ifdef BAD_HARDFAULT
#define HARDFAULT ((void *)0xf0000001)
#else
#define HARDFAULT HardFault_Handler
#endif

__attribute__((section(".isr_vector"), used)) void *const vectors[16] = {
    &__StackTop, Reset_Handler, Default_Handler, HARDFAULT,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};
