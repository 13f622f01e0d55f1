/* Calls to __gnu_thumb1_case_uqi whose table size no bounds check gives
 * (TestThumbCaseHelpersUnknown): the frame must be unknown, never bounded
 * by the code that happens to follow. `checked` is the same dispatch with
 * a proper check, to show that the others fail for the check alone. Each
 * table has two entries, for c2 (480 bytes) and c1. */
	.syntax unified
	.cpu cortex-m0
	.thumb
	.text

/* The table of a dispatch at label 1: two byte entries (halfwords from
 * the return address), then alignment. */
	.macro table
1:	.byte (2f-1b)/2, (3f-1b)/2
	.p2align 1
2:	bl c2
	pop {r4, pc}
3:	bl c1
	pop {r4, pc}
	.endm

	.global checked
	.type checked, %function
	.thumb_func
checked:
	push {r4, lr}
	cmp r0, #1
	bhi 9f
	bl __gnu_thumb1_case_uqi
	table
9:	pop {r4, pc}
	.size checked, .-checked

/* The index comes from memory and is never compared. */
	.global no_check
	.type no_check, %function
	.thumb_func
no_check:
	push {r4, lr}
	ldr r0, [r0]
	bl __gnu_thumb1_case_uqi
	table
	.size no_check, .-no_check

/* A signed compare: a negative index passes it. */
	.global signed_check
	.type signed_check, %function
	.thumb_func
signed_check:
	push {r4, lr}
	cmp r0, #1
	bgt 9f
	bl __gnu_thumb1_case_uqi
	table
9:	pop {r4, pc}
	.size signed_check, .-signed_check

/* The compare is of r1, the helper reads r0. */
	.global wrong_register
	.type wrong_register, %function
	.thumb_func
wrong_register:
	push {r4, lr}
	cmp r1, #1
	bhi 9f
	bl __gnu_thumb1_case_uqi
	table
9:	pop {r4, pc}
	.size wrong_register, .-wrong_register

/* A second path reaches the call without passing the check. */
	.global joined
	.type joined, %function
	.thumb_func
joined:
	push {r4, lr}
	cmp r1, #0
	beq 8f
	cmp r0, #1
	bhi 9f
8:	bl __gnu_thumb1_case_uqi
	table
9:	pop {r4, pc}
	.size joined, .-joined
