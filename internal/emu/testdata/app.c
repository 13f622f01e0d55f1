/* The emu tests' application: a call path three frames deep, each frame
 * filling its whole array (so the deepest word of every frame is written
 * and the measured peak can equal the static bound), chosen at run time
 * through a volatile so the compiler cannot fold it. MODE selects the
 * ending: 0 exit with EXIT_CODE, 1 a branch to itself after the path, 2
 * spin in a loop that is not a branch to itself (only a timeout ends it),
 * 3 run the path ITERATIONS times and exit (scripts/bench-emu.sh). */
#include <stdint.h>

#ifndef MODE
#define MODE 0
#endif
#ifndef EXIT_CODE
#define EXIT_CODE 0
#endif

volatile int depth = 3;
volatile uint32_t sink;

__attribute__((noinline)) uint32_t leaf(int n)
{
    volatile uint8_t buf[96];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(n + i);
    return buf[n] + buf[95];
}

__attribute__((noinline)) uint32_t middle(int n)
{
    volatile uint8_t buf[160];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)(n * i);
    if (n > 2)
        return leaf(n - 1) + buf[n];
    return buf[0];
}

__attribute__((noinline)) uint32_t outer(int n)
{
    volatile uint8_t buf[256];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (uint8_t)i;
    if (n > 1)
        return middle(n) + buf[n];
    return buf[1];
}

int main(void)
{
    sink = outer(depth);
#if MODE == 1
    __asm volatile("b .");
#elif MODE == 2
    for (;;)
        sink++;
#elif MODE == 3
    for (long i = 0; i < ITERATIONS; i++)
        sink += outer(depth);
#endif
    return EXIT_CODE;
}
