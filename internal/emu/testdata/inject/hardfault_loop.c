/* The vendor default: HardFault is a branch to itself. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("b .");
}
