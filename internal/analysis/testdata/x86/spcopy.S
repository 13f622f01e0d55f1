/* Hand-written shapes of SP copies and return addresses for
 * TestX86SPCopiesAsm: what each function's frame must be is written
 * beside it (bytes below the caller's SP, return address included). */
	.intel_syntax noprefix
	.text

	.globl leaf
	.type leaf, @function
leaf:
	ret
	.size leaf, .-leaf

/* GCC's DRAP in r13 (sqlite3ExprCodeTarget at -march=x86-64-v3): static
 * 120 = 8 + push 8 + realignment to 32 (24 more: with DRAP, GCC's .su
 * takes SP to be only 8-aligned, and so does the analyzer) + push 8 +
 * push 8 + 64. */
	.globl drap_r13
	.type drap_r13, @function
drap_r13:
	push r13
	lea r13, [rsp+16]
	and rsp, -32
	push QWORD PTR [r13-8]
	push rbp
	mov rbp, rsp
	sub rsp, 0x40
	call leaf
	leave
	lea rsp, [r13-16]
	pop r13
	ret
	.size drap_r13, .-drap_r13

/* DRAP in r10, pushed and reloaded from the frame: static 96. */
	.globl drap_r10_reload
	.type drap_r10_reload, @function
drap_r10_reload:
	lea r10, [rsp+8]
	and rsp, -32
	push QWORD PTR [r10-8]
	push rbp
	mov rbp, rsp
	push r10
	sub rsp, 0x28
	call leaf
	mov r10, QWORD PTR [rbp-8]
	leave
	lea rsp, [r10-8]
	ret
	.size drap_r10_reload, .-drap_r10_reload

/* SP saved in a callee-saved register across a call: static 48. */
	.globl sp_in_rbx
	.type sp_in_rbx, @function
sp_in_rbx:
	push rbx
	mov rbx, rsp
	call leaf
	sub rsp, 0x20
	call leaf
	mov rsp, rbx
	pop rbx
	ret
	.size sp_in_rbx, .-sp_in_rbx

/* The register is written before SP is restored from it: unknown. */
	.globl sp_in_rbx_clobbered
	.type sp_in_rbx_clobbered, @function
sp_in_rbx_clobbered:
	push rbx
	mov rbx, rsp
	sub rsp, 0x20
	call leaf
	xchg rbx, rax
	mov rsp, rbx
	pop rbx
	ret
	.size sp_in_rbx_clobbered, .-sp_in_rbx_clobbered

/* Kept in a caller-saved register across a call: unknown. */
	.globl sp_in_rcx_call
	.type sp_in_rcx_call, @function
sp_in_rcx_call:
	push rbx
	mov rcx, rsp
	sub rsp, 0x20
	call leaf
	mov rsp, rcx
	pop rbx
	ret
	.size sp_in_rcx_call, .-sp_in_rcx_call

/* Two paths leave different copies in r12: unknown. */
	.globl sp_copy_join
	.type sp_copy_join, @function
sp_copy_join:
	push r12
	test edi, edi
	je 1f
	mov r12, rsp
	jmp 2f
1:	lea r12, [rsp-64]
2:	sub rsp, 0x80
	call leaf
	mov rsp, r12
	pop r12
	ret
	.size sp_copy_join, .-sp_copy_join

/* Its return address overwritten with a constant: unknown. */
	.globl ret_overwritten
	.type ret_overwritten, @function
ret_overwritten:
	mov QWORD PTR [rsp], 0
	ret
	.size ret_overwritten, .-ret_overwritten

/* push; ret: a jump through the pushed register (an indirect tail
 * call), not a return. */
	.globl push_ret
	.type push_ret, @function
push_ret:
	mov rax, rdi
	push rax
	ret
	.size push_ret, .-push_ret

/* vfork's shape: the return address popped into a register and pushed
 * back (a callee-saved one, across a call): a plain return, static 8. */
	.globl pop_push_ret
	.type pop_push_ret, @function
pop_push_ret:
	pop rbx
	call leaf
	push rbx
	ret
	.size pop_push_ret, .-pop_push_ret

/* A call to abort, then bytes that are no code of this path (here an
 * SP move of 4 KiB): not walked, static 16. */
	.globl noret_then_data
	.type noret_then_data, @function
noret_then_data:
	push rbx
	call abort@PLT
	sub rsp, 0x1000
	ret
	.size noret_then_data, .-noret_then_data

	.section .note.GNU-stack,"",@progbits
