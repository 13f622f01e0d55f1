/* Hand-written shapes of SP saved in a frame slot and loaded back from it
 * (TestX86SPSlotAsm). Each function saves SP in [rbp-8] or [rsp], moves
 * SP by a run-time amount (a VLA), calls, and loads SP back from the
 * slot; the comment says what the walk must make of it. The frames are
 * 8 (return address) + 8 (rbp) + 32 = 48 bytes besides the VLA. */
	.intel_syntax noprefix
	.text

	.globl leaf
	.type leaf, @function
leaf:
	ret
	.size leaf, .-leaf

/* The slot kept: dynamic 48 (the VLA), no unknown. */
	.globl slot_kept
	.type slot_kept, @function
slot_kept:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	mov QWORD PTR [rbp-8], rsp
	sub rsp, rdi
	mov rdi, rsp
	call leaf
	mov BYTE PTR [rsp], 1
	movzx eax, BYTE PTR [rbp-8]
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_kept, .-slot_kept

/* Saved through rsp, loaded through rbp: dynamic 48. */
	.globl slot_rsp_saved
	.type slot_rsp_saved, @function
slot_rsp_saved:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	mov QWORD PTR [rsp], rsp
	sub rsp, rdi
	call leaf
	mov rsp, QWORD PTR [rbp-32]
	leave
	ret
	.size slot_rsp_saved, .-slot_rsp_saved

/* The slot overwritten with something else before the load: unknown. */
	.globl slot_overwritten
	.type slot_overwritten, @function
slot_overwritten:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	mov QWORD PTR [rbp-8], rsp
	sub rsp, rdi
	call leaf
	mov QWORD PTR [rbp-8], rax
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_overwritten, .-slot_overwritten

/* Four of its bytes overwritten: unknown. */
	.globl slot_half_overwritten
	.type slot_half_overwritten, @function
slot_half_overwritten:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	mov QWORD PTR [rbp-8], rsp
	sub rsp, rdi
	call leaf
	mov DWORD PTR [rbp-4], eax
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_half_overwritten, .-slot_half_overwritten

/* The slot's address passed to a callee, which may write it: unknown. */
	.globl slot_escaped
	.type slot_escaped, @function
slot_escaped:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	mov QWORD PTR [rbp-8], rsp
	sub rsp, rdi
	lea rdi, [rbp-8]
	call leaf
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_escaped, .-slot_escaped

/* Two paths that save SP at different depths join before the load:
 * unknown. */
	.globl slot_join
	.type slot_join, @function
slot_join:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	test esi, esi
	je 1f
	push rbx
	mov QWORD PTR [rbp-8], rsp
	jmp 2f
1:	mov QWORD PTR [rbp-8], rsp
2:	sub rsp, rdi
	call leaf
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_join, .-slot_join

/* Loaded from a slot that was never written: unknown. */
	.globl slot_never_saved
	.type slot_never_saved, @function
slot_never_saved:
	push rbp
	mov rbp, rsp
	sub rsp, 32
	sub rsp, rdi
	call leaf
	mov rsp, QWORD PTR [rbp-8]
	leave
	ret
	.size slot_never_saved, .-slot_never_saved
	.section .note.GNU-stack,"",@progbits
