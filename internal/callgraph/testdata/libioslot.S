/* Calls through a FILE jump table slot whose vtable pointer is kept in a
   slot of the frame across glibc's vtable check, the shape of glibc
   2.36's _IO_new_file_underflow: see TestVtableKeptInSlot. */
	.text
	.globl	_IO_vtable_check
	.hidden	_IO_vtable_check
	.type	_IO_vtable_check, @function
_IO_vtable_check:
	ret
	.size	_IO_vtable_check, .-_IO_vtable_check

	.globl	overflow_impl
	.type	overflow_impl, @function
overflow_impl:
	ret
	.size	overflow_impl, .-overflow_impl

/* The pointer stored to 0x8(%rsp), checked, reloaded: the model applies. */
	.globl	kept_ok
	.type	kept_ok, @function
kept_ok:
	sub	$0x18, %rsp
	mov	0xd8(%rdi), %rax
	lea	__start___libc_IO_vtables(%rip), %rcx
	lea	__stop___libc_IO_vtables(%rip), %rdx
	sub	%rcx, %rdx
	mov	%rax, 0x8(%rsp)
	sub	%rcx, %rax
	cmp	%rdx, %rax
	jae	2f
1:	mov	$-1, %esi
	mov	0x8(%rsp), %rax
	call	*0x18(%rax)
	add	$0x18, %rsp
	ret
2:	call	_IO_vtable_check
	jmp	1b
	.size	kept_ok, .-kept_ok

/* After the check the slot is written again (with rdi, not checked):
   refused. */
	.globl	kept_rewritten
	.type	kept_rewritten, @function
kept_rewritten:
	sub	$0x18, %rsp
	mov	0xd8(%rdi), %rax
	lea	__start___libc_IO_vtables(%rip), %rcx
	lea	__stop___libc_IO_vtables(%rip), %rdx
	sub	%rcx, %rdx
	mov	%rax, 0x8(%rsp)
	sub	%rcx, %rax
	cmp	%rdx, %rax
	jae	2f
1:	mov	%rdi, 0x8(%rsp)
	mov	0x8(%rsp), %rax
	call	*0x18(%rax)
	add	$0x18, %rsp
	ret
2:	call	_IO_vtable_check
	jmp	1b
	.size	kept_rewritten, .-kept_rewritten

/* The check block writes a byte of the slot: refused. */
	.globl	kept_block_writes
	.type	kept_block_writes, @function
kept_block_writes:
	sub	$0x18, %rsp
	mov	0xd8(%rdi), %rax
	lea	__start___libc_IO_vtables(%rip), %rcx
	lea	__stop___libc_IO_vtables(%rip), %rdx
	sub	%rcx, %rdx
	mov	%rax, 0x8(%rsp)
	sub	%rcx, %rax
	cmp	%rdx, %rax
	jae	2f
1:	mov	$-1, %esi
	mov	0x8(%rsp), %rax
	call	*0x18(%rax)
	add	$0x18, %rsp
	ret
2:	call	_IO_vtable_check
	movb	$0, 0xc(%rsp)
	jmp	1b
	.size	kept_block_writes, .-kept_block_writes

/* The frame's address goes to another function (which could write the
   slot through it): refused. */
	.globl	kept_leaked
	.type	kept_leaked, @function
kept_leaked:
	sub	$0x18, %rsp
	mov	%rdi, 0x10(%rsp)
	lea	0x10(%rsp), %rdi
	call	overflow_impl
	mov	0x10(%rsp), %rdi
	mov	0xd8(%rdi), %rax
	lea	__start___libc_IO_vtables(%rip), %rcx
	lea	__stop___libc_IO_vtables(%rip), %rdx
	sub	%rcx, %rdx
	mov	%rax, 0x8(%rsp)
	sub	%rcx, %rax
	cmp	%rdx, %rax
	jae	2f
1:	mov	$-1, %esi
	mov	0x8(%rsp), %rax
	call	*0x18(%rax)
	add	$0x18, %rsp
	ret
2:	call	_IO_vtable_check
	jmp	1b
	.size	kept_leaked, .-kept_leaked

/* A path that skips the store joins before the branch: refused. */
	.globl	kept_joined
	.type	kept_joined, @function
kept_joined:
	sub	$0x18, %rsp
	mov	0xd8(%rdi), %rax
	lea	__start___libc_IO_vtables(%rip), %rcx
	lea	__stop___libc_IO_vtables(%rip), %rdx
	sub	%rcx, %rdx
	test	%esi, %esi
	je	3f
	mov	%rax, 0x8(%rsp)
3:	sub	%rcx, %rax
	cmp	%rdx, %rax
	jae	2f
1:	mov	$-1, %esi
	mov	0x8(%rsp), %rax
	call	*0x18(%rax)
	add	$0x18, %rsp
	ret
2:	call	_IO_vtable_check
	jmp	1b
	.size	kept_joined, .-kept_joined

	.section __libc_IO_vtables, "aw"
	.align 8
	.globl	io_table
	.type	io_table, @object
io_table:
	.quad	0, 0, 0, overflow_impl
	.size	io_table, .-io_table
