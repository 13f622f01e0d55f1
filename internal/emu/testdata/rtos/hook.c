/* The stack overflow hook for testdata/rtos/app.c, linked beside it by the
 * --task injection tests when the kernel is built with
 * configCHECK_FOR_STACK_OVERFLOW > 0. -DHOOK_EXIT: the hook ends the
 * program through a semihosting exit (status 7, a safe end); without it
 * the hook sits in an endless loop, as FreeRTOS's demos do. */
#include "FreeRTOS.h"
#include "task.h"

#if configCHECK_FOR_STACK_OVERFLOW > 0
void vApplicationStackOverflowHook(TaskHandle_t task, char *name)
{
    (void)task;
    (void)name;
#ifdef HOOK_EXIT
    /* SYS_EXIT_EXTENDED: r1 points at {ApplicationExit, status}; the
     * block is static so that the hook writes nothing to the overflowed
     * stack. */
    static const uint32_t block[2] = {0x20026, 7};
    register uint32_t r0 __asm("r0") = 0x20;
    register const void *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
#endif
    for (;;)
        ;
}
#endif
