/* Calls through a FILE jump table slot whose paths join before the call
   (glibc 2.36's __printf_fp_l): see TestJoinedSlotLoad. Each path loads
   the slot after glibc's vtable check (r15 - section start compared with
   its size; out of it, a block that calls _IO_vtable_check and loads the
   slot again). */
	.text
/* Hidden, as in glibc: a call of it is then direct, not through the PLT. */
	.globl	_IO_vtable_check
	.hidden	_IO_vtable_check
	.type	_IO_vtable_check, @function
_IO_vtable_check:
	ret
	.size	_IO_vtable_check, .-_IO_vtable_check

	.globl	xsputn_impl
	.type	xsputn_impl, @function
xsputn_impl:
	ret
	.size	xsputn_impl, .-xsputn_impl

/* Both paths load slot +0x38 after a check: the model applies. */
	.globl	joined_ok
	.type	joined_ok, @function
joined_ok:
	push	%r15
	mov	0xd8(%rdi), %r15
	lea	__start___libc_IO_vtables(%rip), %rdx
	lea	__stop___libc_IO_vtables(%rip), %rax
	sub	%rdx, %rax
	mov	%r15, %rcx
	sub	%rdx, %rcx
	cmp	%rax, %rcx
	jae	2f
	mov	0x38(%r15), %rax
	mov	%rsi, %r11
1:	mov	%r11, %rsi
	call	*%rax
	pop	%r15
	ret
2:	mov	%rsi, -16(%rsp)
	call	_IO_vtable_check
	mov	0x38(%r15), %rax
	mov	-16(%rsp), %r11
	jmp	1b
	.size	joined_ok, .-joined_ok

/* The block loads another slot: refused. */
	.globl	joined_other_slot
	.type	joined_other_slot, @function
joined_other_slot:
	push	%r15
	mov	0xd8(%rdi), %r15
	lea	__start___libc_IO_vtables(%rip), %rdx
	lea	__stop___libc_IO_vtables(%rip), %rax
	sub	%rdx, %rax
	mov	%r15, %rcx
	sub	%rdx, %rcx
	cmp	%rax, %rcx
	jae	2f
	mov	0x38(%r15), %rax
	mov	%rsi, %r11
1:	mov	%r11, %rsi
	call	*%rax
	pop	%r15
	ret
2:	mov	%rsi, -16(%rsp)
	call	_IO_vtable_check
	mov	0x40(%r15), %rax
	mov	-16(%rsp), %r11
	jmp	1b
	.size	joined_other_slot, .-joined_other_slot

/* The block writes r15 after the check: refused. */
	.globl	joined_clobbered
	.type	joined_clobbered, @function
joined_clobbered:
	push	%r15
	mov	0xd8(%rdi), %r15
	lea	__start___libc_IO_vtables(%rip), %rdx
	lea	__stop___libc_IO_vtables(%rip), %rax
	sub	%rdx, %rax
	mov	%r15, %rcx
	sub	%rdx, %rcx
	cmp	%rax, %rcx
	jae	2f
	mov	0x38(%r15), %rax
	mov	%rsi, %r11
1:	mov	%r11, %rsi
	call	*%rax
	pop	%r15
	ret
2:	mov	%rsi, -16(%rsp)
	call	_IO_vtable_check
	mov	(%rsi), %r15
	mov	0x38(%r15), %rax
	mov	-16(%rsp), %r11
	jmp	1b
	.size	joined_clobbered, .-joined_clobbered

/* A third path joins with a pointer it did not check: refused. */
	.globl	joined_unchecked
	.type	joined_unchecked, @function
joined_unchecked:
	push	%r15
	test	%edx, %edx
	jne	3f
	mov	0xd8(%rdi), %r15
	lea	__start___libc_IO_vtables(%rip), %rdx
	lea	__stop___libc_IO_vtables(%rip), %rax
	sub	%rdx, %rax
	mov	%r15, %rcx
	sub	%rdx, %rcx
	cmp	%rax, %rcx
	jae	2f
	mov	0x38(%r15), %rax
	mov	%rsi, %r11
1:	mov	%r11, %rsi
	call	*%rax
	pop	%r15
	ret
2:	mov	%rsi, -16(%rsp)
	call	_IO_vtable_check
	mov	0x38(%r15), %rax
	mov	-16(%rsp), %r11
	jmp	1b
3:	mov	0xd8(%rdi), %r15
	mov	0x38(%r15), %rax
	mov	%rsi, %r11
	jmp	1b
	.size	joined_unchecked, .-joined_unchecked

/* The call copied into the check block, after the call of
   _IO_vtable_check (glibc 2.36's _IO_wdefault_xsputn): see
   TestCalledAfterCheck. The last indirect call of each is the one asked
   about. */
	.globl	in_block_ok
	.type	in_block_ok, @function
in_block_ok:
	push	%rbx
	mov	0xd8(%rdi), %rbx
	lea	__start___libc_IO_vtables(%rip), %rdx
	mov	%rbx, %rax
	sub	%rdx, %rax
	cmp	$0x48, %rax
	jae	2f
	call	*0x18(%rbx)
	pop	%rbx
	ret
	nop
2:	mov	%esi, -12(%rsp)
	call	_IO_vtable_check
	mov	-12(%rsp), %esi
	call	*0x18(%rbx)
	pop	%rbx
	ret
	.size	in_block_ok, .-in_block_ok

/* The block loads rbx again after the check: refused. */
	.globl	in_block_clobbered
	.type	in_block_clobbered, @function
in_block_clobbered:
	push	%rbx
	mov	0xd8(%rdi), %rbx
	lea	__start___libc_IO_vtables(%rip), %rdx
	mov	%rbx, %rax
	sub	%rdx, %rax
	cmp	$0x48, %rax
	jae	2f
	call	*0x18(%rbx)
	pop	%rbx
	ret
2:	call	_IO_vtable_check
	mov	0xd8(%rdi), %rbx
	call	*0x18(%rbx)
	pop	%rbx
	ret
	.size	in_block_clobbered, .-in_block_clobbered

/* The block can be fallen into from code that checked nothing: refused. */
	.globl	in_block_fallen_into
	.type	in_block_fallen_into, @function
in_block_fallen_into:
	push	%rbx
	mov	0xd8(%rdi), %rbx
	test	%esi, %esi
	je	3f
	lea	__start___libc_IO_vtables(%rip), %rdx
	mov	%rbx, %rax
	sub	%rdx, %rax
	cmp	$0x48, %rax
	jae	2f
3:	call	*0x18(%rbx)
	mov	(%rdi), %rbx
2:	call	_IO_vtable_check
	call	*0x18(%rbx)
	pop	%rbx
	ret
	.size	in_block_fallen_into, .-in_block_fallen_into

	.section __libc_IO_vtables,"a",@progbits
	.align 8
	.type	file_jumps, @object
	.size	file_jumps, 0x48
file_jumps:
	.zero	0x38
	.quad	xsputn_impl
	.zero	8
	.section .note.GNU-stack,"",@progbits
