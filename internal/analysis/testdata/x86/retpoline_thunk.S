/* The thunk -mindirect-branch=thunk-extern expects the program to bring,
 * in GCC's shape, under the name given by -DTHUNK (TestX86Retpoline also
 * builds it under a name nothing recognises). */
	.text
	.globl THUNK
	.type THUNK, @function
THUNK:
	call 1f
2:	pause
	lfence
	jmp 2b
1:	mov %rax, (%rsp)
	ret
	.size THUNK, .-THUNK
	.section .note.GNU-stack,"",@progbits
