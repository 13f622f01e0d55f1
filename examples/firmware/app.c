/* The example application: a sensor filter in the main loop, a SysTick
 * tick, a UART receive interrupt that tail-calls a command parser, and a
 * timer interrupt that runs a small moving-average filter. */
#include <stdint.h>

#define USART1_DR (*(volatile uint32_t *)0x40013804u)
#define ADC1_DR (*(volatile uint32_t *)0x4001244Cu)

volatile uint32_t ticks;
volatile uint32_t fault_count;
volatile uint32_t timer_count;
volatile int32_t filtered;
static char line[64];
static unsigned line_len;
static int32_t history[16];

__attribute__((noinline)) static int32_t average(const int32_t *v, int n)
{
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    return (int32_t)(sum / n);
}

__attribute__((noinline)) int32_t filter_block(const int32_t *in, int n)
{
    int32_t window[32];
    for (int i = 0; i < n && i < 32; i++)
        window[i] = in[i] * 3 / 2;
    return average(window, n < 32 ? n : 32);
}

volatile int command;

__attribute__((noinline)) void parse_command(const char *s, unsigned len)
{
    char word[24];
    unsigned i = 0;
    for (; i < len && i < sizeof word - 1 && s[i] != ' '; i++)
        word[i] = s[i];
    word[i] = 0;
    command = word[0] == 'r' ? 1 : word[0] == 's' ? 2 : 0;
}

void SysTick_Handler(void)
{
    ticks++;
}

void USART1_IRQHandler(void)
{
    char c = (char)USART1_DR;
    if (c != '\n' && line_len < sizeof line) {
        line[line_len++] = c;
        return;
    }
    unsigned n = line_len;
    line_len = 0;
    parse_command(line, n); /* a tail call at -O2 */
}

void TIM2_IRQHandler(void)
{
    timer_count++;
    history[timer_count % 16] = (int32_t)ADC1_DR;
    filtered = average(history, 16);
}

void HardFault_Handler(void)
{
    fault_count++;
    for (;;)
        ;
}

int main(void)
{
    int32_t samples[48];
    for (;;) {
        for (int i = 0; i < 48; i++)
            samples[i] = (int32_t)ADC1_DR;
        if (filter_block(samples, 48) > 1000)
            USART1_DR = 'H';
    }
}
