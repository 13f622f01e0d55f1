/* Startup for the injection tests (mps2-an385, Cortex-M3): copies .data,
 * zeroes .bss, calls main and exits through semihosting with its value.
 * The HardFault handler comes from one of hardfault_*.c; the other fault
 * vectors share Default_Handler, a branch to itself. SET_MSPLIM (ARMv8-M)
 * arms the main stack's limit check first, as CMSIS startup code does.
 * RELOAD_SP loads SP from __stack_top first, as many assembly startups do. */
#include <stdint.h>

extern uint32_t __stack_top, __stack_limit, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void HardFault_Handler(void);

void semihost_exit(uint32_t code)
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
#ifdef RELOAD_SP
    __asm volatile("ldr sp, =__stack_top");
#endif
#ifdef SET_MSPLIM
    __asm volatile("msr msplim, %0" : : "r"(&__stack_limit));
#endif
    uint32_t *s = &_sidata, *d = &_sdata;
    while (d < &_edata)
        *d++ = *s++;
    for (d = &_sbss; d < &_ebss; d++)
        *d = 0;
    semihost_exit(main());
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile("b .");
}

__attribute__((section(".isr_vector"), used)) void *const vectors[16] = {
    &__stack_top, Reset_Handler, Default_Handler, HardFault_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};
