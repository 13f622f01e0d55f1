/* Firmware fixture: frames of many shapes, handlers that call and
 * tail-call, and newlib code (snprintf, memcpy, strlen). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

volatile uint32_t ticks, uart_bytes, adc_value, faults;
volatile int32_t result;
static char message[80];

__attribute__((noinline)) int32_t sum_block(const int32_t *v, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

__attribute__((noinline)) int32_t work_buffer(int seed)
{
    int32_t buf[40];
    for (int i = 0; i < 40; i++)
        buf[i] = seed * i;
    return sum_block(buf, 40);
}

__attribute__((noinline)) void format_report(int value)
{
    char line[48];
    snprintf(line, sizeof line, "value=%d ticks=%u", value, (unsigned)ticks);
    memcpy(message, line, strlen(line) + 1);
}

__attribute__((noinline)) float scale(float x, float k)
{
    float t[8];
    for (int i = 0; i < 8; i++)
        t[i] = x * k + (float)i;
    return t[(int)x & 7];
}

__attribute__((noinline)) void uart_process(uint32_t byte)
{
    volatile char frame[20];
    frame[byte % 20] = (char)byte;
    uart_bytes += frame[(byte + 1) % 20];
}

void SysTick_Handler(void) { ticks++; }

void UART_IRQHandler(void)
{
    uint32_t b = *(volatile uint32_t *)0x40004000u;
    uart_process(b); /* a tail call when optimised */
}

void TIMER_IRQHandler(void) { result = work_buffer((int)ticks); }

void ADC_IRQHandler(void)
{
    adc_value = *(volatile uint32_t *)0x40012000u;
    result = (int32_t)scale((float)adc_value, 0.5f);
}

void HardFault_Handler(void)
{
    faults++;
    for (;;)
        ;
}

int main(void)
{
    for (;;) {
        format_report(work_buffer((int)ticks));
        if (message[0] == 0)
            break;
    }
    return 0;
}
