/* Fault reporting shared by the fixtures: a fault counter, a log, and a
 * reset through SCB->AIRCR (what NVIC_SystemReset does). */
#include <stdint.h>

#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)

volatile uint32_t fault_count;
volatile uint32_t fault_log[8];

__attribute__((noreturn)) void system_reset(void)
{
    __asm volatile("dsb");
    SCB_AIRCR = 0x05FA0004u;
    __asm volatile("dsb");
    for (;;)
        ;
}

__attribute__((noinline)) void log_fault(uint32_t what)
{
    fault_log[fault_count % 8] = what;
    fault_count++;
}

__attribute__((noreturn)) void assert_failed(const char *msg, int code)
{
    log_fault((uint32_t)(uintptr_t)msg ^ (uint32_t)code);
    system_reset();
}
