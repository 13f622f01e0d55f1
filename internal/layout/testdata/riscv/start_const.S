/* Reset code that sets SP to a constant (the end of nosyms.ld's RAM) and
 * names no stack symbol: layout finds the top but no limit. */
	.section .text.start, "ax"
	.globl _start
_start:
	li sp, 0x80010000
	call main
1:	j 1b
