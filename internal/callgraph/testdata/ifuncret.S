/* Resolver shapes for TestIFuncResolverShapes (ifuncret_test.go), built
   there with gcc -shared -nostdlib. Each r_* returns in rax the
   implementation a GNU ifunc call would go to; the test asks the value
   analysis (ifuncret.go) what each can return. */
	.text
	.type	impl1, @function
impl1:	nop
	ret
	.size	impl1, .-impl1
	.type	impl2, @function
impl2:	ret
	.size	impl2, .-impl2
	.type	impl3, @function
impl3:	ret
	.size	impl3, .-impl3
	.type	ext, @function
ext:	xor	%eax, %eax
	ret
	.size	ext, .-ext

/* Two constants joined by a cmov: {impl2, impl3}. */
	.type	r_cmov, @function
r_cmov:
	lea	impl2(%rip), %rdx
	lea	impl3(%rip), %rax
	test	%edi, %edi
	cmovne	%rdx, %rax
	ret
	.size	r_cmov, .-r_cmov

/* A constant, or a tail jump to another resolver (followed once):
   {impl1, impl2, impl3}. */
	.type	r_tail, @function
r_tail:
	test	%edi, %edi
	jne	1f
	lea	impl1(%rip), %rax
	ret
1:	jmp	r_cmov
	.size	r_tail, .-r_tail

/* A jump to r_tail, which jumps again: not proved. */
	.type	r_tail2, @function
r_tail2:
	jmp	r_tail
	.size	r_tail2, .-r_tail2

/* Null on one path (no target): {impl1}. */
	.type	r_null, @function
r_null:
	xor	%eax, %eax
	test	%edi, %edi
	je	1f
	lea	impl1(%rip), %rax
1:	ret
	.size	r_null, .-r_null

/* Kept in a callee-saved register across a call: {impl1}. */
	.type	r_call, @function
r_call:
	push	%rbx
	lea	impl1(%rip), %rbx
	lea	impl2(%rip), %rax
	call	ext
	mov	%rbx, %rax
	pop	%rbx
	ret
	.size	r_call, .-r_call

/* Kept in a caller-saved register across a call: not proved. */
	.type	r_clobber, @function
r_clobber:
	sub	$8, %rsp
	lea	impl1(%rip), %rcx
	call	ext
	mov	%rcx, %rax
	add	$8, %rsp
	ret
	.size	r_clobber, .-r_clobber

/* The callee's result: not proved. */
	.type	r_result, @function
r_result:
	sub	$8, %rsp
	call	ext
	add	$8, %rsp
	ret
	.size	r_result, .-r_result

/* An address inside a function (impl1's ret): not proved. */
	.type	r_mid, @function
r_mid:
	lea	impl1+1(%rip), %rax
	ret
	.size	r_mid, .-r_mid

/* An indirect jump: not proved. */
	.type	r_indirect, @function
r_indirect:
	lea	1f(%rip), %rdx
	jmp	*%rdx
1:	lea	impl1(%rip), %rax
	ret
	.size	r_indirect, .-r_indirect

/* Through a stack slot (a load): not proved. */
	.type	r_spill, @function
r_spill:
	lea	impl1(%rip), %rax
	mov	%rax, -8(%rsp)
	mov	-8(%rsp), %rax
	ret
	.size	r_spill, .-r_spill

/* A 32-bit lea (the relocated address truncated): not proved. */
	.type	r_lea32, @function
r_lea32:
	lea	impl1(%rip), %eax
	ret
	.size	r_lea32, .-r_lea32

/* A constant moved on: not proved. */
	.type	r_add, @function
r_add:
	lea	impl1(%rip), %rax
	add	$16, %rax
	ret
	.size	r_add, .-r_add

/* A loop that swaps two registers: both constants reach the ret,
   {impl1, impl2}. */
	.type	r_loop, @function
r_loop:
	lea	impl1(%rip), %rax
	lea	impl2(%rip), %rdx
1:	mov	%rax, %rcx
	mov	%rdx, %rax
	mov	%rcx, %rdx
	dec	%edi
	jne	1b
	ret
	.size	r_loop, .-r_loop

/* Falls off its end: not proved. */
	.type	r_falls, @function
r_falls:
	lea	impl1(%rip), %rax
	.size	r_falls, .-r_falls
	.type	r_after, @function
r_after:
	ret
	.size	r_after, .-r_after

/* The return address overwritten: its ret goes to impl1, not back to
   the caller. Not proved. */
	.type	r_retaddr, @function
r_retaddr:
	lea	impl1(%rip), %rax
	mov	%rax, (%rsp)
	lea	impl2(%rip), %rax
	ret
	.size	r_retaddr, .-r_retaddr

/* A push before the ret (a jump to impl1): not proved. */
	.type	r_push, @function
r_push:
	lea	impl1(%rip), %rax
	push	%rax
	lea	impl2(%rip), %rax
	ret
	.size	r_push, .-r_push

/* A call inside itself: not proved. */
	.type	r_inner, @function
r_inner:
	call	1f
	lea	impl1(%rip), %rax
	ret
1:	lea	impl2(%rip), %rax
	ret
	.size	r_inner, .-r_inner

/* A frame-pointer frame left with leave (gcc -O0): {impl2}. */
	.type	r_frame, @function
r_frame:
	push	%rbp
	mov	%rsp, %rbp
	sub	$16, %rsp
	lea	impl1(%rip), %rax
	mov	%rax, -8(%rbp)
	lea	impl2(%rip), %rax
	leave
	ret
	.size	r_frame, .-r_frame
