/* A HardFault handler in plain C: it calls functions (so it pushes LR)
 * before anything looks at SP. On an overflow off the start of RAM it
 * faults again inside the handler and the core locks up. */
#include <stdint.h>

#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)

volatile uint32_t fault_count;

__attribute__((noinline)) void log_fault(uint32_t what)
{
    fault_count += what;
}

void HardFault_Handler(void)
{
    log_fault(1);
    __asm volatile("dsb");
    SCB_AIRCR = 0x05FA0004u; /* SYSRESETREQ */
    __asm volatile("dsb");
    for (;;)
        ;
}
