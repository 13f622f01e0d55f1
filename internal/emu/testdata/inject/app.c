/* The injection tests' application: objects in .bss and .data, and a
 * function with a 64-byte frame, filled from the top down, that main calls a few times (the tests
 * fire the overflow when it is entered). main returns 0 when every call
 * saw the data it expects. */
#include <stdint.h>

uint32_t history[32];             /* .bss */
volatile uint32_t ticks;          /* .bss */
uint32_t samples[8];              /* .bss */
volatile uint32_t last_result;    /* .bss: the linker puts it last here */
int32_t gain = 3;                 /* .data */

__attribute__((noinline)) uint32_t work(uint32_t n)
{
    volatile uint32_t buf[16];
    for (uint32_t i = 16; i-- > 0;) /* from the top down, as pushes go */
        buf[i] = n * i * (uint32_t)gain;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 16; i++)
        sum += buf[i];
    return sum;
}

int main(void)
{
    uint32_t bad = 0;
    for (uint32_t n = 1; n <= 4; n++) {
        ticks++;
        history[n] = ticks;
        samples[n] = work(n);
        last_result = samples[n];
        if (samples[n] != n * 120u * (uint32_t)gain)
            bad++;
    }
    return bad != 0;
}
