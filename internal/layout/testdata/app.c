/* A small application: globals in .data and .bss, a main loop with a
 * bounded stack, and a SysTick tick. */
#include <stdint.h>

#define ADC_DR (*(volatile uint32_t *)0x4001244Cu)

volatile uint32_t ticks;
volatile uint32_t timer_count;
uint8_t rx_buffer[32];
int32_t calibration[4] = {3, 1, 4, 1};
volatile int32_t result = 7;

__attribute__((noinline)) int32_t filter(int n)
{
    volatile int32_t window[24];
    for (int i = 0; i < n && i < 24; i++)
        window[i] = (int32_t)ADC_DR * calibration[i & 3];
    int32_t sum = 0;
    for (int i = 0; i < n && i < 24; i++)
        sum += window[i];
    return sum;
}

void SysTick_Handler(void)
{
    ticks++;
    timer_count += rx_buffer[ticks & 31];
}

int main(void)
{
    for (;;)
        result = filter(24);
}
