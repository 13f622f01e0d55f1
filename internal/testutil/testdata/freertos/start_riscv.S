/* Reset code for the RISC-V FreeRTOS test firmware (testutil.BuildFreeRTOS,
 * port "rv32"/"rv64"): set the stack pointer and the global pointer, clear
 * .bss, point mtvec (direct mode) at the port's trap handler, call main. */
	.section .text.start, "ax"
	.globl _start
_start:
	.option push
	.option norelax
	la gp, __global_pointer$
	.option pop
	la sp, _stack_top
	la t0, __bss_start
	la t1, __bss_end
1:	bgeu t0, t1, 2f
	sb zero, 0(t0)
	addi t0, t0, 1
	j 1b
2:	la t0, freertos_risc_v_trap_handler
	csrw mtvec, t0
	call main
3:	j 3b
