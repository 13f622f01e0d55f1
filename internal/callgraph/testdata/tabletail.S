/* A switch read through a jump table and, on another path, a tail call
   through a function pointer (the third argument): for
   TestTableTargetsFollowTheFrame. The frame walk finds the cases only
   through the table, so it counts both indirect jumps as tables. */
	.text
	.globl	sw_tail
	.type	sw_tail, @function
sw_tail:
	test	%esi, %esi
	jne	.Ltail
	cmp	$2, %edi
	ja	.Ltdef
	lea	.Lttab(%rip), %rcx
	movslq	(%rcx,%rdi,4), %rax
	add	%rcx, %rax
	jmp	*%rax
.Lt0:	mov	$10, %eax
	ret
.Lt1:	mov	$11, %eax
	ret
.Lt2:	mov	$12, %eax
	ret
.Ltdef:	xor	%eax, %eax
	ret
.Ltail:	mov	%rdx, %rax
	jmp	*%rax
	.size	sw_tail, .-sw_tail
	.section .rodata
	.align 4
.Lttab:	.long	.Lt0-.Lttab, .Lt1-.Lttab, .Lt2-.Lttab
	.section .note.GNU-stack,"",@progbits
