/* Functions whose indirect jumps decodeLinear must read (or refuse):
   see TestDecodeLinearJumpTables. */
	.text

/* A switch as GCC emits it: bounded by cmp/ja, entries relative to the table. */
	.globl	sw_table
	.type	sw_table, @function
sw_table:
	cmp	$2, %edi
	ja	.Ldef
	lea	.Ltab(%rip), %rdx
	movslq	(%rdx,%rdi,4), %rax
	add	%rdx, %rax
	jmp	*%rax
.Lc0:	mov	$10, %eax
	ret
.Lc1:	mov	$11, %eax
	ret
.Lc2:	mov	$12, %eax
	ret
.Ldef:	xor	%eax, %eax
	ret
	.size	sw_table, .-sw_table
	.section .rodata
	.align 4
.Ltab:	.long	.Lc0-.Ltab, .Lc1-.Ltab, .Lc2-.Ltab
	.text

/* A computed goto whose label every path loads with lea. */
	.globl	goto_const
	.type	goto_const, @function
goto_const:
	lea	.Lg1(%rip), %rax
	test	%edi, %edi
	je	1f
	lea	.Lg2(%rip), %rax
1:	jmp	*%rax
.Lg1:	mov	$1, %eax
	ret
.Lg2:	mov	$2, %eax
	ret
	.size	goto_const, .-goto_const

/* The same, but one path loads the target from memory: not known. */
	.globl	goto_loaded
	.type	goto_loaded, @function
goto_loaded:
	lea	.Lh1(%rip), %rax
	test	%edi, %edi
	je	1f
	mov	(%rsi), %rax
1:	jmp	*%rax
.Lh1:	mov	$1, %eax
	ret
	.size	goto_loaded, .-goto_loaded

/* A jump through a register loaded from memory in a function with code
   no direct path reaches (the frame walk counts a jump table): refused. */
	.globl	jump_unresolved
	.type	jump_unresolved, @function
jump_unresolved:
	mov	(%rdi), %rax
	jmp	*%rax
	mov	$3, %eax
	ret
	.size	jump_unresolved, .-jump_unresolved

/* A table whose entry lands inside an instruction: refused. */
	.globl	sw_misaligned
	.type	sw_misaligned, @function
sw_misaligned:
	cmp	$1, %edi
	ja	.Lmdef
	lea	.Lmtab(%rip), %rdx
	movslq	(%rdx,%rdi,4), %rax
	add	%rdx, %rax
	jmp	*%rax
.Lm0:	mov	$0x12345678, %eax
	ret
.Lmdef:	xor	%eax, %eax
	ret
	.size	sw_misaligned, .-sw_misaligned
	.section .rodata
	.align 4
.Lmtab:	.long	.Lm0-.Lmtab, .Lm0+1-.Lmtab
	.section .note.GNU-stack,"",@progbits
