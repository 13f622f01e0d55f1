/* Red-team shapes (TestRedTeamFrameSlotAliases): a frame slot the proofs
 * trust, rewritten through a copy of rbp that the proofs did not count as
 * taking the slot's address. Each function runs one round per character of
 * its string argument; on each round SP sinks for good (a counter that is
 * reset, an SP slot rewritten with a deeper SP), so no frame is bounded.
 * ctr_push and ctr_callee (TestRedTeamWritesBelowSP): a counter in a slot
 * below SP, overwritten by a push or a callee's frame.
 * Built with redteam_frames_main.c: gcc -O1 -fno-pie -no-pie -Wl,-z,now. */
	.text
	.globl leaf
	.type leaf, @function
leaf:
	ret
	.size leaf, .-leaf

/* A counter spilled to -0x14(%rbp) and checked (< 16) before each
   48-byte move; reset on each round through a copy of rbp. */
	.globl ctr_alias
	.type ctr_alias, @function
ctr_alias:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $24,%rsp
	xor %eax,%eax
	mov %eax,-0x14(%rbp)
	mov %rbp,%rdx
.La_loop:
	cmpb $0,(%rdi)
	je .La_done
	mov -0x14(%rbp),%eax
	cmp $15,%eax
	ja .La_fail
	sub $0x30,%rsp
	movl $0,-0x14(%rdx)
	addl $1,-0x14(%rbp)
	add $1,%rdi
	jmp .La_loop
.La_fail:
	call abort
.La_done:
	call leaf
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size ctr_alias, .-ctr_alias

/* The same reset, by a callee given a copy of rbp. */
	.globl reset14
	.type reset14, @function
reset14:
	movl $0,-0x14(%rdi)
	ret
	.size reset14, .-reset14

	.globl ctr_alias_call
	.type ctr_alias_call, @function
ctr_alias_call:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	push %r12
	sub $16,%rsp
	mov %rdi,%rbx
	xor %eax,%eax
	mov %eax,-0x14(%rbp)
.Lb_loop:
	cmpb $0,(%rbx)
	je .Lb_done
	mov -0x14(%rbp),%eax
	cmp $15,%eax
	ja .Lb_fail
	sub $0x30,%rsp
	mov %rbp,%rdi
	call reset14
	addl $1,-0x14(%rbp)
	add $1,%rbx
	jmp .Lb_loop
.Lb_fail:
	call abort
.Lb_done:
	mov -8(%rbp),%rbx
	mov -16(%rbp),%r12
	leave
	ret
	.size ctr_alias_call, .-ctr_alias_call

/* A counter in a slot; rbp swapped with xchg for the check, which then
   reads another word (0): the counter is never checked. */
	.globl ctr_xchg
	.type ctr_xchg, @function
ctr_xchg:
	push %rbp
	mov %rsp,%rbp
	sub $0x40,%rsp
	movl $0,-0x34(%rbp)
	xor %eax,%eax
	mov %eax,-0x14(%rbp)
	lea -0x20(%rbp),%rcx
.Lc_loop:
	cmpb $0,(%rdi)
	je .Lc_done
	xchg %rcx,%rbp
	mov -0x14(%rbp),%eax
	xchg %rcx,%rbp
	cmp $15,%eax
	ja .Lc_fail
	sub $0x30,%rsp
	addl $1,-0x14(%rbp)
	add $1,%rdi
	jmp .Lc_loop
.Lc_fail:
	call abort
.Lc_done:
	xor %edi,%edi
	call exit
	.size ctr_xchg, .-ctr_xchg

/* SP saved in a slot; the slot overwritten through a copy of rbp with the
   SP after a constant move, so SP sinks on each round. */
	.globl slot_alias
	.type slot_alias, @function
slot_alias:
	push %rbp
	mov %rsp,%rbp
	sub $0x50,%rsp
	mov %rbp,%rax
	mov %rsp,-0x48(%rbp)
.Ld_loop:
	cmpb $0,(%rdi)
	je .Ld_done
	sub $0x100,%rsp
	mov %rsp,%rcx
	mov %rcx,-0x48(%rax)
	mov -0x48(%rbp),%rsp
	add $1,%rdi
	jmp .Ld_loop
.Ld_done:
	call leaf
	leave
	ret
	.size slot_alias, .-slot_alias


/* A counter in a slot below SP, which the frame's own push overwrites.
   The counter at -0x2d8(%rbp) is checked (< 16) before each 48-byte
   move; after the 15th move SP is at rbp-0x2d0, and the push of 0 that
   follows writes rbp-0x2d8..rbp-0x2d0: the counter is reset once, and
   30 moves run where the check claims 16. */
	.globl ctr_push
	.type ctr_push, @function
ctr_push:
	push %rbp
	mov %rsp,%rbp
	xor %eax,%eax
	mov %eax,-0x2d8(%rbp)
.Lp_loop:
	cmpb $0,(%rdi)
	je .Lp_done
	mov -0x2d8(%rbp),%eax
	cmp $15,%eax
	ja .Lp_fail
	sub $0x30,%rsp
	push $0
	pop %rcx
	addl $1,-0x2d8(%rbp)
	add $1,%rdi
	jmp .Lp_loop
.Lp_fail:
	call abort
.Lp_done:
	call leaf
	leave
	ret
	.size ctr_push, .-ctr_push

/* The same counter, overwritten by a callee's frame: zero16 stores 0 in
   its own frame, 16 bytes below SP at the call; after the 15th move SP
   is at rbp-0x2d8 (rbx pushed, then 15 x 48 B), and that store writes
   rbp-0x2e8, the counter's slot. */
	.globl zero16
	.type zero16, @function
zero16:
	sub $8,%rsp
	movq $0,(%rsp)
	add $8,%rsp
	ret
	.size zero16, .-zero16

	.globl ctr_callee
	.type ctr_callee, @function
ctr_callee:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	mov %rdi,%rbx
	xor %eax,%eax
	mov %eax,-0x2e8(%rbp)
.Le_loop:
	cmpb $0,(%rbx)
	je .Le_done
	mov -0x2e8(%rbp),%eax
	cmp $15,%eax
	ja .Le_fail
	sub $0x30,%rsp
	call zero16
	addl $1,-0x2e8(%rbp)
	add $1,%rbx
	jmp .Le_loop
.Le_fail:
	call abort
.Le_done:
	call leaf
	mov -8(%rbp),%rbx
	leave
	ret
	.size ctr_callee, .-ctr_callee

	.section .note.GNU-stack,"",@progbits
