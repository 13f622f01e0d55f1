package x86

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// fixedRefCases: instructions with a [rip+0x10] operand (objdump's
// reading in the comment), at testPC: the operand is at testPC+len+0x10.
var fixedRefCases = []struct {
	hex      string
	size     int64
	mayWrite bool
	address  bool
}{
	{"48890510000000", 8, true, false},         // mov %rax,0x10(%rip)
	{"488b0510000000", 8, false, false},        // mov 0x10(%rip),%rax
	{"488d0510000000", 0, false, true},         // lea 0x10(%rip),%rax
	{"48833d1000000000", 8, false, false},      // cmpq $0x0,0x10(%rip)
	{"0f110510000000", 16, true, false},        // movups %xmm0,0x10(%rip)
	{"010510000000", 4, true, false},           // add %eax,0x10(%rip)
	{"48870510000000", 8, true, false},         // xchg %rax,0x10(%rip)
	{"f0480fb10d10000000", 8, true, false},     // lock cmpxchg %rcx,0x10(%rip)
	{"48c7051000000001000000", 8, true, false}, // movq $0x1,0x10(%rip)
	{"ff3510000000", 8, false, false},          // push 0x10(%rip)
	{"ff1510000000", 8, false, false},          // call *0x10(%rip)
	{"48f72510000000", 8, false, false},        // mulq 0x10(%rip)
	{"480fab0510000000", 8, true, false},       // bts %rax,0x10(%rip)
}

func TestFixedRef(t *testing.T) {
	var d Decoder
	for _, c := range fixedRefCases {
		code, _ := hex.DecodeString(c.hex)
		ref, has, ok := d.FixedRef(code, testPC)
		if !ok || !has {
			t.Errorf("%s: has %v ok %v", c.hex, has, ok)
			continue
		}
		want := uint64(testPC) + uint64(len(code)) + 0x10
		if ref.Addr != want || ref.MayWrite != c.mayWrite || ref.Address != c.address || !c.address && ref.Size != c.size {
			t.Errorf("%s: %+v, want addr %#x size %d write %v address %v", c.hex, ref, want, c.size, c.mayWrite, c.address)
		}
	}
	// No fixed operand: a register-based one.
	if _, has, ok := d.FixedRef([]byte{0x48, 0x89, 0x03}, testPC); has || !ok { // mov %rax,(%rbx)
		t.Errorf("mov %%rax,(%%rbx): has %v ok %v", has, ok)
	}
}

// FuzzFixedRef: FixedRef never panics, and agrees with Decode on the
// operands Decode describes: a pointer-sized load from [rip+X] into a
// register reads X (no write), an indirect call or jump through [rip+X]
// reads its slot X.
func FuzzFixedRef(f *testing.F) {
	for _, c := range fixedRefCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b, uint64(testPC))
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, code []byte, pc uint64) {
		ref, has, ok := d.FixedRef(code, pc)
		eff, err := d.Decode(code, pc)
		if err != nil || !ok {
			return
		}
		switch {
		case eff.DefKind == isa.DefLoad && eff.HasMem && eff.MemBase == -1 && eff.MemIndex < 0:
			if !has || ref.Addr != uint64(eff.MemDisp) || ref.MayWrite || ref.Address {
				t.Fatalf("% x: Decode loads [%#x]; FixedRef %+v has %v", code, eff.MemDisp, ref, has)
			}
		case eff.HasSlot && (eff.Flow == isa.FlowIndirectCall || eff.Flow == isa.FlowIndirectJump):
			if !has || ref.Addr != eff.Slot || ref.MayWrite {
				t.Fatalf("% x: Decode reads slot %#x; FixedRef %+v has %v", code, eff.Slot, ref, has)
			}
		}
	})
}
