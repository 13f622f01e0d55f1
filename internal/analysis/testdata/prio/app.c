/* Sets interrupt priorities as firmware does, through nvic.h's inlined
 * helpers (out of line at -O0). The test mirrors these values.
 *   -DLOOP: also sets priorities in a loop over IRQ numbers whose bound is
 *   not a constant: then no priority is certain.
 *   -DSWITCH: also sets IDLE's priority in the cases of a dense switch
 *   (a jump table: tbb, or libgcc's __gnu_thumb1_case_* on ARMv6-M),
 *   with a different value in each case. */
#include "nvic.h"

volatile uint32_t loop_count = 1;

#ifdef SWITCH
volatile int board_rev = 2;
__attribute__((noinline)) static void configure_for_board(int rev)
{
    switch (rev) {
    case 0: set_priority(IDLE_IRQn, 2); break;
    case 1: set_priority(IDLE_IRQn, 3); break;
    case 2: set_priority(IDLE_IRQn, 4); break;
    case 3: set_priority(IDLE_IRQn, 6); break;
    case 4: set_priority(IDLE_IRQn, 7); break;
    case 5: set_priority(IDLE_IRQn, 1); break;
    case 6: set_priority(IDLE_IRQn, 5); break;
    }
}
#endif

int main(void)
{
#if !defined(__ARM_ARCH_6M__)
    set_priority_grouping(5); /* group priority bits 7:6, subpriority bit 5 */
#endif
    set_priority(TIMER_IRQn, 2);
    set_priority(UART_IRQn, 4);
    set_priority(ADC_IRQn, 5); /* ADC and DMA share one priority */
    set_priority(DMA_IRQn, 5);
    set_priority(TWICE_IRQn, 1);
    /* PendSV and SysTick to the lowest priority, as FreeRTOS does. */
    SHPR3 |= 0xFFu << 16;
    SHPR3 |= 0xFFu << 24;
    set_priority(TWICE_IRQn, 3); /* written again, with another value */
#ifdef LOOP
    for (uint32_t i = 0; i < loop_count; i++)
        set_priority((IRQn)(LOOP_IRQn + i), 6);
#endif
#ifdef SWITCH
    configure_for_board(board_rev);
#endif
    for (;;)
        ;
}
