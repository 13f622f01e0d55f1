/* Values kept in the frame before an indirect call: see TestFrameSlots.
   Each function ends in `call *%rax`; the test asks the data flow what
   rax holds there: the entry value of rdi (the slot kept it), or nothing
   known. */
	.text
	.globl	ext
	.type	ext, @function
ext:
	ret
	.size	ext, .-ext

/* Stored at entry, kept across a call, reloaded: rdi. */
	.globl	slot_ok
	.type	slot_ok, @function
slot_ok:
	sub	$0x18, %rsp
	mov	%rdi, 0x8(%rsp)
	call	ext
	mov	0x8(%rsp), %rax
	call	*%rax
	add	$0x18, %rsp
	ret
	.size	slot_ok, .-slot_ok

/* A frame pointer's slot [rbp-8]: rdi. */
	.globl	slot_fp
	.type	slot_fp, @function
slot_fp:
	push	%rbp
	mov	%rsp, %rbp
	sub	$0x10, %rsp
	mov	%rdi, -0x8(%rbp)
	call	ext
	mov	-0x8(%rbp), %rax
	call	*%rax
	leave
	ret
	.size	slot_fp, .-slot_fp

/* On one path the slot is written with rdx: unknown. */
	.globl	slot_one_path
	.type	slot_one_path, @function
slot_one_path:
	sub	$0x18, %rsp
	mov	%rdi, 0x8(%rsp)
	test	%esi, %esi
	je	1f
	mov	%rdx, 0x8(%rsp)
1:	call	ext
	mov	0x8(%rsp), %rax
	call	*%rax
	add	$0x18, %rsp
	ret
	.size	slot_one_path, .-slot_one_path

/* Four bytes of the slot written: unknown. */
	.globl	slot_partial
	.type	slot_partial, @function
slot_partial:
	sub	$0x18, %rsp
	mov	%rdi, 0x8(%rsp)
	movl	$0, 0xc(%rsp)
	mov	0x8(%rsp), %rax
	call	*%rax
	add	$0x18, %rsp
	ret
	.size	slot_partial, .-slot_partial

/* A frame address goes to ext, which could write the slot: unknown. */
	.globl	slot_leak
	.type	slot_leak, @function
slot_leak:
	sub	$0x18, %rsp
	mov	%rdi, 0x8(%rsp)
	lea	0x10(%rsp), %rdi
	call	ext
	mov	0x8(%rsp), %rax
	call	*%rax
	add	$0x18, %rsp
	ret
	.size	slot_leak, .-slot_leak

/* The slot is the word at the call's SP, where a stack argument goes
   (the callee owns it): unknown. */
	.globl	slot_stack_arg
	.type	slot_stack_arg, @function
slot_stack_arg:
	sub	$0x18, %rsp
	mov	%rdi, (%rsp)
	call	ext
	mov	(%rsp), %rax
	call	*%rax
	add	$0x18, %rsp
	ret
	.size	slot_stack_arg, .-slot_stack_arg

/* A slot below the red zone (a signal handler may write it): unknown. */
	.globl	slot_below_red_zone
	.type	slot_below_red_zone, @function
slot_below_red_zone:
	mov	%rdi, -0x100(%rsp)
	mov	-0x100(%rsp), %rax
	jmp	*%rax
	.size	slot_below_red_zone, .-slot_below_red_zone

/* SP realigned: the slot's place is not known any more: unknown. */
	.globl	slot_realigned
	.type	slot_realigned, @function
slot_realigned:
	push	%rbp
	mov	%rsp, %rbp
	sub	$0x20, %rsp
	mov	%rdi, 0x8(%rsp)
	and	$-32, %rsp
	mov	0x8(%rsp), %rax
	call	*%rax
	leave
	ret
	.size	slot_realigned, .-slot_realigned
