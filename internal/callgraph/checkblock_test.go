package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestCheckBlockExit decodes printf_positional's check block as glibc
// 2.36 has it (bytes from objdump of libc.so.6 at 0x5bdcf: spill rcx and
// r10, call _IO_vtable_check, reload, jmp back) and reads its exit; a
// branch landing after the call (a way round the check), a block with no
// call of the check, or a conditional exit keeps the model off.
func TestCheckBlockExit(t *testing.T) {
	const base, check, back = 0x5bdcf, 0x7fc10, 0x5b5c8
	code := []byte{
		0x48, 0x89, 0x8d, 0x38, 0xf7, 0xff, 0xff, // mov %rcx,-0x8c8(%rbp)
		0x4c, 0x89, 0x95, 0x48, 0xf7, 0xff, 0xff, // mov %r10,-0x8b8(%rbp)
		0xe8, 0x2e, 0x3e, 0x02, 0x00, // call 7fc10
		0x48, 0x8b, 0x8d, 0x38, 0xf7, 0xff, 0xff, // mov -0x8c8(%rbp),%rcx
		0x4c, 0x8b, 0x95, 0x48, 0xf7, 0xff, 0xff, // mov -0x8b8(%rbp),%r10
		0xe9, 0xd3, 0xf7, 0xff, 0xff, // jmp 5b5c8
	}
	var dec x86.Decoder
	var insts []linearInst
	for off := 0; off < len(code); {
		e, err := dec.Decode(code[off:], base+uint64(off))
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, linearInst{base + uint64(off), e})
		off += e.Len
	}
	last := insts[len(insts)-1]
	if last.e.Flow != isa.FlowJump || last.e.Target != back || insts[2].e.Target != check {
		t.Fatalf("decoded %+v, %+v: not the block objdump shows", insts[2].e, last.e)
	}
	if got, ok := checkBlockExit(insts, map[uint64][]uint64{}, base, check); !ok || got != last.addr {
		t.Errorf("exit %#x %v, want %#x (the jmp, %d bytes in)", got, ok, last.addr, last.addr-base)
	}
	if !fromCheckBlock(last.addr, base, last.addr, true) || fromCheckBlock(last.addr, base, 0, false) {
		t.Errorf("fromCheckBlock: the jmp at %d bytes is not taken only with the block read", last.addr-base)
	}
	// A branch into the reload bypasses the check.
	if _, ok := checkBlockExit(insts, map[uint64][]uint64{insts[3].addr: {0x5b000}}, base, check); ok {
		t.Errorf("a branch landing after the call was accepted")
	}
	// A branch landing on the spill still passes the call.
	if _, ok := checkBlockExit(insts, map[uint64][]uint64{insts[1].addr: {0x5b000}}, base, check); !ok {
		t.Errorf("a branch landing before the call was refused")
	}
	if _, ok := checkBlockExit(insts, map[uint64][]uint64{}, base, check+1); ok {
		t.Errorf("a block that does not call the check was accepted")
	}
	cond := append([]linearInst(nil), insts...)
	cond[len(cond)-1].e.Flow = isa.FlowCondJump
	if _, ok := checkBlockExit(cond, map[uint64][]uint64{}, base, check); ok {
		t.Errorf("a block ending in a conditional jump was accepted")
	}
}

// TestCopiedBefore decodes _IO_padn's loop check as glibc 2.36 has it
// (libc.so.6 at 0x77299, bytes from objdump): rax, the vtable pointer, is
// copied to rdx for the subtraction before the jb back to the call, and
// the block after the jb calls _IO_vtable_check and jumps back. A branch
// landing between the copy and the jb, or a write of rax after the copy,
// keeps the model off.
func TestCopiedBefore(t *testing.T) {
	const base, check, land = 0x77299, 0x7fc10, 0x77278
	code := []byte{
		0x48, 0x8b, 0x83, 0xd8, 0x00, 0x00, 0x00, // mov 0xd8(%rbx),%rax
		0x48, 0x89, 0xc2, // mov %rax,%rdx
		0x4c, 0x29, 0xf2, // sub %r14,%rdx
		0x4c, 0x39, 0xe2, // cmp %r12,%rdx
		0x72, 0xcd, // jb 77278
		0x48, 0x89, 0x44, 0x24, 0x08, // mov %rax,0x8(%rsp)
		0xe8, 0x5b, 0x89, 0x00, 0x00, // call 7fc10
		0x48, 0x8b, 0x44, 0x24, 0x08, // mov 0x8(%rsp),%rax
		0xeb, 0xbc, // jmp 77278
	}
	var dec x86.Decoder
	var insts []linearInst
	for off := 0; off < len(code); {
		e, err := dec.Decode(code[off:], base+uint64(off))
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, linearInst{base + uint64(off), e})
		off += e.Len
	}
	const rax, jb = 0, 4
	if insts[jb].e.Flow != isa.FlowCondJump || insts[jb].e.Target != land {
		t.Fatalf("decoded %+v: not the jb objdump shows", insts[jb].e)
	}
	if !copiedBefore(insts, map[uint64][]uint64{}, jb, rax) {
		t.Errorf("the copy of rax before the jb was not found")
	}
	if exit, ok := checkBlockExit(insts, map[uint64][]uint64{}, insts[jb+1].addr, check); !ok || insts[len(insts)-1].addr != exit {
		t.Errorf("the block after the jb: exit %#x %v", exit, ok)
	}
	if copiedBefore(insts, map[uint64][]uint64{insts[2].addr: {0x77000}}, jb, rax) {
		t.Errorf("a branch landing after the copy was accepted")
	}
	if copiedBefore(insts, map[uint64][]uint64{}, jb, 3) {
		t.Errorf("rbx, never copied, was taken for copied")
	}
	written := append([]linearInst(nil), insts...)
	written[2].e.DefKind, written[2].e.DefReg = isa.DefOther, rax
	if copiedBefore(written, map[uint64][]uint64{}, jb, rax) {
		t.Errorf("a write of rax after the copy was accepted")
	}
}
