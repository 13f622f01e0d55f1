/* Paints the main stack below the current SP with MEASURE's pattern
 * (measure.c reads it back). Inline in main's own frame: it must not push
 * anything below the SP it reads. */
#include <stdint.h>
extern uint32_t __StackLimit;
__attribute__((always_inline)) static inline void paint_main_stack(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__StackLimit; p < sp; p++)
        *p = 0xDEADBEEFu;
}
