/* Startup for the FreeRTOS test firmware (testutil.BuildFreeRTOS): the
 * vector table (word 0 is _estack from the linker script), a reset handler
 * that copies .data and clears .bss, and the FreeRTOS port's handlers on
 * SVC, PendSV and SysTick. Everything else defaults to Default_Handler;
 * the application overrides HardFault_Handler and IRQn_Handler (n < 32) by
 * defining them. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void vPortSVCHandler(void);
void xPortPendSVHandler(void);
void xPortSysTickHandler(void);
#if defined(FREERTOS_PORT_CM0) || defined(FREERTOS_PORT_CM33)
/* These ports name their handlers as CMSIS does. */
#define vPortSVCHandler SVC_Handler
#define xPortPendSVHandler PendSV_Handler
#define xPortSysTickHandler SysTick_Handler
void SVC_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
#endif

#define WEAK_DEFAULT(name) void name(void) __attribute__((weak, alias("Default_Handler")))
WEAK_DEFAULT(NMI_Handler);
WEAK_DEFAULT(HardFault_Handler);
WEAK_DEFAULT(MemManage_Handler);
WEAK_DEFAULT(BusFault_Handler);
WEAK_DEFAULT(UsageFault_Handler);
WEAK_DEFAULT(IRQ0_Handler);
WEAK_DEFAULT(IRQ1_Handler);
WEAK_DEFAULT(IRQ2_Handler);
WEAK_DEFAULT(IRQ3_Handler);
WEAK_DEFAULT(IRQ4_Handler);
WEAK_DEFAULT(IRQ5_Handler);
WEAK_DEFAULT(IRQ6_Handler);
WEAK_DEFAULT(IRQ7_Handler);
WEAK_DEFAULT(IRQ8_Handler);
WEAK_DEFAULT(IRQ9_Handler);
WEAK_DEFAULT(IRQ10_Handler);
WEAK_DEFAULT(IRQ11_Handler);

__attribute__((section(".isr_vector"), used))
void (*const vectors[16 + 12])(void) = {
    (void (*)(void))&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    vPortSVCHandler,
    0, 0,
    xPortPendSVHandler,
    xPortSysTickHandler,
    IRQ0_Handler, IRQ1_Handler, IRQ2_Handler, IRQ3_Handler,
    IRQ4_Handler, IRQ5_Handler, IRQ6_Handler, IRQ7_Handler,
    IRQ8_Handler, IRQ9_Handler, IRQ10_Handler, IRQ11_Handler,
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    main();
    for (;;)
        ;
}

void Default_Handler(void)
{
    for (;;)
        ;
}
