/* Red-team shapes (TestRedTeamStackArgRule): SP saved in a stack word at
 * SP that the caller writes through rbp, not rsp, then one argument
 * pushed, and a callee that writes its second stack argument: the saved
 * SP. The stack-argument rule (frame/argarea.go) takes the call's
 * argument area to be the pushed word alone, so the walk trusts the
 * saved SP; the bound then rests on the rule, the `stack-args` premise,
 * and this program breaks it: SP sinks 264 bytes in the first round (the
 * later ones save SP below the word the callee writes). Each function
 * runs one round per character of its string argument. Built with
 * redteam_argrule_main.c: gcc -O1 -fno-pie -no-pie. */
	.text
/* Stores %rdi (a deeper SP) to its second stack argument, as C code
   assigning to a parameter may. */
	.globl second_arg
	.type second_arg, @function
second_arg:
	mov %rdi,16(%rsp)
	ret
	.size second_arg, .-second_arg

/* SP saved through rbp in the word at SP, one argument pushed below
   it, SP loaded back from the word after the call. */
	.globl rule_rbp_push
	.type rule_rbp_push, @function
rule_rbp_push:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.La_loop:
	cmpb $0,(%rbx)
	je .La_done
	mov %rsp,-0x20(%rbp)
	push %rbx
	lea -0x100(%rsp),%rdi
	call second_arg
	mov -0x20(%rbp),%rsp
	add $1,%rbx
	jmp .La_loop
.La_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size rule_rbp_push, .-rule_rbp_push

/* The same, SP loaded back through a register (as GCC's _dl_sort_maps
   does: mov -0xa0(%rbp),%rbx; mov %rbx,%rsp). */
	.globl rule_rbp_reg
	.type rule_rbp_reg, @function
rule_rbp_reg:
	push %rbp
	mov %rsp,%rbp
	push %rbx
	sub $0x18,%rsp
	mov %rdi,%rbx
.Lb_loop:
	cmpb $0,(%rbx)
	je .Lb_done
	mov %rsp,-0x20(%rbp)
	push %rbx
	lea -0x100(%rsp),%rdi
	call second_arg
	mov -0x20(%rbp),%rax
	mov %rax,%rsp
	add $1,%rbx
	jmp .Lb_loop
.Lb_done:
	lea -8(%rbp),%rsp
	pop %rbx
	pop %rbp
	ret
	.size rule_rbp_reg, .-rule_rbp_reg

/* Stores 0 to the word %rsi bytes above its first stack argument. */
	.globl zero_at
	.type zero_at, @function
zero_at:
	movl $0,8(%rsp,%rsi)
	ret
	.size zero_at, .-zero_at

/* A counter in -0x20(%rbp), checked (< 16) before each 48-byte move,
   spilled there through rbp; nothing is stored through rsp for the
   call, so the counted-loop pass keeps the slot across it by the rule.
   zero_at, given the distance from its first stack argument to that
   word, resets the counter: it never passes 1, and SP sinks 48 bytes a
   round. */
	.globl rule_counter
	.type rule_counter, @function
rule_counter:
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
.Lc_loop:
	cmpb $0,(%rbx)
	je .Lc_done
	mov -0x20(%rbp),%eax
	cmp $15,%eax
	ja .Lc_fail
	sub $0x30,%rsp
	add $0x30,%r13
	add $1,%eax
	mov %eax,-0x20(%rbp)
	mov %r13,%rsi
	call zero_at
	add $1,%rbx
	jmp .Lc_loop
.Lc_fail:
	call abort
.Lc_done:
	mov -0x18(%rbp),%r13
	mov -0x10(%rbp),%r12
	mov -8(%rbp),%rbx
	leave
	ret
	.size rule_counter, .-rule_counter

	.section .note.GNU-stack,"",@progbits
