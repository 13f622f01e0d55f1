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
	.text

/* A switch whose default case loads its label before the bound and
   branches over the lookup to a join before the jump (glibc 2.36's
   __vfwprintf_internal, at 0x6b1e0): the table's three cases and the
   default. */
	.globl	sw_joined
	.type	sw_joined, @function
sw_joined:
	lea	.Ljd(%rip), %rax
	cmp	$2, %edi
	ja	1f
	lea	.Ljtab(%rip), %rdx
	movslq	(%rdx,%rdi,4), %rax
	add	%rdx, %rax
1:	movl	$1, -8(%rsp)
	jmp	*%rax
.Lj0:	mov	$10, %eax
	ret
.Lj1:	mov	$11, %eax
	ret
.Lj2:	mov	$12, %eax
	ret
.Ljd:	xor	%eax, %eax
	ret
	.size	sw_joined, .-sw_joined
	.section .rodata
	.align 4
.Ljtab:	.long	.Lj0-.Ljtab, .Lj1-.Ljtab, .Lj2-.Ljtab
	.text

/* The same, but the path over the lookup loads the target from memory:
   refused. */
	.globl	sw_joined_loaded
	.type	sw_joined_loaded, @function
sw_joined_loaded:
	mov	(%rsi), %rax
	cmp	$2, %edi
	ja	1f
	lea	.Lktab(%rip), %rdx
	movslq	(%rdx,%rdi,4), %rax
	add	%rdx, %rax
1:	movl	$1, -8(%rsp)
	jmp	*%rax
.Lk0:	mov	$10, %eax
	ret
.Lk1:	mov	$11, %eax
	ret
.Lk2:	mov	$12, %eax
	ret
	.size	sw_joined_loaded, .-sw_joined_loaded
	.section .rodata
	.align 4
.Lktab:	.long	.Lk0-.Lktab, .Lk1-.Lktab, .Lk2-.Lktab
	.text

/* A switch whose table base is put in a callee-saved register before a
   call and used after it (ld.so's dl_main keeps it in r13 from its
   prologue on): the call leaves r13 as it was. */
	.type	jt_leaf, @function
jt_leaf:
	xor	%edx, %edx
	ret
	.size	jt_leaf, .-jt_leaf

	.globl	sw_saved
	.type	sw_saved, @function
sw_saved:
	push	%r13
	push	%r12
	sub	$8, %rsp
	mov	%edi, %r12d
	lea	.Lstab(%rip), %r13
	call	jt_leaf
	cmp	$2, %r12d
	ja	.Lsdef
	movslq	(%r13,%r12,4), %rax
	add	%r13, %rax
	jmp	*%rax
.Ls0:	mov	$10, %eax
	jmp	.Lsout
.Ls1:	mov	$11, %eax
	jmp	.Lsout
.Ls2:	mov	$12, %eax
	jmp	.Lsout
.Lsdef:	xor	%eax, %eax
.Lsout:	add	$8, %rsp
	pop	%r12
	pop	%r13
	ret
	.size	sw_saved, .-sw_saved
	.section .rodata
	.align 4
.Lstab:	.long	.Ls0-.Lstab, .Ls1-.Lstab, .Ls2-.Lstab
	.text

/* The same with the base in rdx, which the call may change: refused. */
	.globl	sw_clobbered
	.type	sw_clobbered, @function
sw_clobbered:
	push	%r12
	mov	%edi, %r12d
	lea	.Lctab(%rip), %rdx
	call	jt_leaf
	cmp	$2, %r12d
	ja	.Lcdef
	movslq	(%rdx,%r12,4), %rax
	add	%rdx, %rax
	jmp	*%rax
.Lc0x:	mov	$10, %eax
	pop	%r12
	ret
.Lc1x:	mov	$11, %eax
	pop	%r12
	ret
.Lc2x:	mov	$12, %eax
	pop	%r12
	ret
.Lcdef:	xor	%eax, %eax
	pop	%r12
	ret
	.size	sw_clobbered, .-sw_clobbered
	.section .rodata
	.align 4
.Lctab:	.long	.Lc0x-.Lctab, .Lc1x-.Lctab, .Lc2x-.Lctab
	.text

	.section .note.GNU-stack,"",@progbits
