/* Startup for the Thumb indirect-call fixture: a vector table whose
 * handlers only the hardware calls, except UART_IRQHandler, whose address
 * app.c also stores in a RAM table of handlers. */
#include <stdint.h>

extern uint32_t _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void UART_IRQHandler(void);
void TIMER_IRQHandler(void);

__attribute__((section(".isr_vector"), used))
void (*const vectors[16 + 4])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Default_Handler, HardFault_Handler,
    0, 0, 0, 0, 0, 0, 0, Default_Handler, 0, 0, Default_Handler, SysTick_Handler,
    UART_IRQHandler, TIMER_IRQHandler, 0, 0,
};

void Reset_Handler(void)
{
    main();
    for (;;)
        ;
}

void Default_Handler(void)
{
    for (;;)
        ;
}
