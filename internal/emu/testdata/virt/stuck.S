/* Two ways a RISC-V program on QEMU virt never ends, for the run tests
 * (virt_test.go builds it with riscv64-unknown-elf-gcc -nostdlib -Wl,-N
 * -Wl,-Ttext=ADDR, RV32 or RV64):
 *   default: "j ." after setting up a stack, the usual "hang here";
 *   -DTRAP: an illegal instruction with mtvec still 0 from reset, so the
 *   trap goes to address 0, where virt has no memory, and faults again,
 *   forever. */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	.option push
	.option norelax
	la sp, stack_top
	.option pop
#ifdef TRAP
	.word 0
#endif
1:	j 1b
	.size _start, . - _start

	.bss
	.balign 16
stack:
	.space 256
stack_top:
