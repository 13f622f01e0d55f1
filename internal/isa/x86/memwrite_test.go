package x86

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// TestMayWriteMemory: stores, read-modify-writes and xchg may write their
// memory operand; loads of any size, compares and tests do not; what
// x86asm cannot decode may.
func TestMayWriteMemory(t *testing.T) {
	for _, c := range []struct {
		asm, hex string
		want     bool
	}{
		{"mov %rsp,-0x48(%rbp)", "488965b8", true},
		{"mov %eax,-0x4(%rbp)", "8945fc", true},
		{"movb $0x1,(%rsp)", "c6042401", true},
		{"add %rax,-0x8(%rbp)", "480145f8", true},
		{"xchg %rax,-0x8(%rbp)", "488745f8", true},
		{"mov -0x48(%rbp),%rsp", "488b65b8", false},
		{"movsbl (%rsp),%ebx", "0fbe1c24", false},
		{"movzbl -0x8(%rbp),%eax", "0fb645f8", false},
		{"cmp %rax,-0x8(%rbp)", "483945f8", false},
		{"testb $0x1,-0x8(%rbp)", "f645f801", false},
		{"(bad)", "0fff", true},
	} {
		code, _ := hex.DecodeString(c.hex)
		if got := (Decoder{}).MayWriteMemory(code, 0x1000); got != c.want {
			t.Errorf("%s: MayWriteMemory %v, want %v", c.asm, got, c.want)
		}
	}
}

// FuzzMayWriteMemory: MayWriteMemory never panics, and says true for
// every store Decode sees through a memory operand (HasStore with an SP-
// or FP-relative Access and no SP effect: mov [m],r64): the frame walk
// trusts a false to keep a saved copy of SP. Seeds: decodeCases; what
// the fuzzer finds goes under testdata/fuzz/FuzzMayWriteMemory.
func FuzzMayWriteMemory(f *testing.F) {
	for _, c := range decodeCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, code []byte) {
		w := d.MayWriteMemory(code, testPC)
		eff, err := d.Decode(code, testPC)
		if err == nil && eff.HasStore && eff.Access != isa.BaseNone && eff.SP == isa.SPNone && !w {
			t.Fatalf("% x: Decode stores r%d to memory, MayWriteMemory says no write", code, eff.StoreSrc)
		}
	})
}
