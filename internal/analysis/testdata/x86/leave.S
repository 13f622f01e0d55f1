/* SP set from a value that is no copy of SP, then a jump (TestX86Leaves):
 * a context switch of a program's own, and a function named like glibc's
 * __longjmp in a library that is not glibc. The frame walk ends the path
 * at the write of SP and keeps the frame unknown: only glibc's longjmp
 * functions are known to jump to a live frame above. */
	.intel_syntax noprefix
	.text

	.globl ctx_switch
	.type ctx_switch, @function
ctx_switch:
	push rbx
	mov rbx, rdi
	mov rsp, QWORD PTR [rbx]
	mov rbp, QWORD PTR [rbx+8]
	jmp QWORD PTR [rbx+16]
	.size ctx_switch, .-ctx_switch

	.globl __longjmp
	.type __longjmp, @function
__longjmp:
	mov r8, QWORD PTR [rdi+0x30]
	mov rdx, QWORD PTR [rdi+0x38]
	mov rsp, r8
	jmp rdx
	.size __longjmp, .-__longjmp

/* A push on the new stack before the jump: not the shape, "not
 * modelled". */
	.globl push_then_jump
	.type push_then_jump, @function
push_then_jump:
	mov rsp, rdi
	push rsi
	jmp rdx
	.size push_then_jump, .-push_then_jump
	.section .note.GNU-stack,"",@progbits
