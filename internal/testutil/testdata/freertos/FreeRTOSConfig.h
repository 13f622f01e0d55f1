/* FreeRTOSConfig.h for the test firmware built by testutil.BuildFreeRTOS.
 * Every setting can be overridden from the compiler's command line
 * (FreeRTOSApp.Defines: -DconfigTOTAL_HEAP_SIZE=4096), so that one file
 * serves every test. Written for the tests; the values are ordinary ones
 * for a Cortex-M board such as QEMU's mps2-an385. */
#ifndef FREERTOS_CONFIG_H
#define FREERTOS_CONFIG_H

#define configCPU_CLOCK_HZ 25000000UL
#define configTICK_RATE_HZ 1000
#ifndef configUSE_PREEMPTION
#define configUSE_PREEMPTION 1
#endif
#define configUSE_IDLE_HOOK 0
#define configUSE_TICK_HOOK 0
#define configMAX_PRIORITIES 5
#ifndef configMINIMAL_STACK_SIZE
#define configMINIMAL_STACK_SIZE 128
#endif
#ifndef configTOTAL_HEAP_SIZE
#define configTOTAL_HEAP_SIZE (16 * 1024)
#endif
#define configMAX_TASK_NAME_LEN 12
#define configUSE_16_BIT_TICKS 0
#define configUSE_MUTEXES 1
#define configUSE_RECURSIVE_MUTEXES 0
#define configUSE_COUNTING_SEMAPHORES 1
#define configQUEUE_REGISTRY_SIZE 0
#define configUSE_TRACE_FACILITY 0
#ifndef configCHECK_FOR_STACK_OVERFLOW
#define configCHECK_FOR_STACK_OVERFLOW 0
#endif
#define configUSE_MALLOC_FAILED_HOOK 0
#ifndef configSUPPORT_STATIC_ALLOCATION
#define configSUPPORT_STATIC_ALLOCATION 1
#endif
#define configSUPPORT_DYNAMIC_ALLOCATION 1
#define configKERNEL_PROVIDED_STATIC_MEMORY 0

#ifndef configUSE_TIMERS
#define configUSE_TIMERS 1
#endif
#define configTIMER_TASK_PRIORITY (configMAX_PRIORITIES - 1)
#define configTIMER_QUEUE_LENGTH 5
#ifndef configTIMER_TASK_STACK_DEPTH
#define configTIMER_TASK_STACK_DEPTH 256
#endif

#define INCLUDE_vTaskDelay 1
#define INCLUDE_vTaskDelete 1
#define INCLUDE_vTaskSuspend 1
#define INCLUDE_xTaskGetSchedulerState 1
#define INCLUDE_uxTaskGetStackHighWaterMark 1

/* Interrupt priorities, as the Cortex-M ports want them: the kernel at the
 * lowest priority, system calls allowed from priority 5 down. */
#ifndef configPRIO_BITS
#define configPRIO_BITS 3
#endif
#define configLIBRARY_LOWEST_INTERRUPT_PRIORITY ((1 << configPRIO_BITS) - 1)
#define configLIBRARY_MAX_SYSCALL_INTERRUPT_PRIORITY 5
#define configKERNEL_INTERRUPT_PRIORITY (configLIBRARY_LOWEST_INTERRUPT_PRIORITY << (8 - configPRIO_BITS))
#define configMAX_SYSCALL_INTERRUPT_PRIORITY (configLIBRARY_MAX_SYSCALL_INTERRUPT_PRIORITY << (8 - configPRIO_BITS))
#define configMAX_API_CALL_INTERRUPT_PRIORITY configMAX_SYSCALL_INTERRUPT_PRIORITY

/* ARMv8-M without TrustZone and without the MPU. */
#define configENABLE_TRUSTZONE 0
/* 1 to run ARM_CM33_NTZ on a core in Secure state with no Non-secure
 * image (QEMU's mps2-an505 boots Secure): with 0 the port starts the first
 * task with EXC_RETURN 0xFFFFFFBC, a return to Non-secure state, which
 * faults there. */
#ifndef configRUN_FREERTOS_SECURE_ONLY
#define configRUN_FREERTOS_SECURE_ONLY 0
#endif
#define configENABLE_MPU 0
#ifndef configENABLE_FPU
#define configENABLE_FPU 0
#endif
#define configENABLE_MVE 0

/* RISC-V (portable/GCC/RISC-V): QEMU virt's CLINT, and an ISR stack the
 * port allocates itself (xISRStack; without this define it takes the
 * linker's __freertos_irq_stack_top). */
#ifdef __riscv
#define configMTIME_BASE_ADDRESS (0x0200BFF8UL)
#define configMTIMECMP_BASE_ADDRESS (0x02004000UL)
#ifndef configISR_STACK_SIZE_WORDS
#define configISR_STACK_SIZE_WORDS 256
#endif
#endif

/* The application's assert handler (it prints and stops). */
void vAssertCalled(const char *file, int line);
#define configASSERT(x) do { if ((x) == 0) vAssertCalled(__FILE__, __LINE__); } while (0)

#endif
