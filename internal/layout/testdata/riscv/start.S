/* Reset code for the hand-written RISC-V test images: load SP from the
 * linker script's _stack_top (la sp: what layout reads as the stack's top),
 * call main, then wait. */
	.section .text.start, "ax"
	.globl _start
_start:
	la sp, _stack_top
	call main
1:	j 1b
