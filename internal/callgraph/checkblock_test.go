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
