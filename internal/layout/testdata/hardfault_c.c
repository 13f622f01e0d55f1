/* A HardFault handler in plain C: it calls a function (so it pushes LR)
 * before anything looks at SP. With the stack at the start of RAM it
 * faults again on a stack overflow and the core locks up. */
#include <stdint.h>

void log_fault(uint32_t what);
void system_reset(void);

void HardFault_Handler(void)
{
    log_fault(0xDEAD);
    system_reset();
}
