/* A firmware for the gdbrsp tests against QEMU (mps2-an385): counts in a
 * global, then calls done(), which exits through semihosting with the
 * count's low byte. Built with:
 *   arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O1 -g -nostdlib -nostartfiles -T tiny.ld tiny.c */
#include <stdint.h>
extern uint32_t __StackTop;
volatile uint32_t counter;
volatile uint32_t spin; /* the test writes 1 here to make the firmware spin */

__attribute__((noinline)) void done(uint32_t code)
{
    uint32_t block[2] = {0x20026, code}; /* ADP_Stopped_ApplicationExit */
    register uint32_t r0 __asm("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;)
        ;
}

void Reset_Handler(void)
{
    while (spin)
        ;
    for (counter = 0; counter < 1000; counter++)
        ;
    done(counter & 0xff);
}

__attribute__((section(".isr_vector"), used)) void *const vectors[4] = {&__StackTop, Reset_Handler, 0, 0};
