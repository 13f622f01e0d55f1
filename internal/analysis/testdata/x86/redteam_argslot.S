/* Red-team shapes (TestRedTeamArgumentSlots): SP, or a loop's counter,
 * kept in a stack word that lies in the stack-argument area of a call,
 * which the callee owns under the System V ABI and may write. Each
 * function runs one round per character of its string argument, calling
 * a callee that stores %rdi (a SP 256 bytes deeper, or 0) to one of its
 * stack arguments; SP sinks for good where the proofs said it could not.
 * Built with redteam_argslot_main.c: gcc -O1 -fno-pie -no-pie. */
	.text
/* Callees storing %rdi to their first (arg0) or second (arg1) stack
   argument, as C code assigning to a parameter may; argn to the
   argument %rsi bytes above the first. */
	.globl arg0
	.type arg0, @function
arg0:
	mov %rdi,8(%rsp)
	ret
	.size arg0, .-arg0

	.globl arg1
	.type arg1, @function
arg1:
	mov %rdi,16(%rsp)
	ret
	.size arg1, .-arg1

	.globl argn
	.type argn, @function
argn:
	movl %edi,8(%rsp,%rsi)
	ret
	.size argn, .-argn

/* SP saved at [rsp], arg0's first stack argument; SP loaded from it
   after the call. (The frame walk said static 48 B.) */
	.globl sp_arg0
	.type sp_arg0, @function
sp_arg0:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.La_loop:
	cmpb $0,(%rbx)
	je .La_done
	mov %rsp,(%rsp)
	lea -0x100(%rsp),%rdi
	call arg0
	mov (%rsp),%rsp
	add $1,%rbx
	jmp .La_loop
.La_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size sp_arg0, .-sp_arg0

/* The same at [rsp+8], arg1's second stack argument (the first left
   undefined). */
	.globl sp_arg1
	.type sp_arg1, @function
sp_arg1:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.Lb_loop:
	cmpb $0,(%rbx)
	je .Lb_done
	mov %rsp,8(%rsp)
	lea -0x100(%rsp),%rdi
	call arg1
	mov 8(%rsp),%rsp
	add $1,%rbx
	jmp .Lb_loop
.Lb_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size sp_arg1, .-sp_arg1

/* Arguments pushed, the first a copy of SP; SP loaded from it after
   the call, the second popped. */
	.globl sp_push
	.type sp_push, @function
sp_push:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.Lc_loop:
	cmpb $0,(%rbx)
	je .Lc_done
	push %rbx
	mov %rsp,%rax
	push %rax
	lea -0x100(%rsp),%rdi
	call arg0
	mov (%rsp),%rsp
	add $8,%rsp
	add $1,%rbx
	jmp .Lc_loop
.Lc_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size sp_push, .-sp_push

/* SP saved through rbp in the word at SP, the first stack argument,
   below a second stored through rsp. (The first round sinks SP.) */
	.globl sp_below
	.type sp_below, @function
sp_below:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.Ld_loop:
	cmpb $0,(%rbx)
	je .Ld_done
	sub $0x10,%rsp
	mov %rbx,8(%rsp)
	mov %rsp,-0x30(%rbp)
	lea -0x100(%rsp),%rdi
	call arg0
	mov -0x30(%rbp),%rsp
	add $0x10,%rsp
	add $1,%rbx
	jmp .Ld_loop
.Ld_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size sp_below, .-sp_below

/* A counter in -0x20(%rbp), checked (< 16) before each 48-byte move,
   spilled there after an argument is stored through rsp; argn, given
   the distance from its first stack argument to that word, stores 0
   there: the counter never passes 1. */
	.globl ctr_arg
	.type ctr_arg, @function
ctr_arg:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	push %r12
	push %r13
	sub $8,%rsp
	mov %rdi,%rbx
	xor %r13d,%r13d
	xor %eax,%eax
	mov %eax,-0x20(%rbp)
.Le_loop:
	cmpb $0,(%rbx)
	je .Le_done
	mov -0x20(%rbp),%eax
	cmp $15,%eax
	ja .Le_fail
	sub $0x30,%rsp
	add $0x30,%r13
	add $1,%eax
	mov %rbx,(%rsp)
	mov %eax,-0x20(%rbp)
	xor %edi,%edi
	mov %r13,%rsi
	call argn
	add $1,%rbx
	jmp .Le_loop
.Le_fail:
	call abort
.Le_done:
	mov -0x18(%rbp),%r13
	mov -0x10(%rbp),%r12
	mov -8(%rbp),%rbx
	leave
	ret
	.size ctr_arg, .-ctr_arg

	.section .note.GNU-stack,"",@progbits
