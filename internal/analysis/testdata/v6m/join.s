@ An SP adjustment by a register that two paths set differently: the
@ value at the add is not one constant, so the frame must not be static.
	.syntax unified
	.thumb
	.text
	.global	join_add
	.type	join_add, %function
	.thumb_func
join_add:
	push	{r4, lr}
	ldr	r4, =-1024
	cmp	r0, #0
	beq	1f
	ldr	r4, =-2048
1:	add	sp, r4
	negs	r4, r4
	add	sp, r4
	pop	{r4, pc}
	.ltorg
	.size	join_add, .-join_add
