/* A minimal CMSIS-like interface to the Cortex-M priority registers, written
 * for stackscope's tests (not CMSIS): the same register layout and the same
 * code shapes as CMSIS's __NVIC_SetPriority and NVIC_SetPriorityGrouping,
 * byte stores on ARMv7-M, word read-modify-write on ARMv6-M (whose IPR and
 * SHPR are word-accessible only). */
#ifndef NVIC_H
#define NVIC_H
#include <stdint.h>

#define PRIO_BITS 3u /* priority bits this test's "device" implements */

typedef enum {
    SVCall_IRQn = -5,
    PendSV_IRQn = -2,
    SysTick_IRQn = -1,
    TIMER_IRQn = 1,
    UART_IRQn = 2,
    ADC_IRQn = 3,
    DMA_IRQn = 4,
    TWICE_IRQn = 5,
    LOOP_IRQn = 6,
    IDLE_IRQn = 7,
} IRQn;

#define SCS_BASE   0xE000E000u
#define IPR_BYTES  ((volatile uint8_t *)(SCS_BASE + 0x400u))
#define IPR_WORDS  ((volatile uint32_t *)(SCS_BASE + 0x400u))
#define SHPR_BYTES ((volatile uint8_t *)(SCS_BASE + 0xD18u)) /* byte n: exception 4+n */
#define SHPR_WORDS ((volatile uint32_t *)(SCS_BASE + 0xD18u)) /* SHPR1..SHPR3 */
#define SHPR3      (*(volatile uint32_t *)(SCS_BASE + 0xD20u))
#define AIRCR      (*(volatile uint32_t *)(SCS_BASE + 0xD0Cu))

static inline void set_priority(IRQn irq, uint32_t prio)
{
    uint32_t v = (prio << (8u - PRIO_BITS)) & 0xFFu;
#if defined(__ARM_ARCH_6M__)
    if ((int32_t)irq >= 0) {
        uint32_t i = (uint32_t)irq >> 2, sh = ((uint32_t)irq & 3u) * 8u;
        IPR_WORDS[i] = (IPR_WORDS[i] & ~(0xFFu << sh)) | (v << sh);
    } else {
        uint32_t n = ((uint32_t)irq & 0xFu) - 4u;
        uint32_t i = n >> 2, sh = (n & 3u) * 8u;
        SHPR_WORDS[i] = (SHPR_WORDS[i] & ~(0xFFu << sh)) | (v << sh);
    }
#else
    if ((int32_t)irq >= 0)
        IPR_BYTES[(uint32_t)irq] = (uint8_t)v;
    else
        SHPR_BYTES[((uint32_t)irq & 0xFu) - 4u] = (uint8_t)v;
#endif
}

static inline void set_priority_grouping(uint32_t group)
{
    uint32_t r = AIRCR;
    r &= ~((0xFFFFu << 16) | (7u << 8));
    r |= (0x05FAu << 16) | ((group & 7u) << 8);
    AIRCR = r;
}
#endif
