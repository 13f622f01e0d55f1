/* Vector table and handlers for the priority fixture: each handler keeps a
 * buffer of its own size on the stack, so that each level's heaviest
 * handler is told apart by its .su frame. */
#include <stdint.h>

extern uint32_t _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);

#define HANDLER(name, words)                         \
    void name(void)                                  \
    {                                                \
        volatile uint32_t buf[words];                \
        for (unsigned i = 0; i < (words); i++)       \
            buf[i] = i;                              \
    }

HANDLER(HardFault_Handler, 2)
HANDLER(PendSV_Handler, 12)
HANDLER(SysTick_Handler, 6)
HANDLER(TIMER_IRQHandler, 10)
HANDLER(UART_IRQHandler, 4)
HANDLER(ADC_IRQHandler, 16)
HANDLER(DMA_IRQHandler, 8)
HANDLER(TWICE_IRQHandler, 14)
HANDLER(LOOP_IRQHandler, 18)
HANDLER(IDLE_IRQHandler, 20)

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));

__attribute__((section(".isr_vector"), used))
void (*const vectors[16 + 8])(void) = {
    (void (*)(void))&_estack, Reset_Handler, NMI_Handler, HardFault_Handler,
    0, 0, 0, 0, 0, 0, 0, SVC_Handler, 0, 0, PendSV_Handler, SysTick_Handler,
    0, TIMER_IRQHandler, UART_IRQHandler, ADC_IRQHandler,
    DMA_IRQHandler, TWICE_IRQHandler, LOOP_IRQHandler, IDLE_IRQHandler,
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
