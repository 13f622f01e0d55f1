package x86

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// operandCases are instructions a data flow through the frame meets, with
// what DecodeOperands must say of them (the bytes are GNU as's encodings;
// objdump -d shows the same instruction).
var operandCases = []struct {
	hex, asm string
	want     Operands
}{
	{"48897c2408", "mov %rdi,0x8(%rsp)", Operands{Reads: 1 << 7, Dest: -1, Safe: true, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 8, MemWrite: true, MemSize: 8}},
	{"488b442418", "mov 0x18(%rsp),%rax", Operands{Dest: 0, Safe: true, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 0x18, MemSize: 8}},
	{"48897df8", "mov %rdi,-0x8(%rbp)", Operands{Reads: 1 << 7, Dest: -1, Safe: true, HasMem: true, MemBase: 5, MemIndex: -1, MemDisp: -8, MemWrite: true, MemSize: 8}},
	{"4889bc2400ffffff", "mov %rdi,-0x100(%rsp)", Operands{Reads: 1 << 7, Dest: -1, Safe: true, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: -0x100, MemWrite: true, MemSize: 8}},
	{"c744240c00000000", "movl $0x0,0xc(%rsp)", Operands{Dest: -1, Safe: true, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 0xc, MemWrite: true, MemSize: 4}},
	{"488d7c2410", "lea 0x10(%rsp),%rdi", Operands{Reads: 1 << 4, Dest: 7, Safe: true, MemBase: -1, MemIndex: -1}},
	{"4889e5", "mov %rsp,%rbp", Operands{Reads: 1 << 4, Dest: 5, Safe: true, MemBase: -1, MemIndex: -1}},
	{"4883ec28", "sub $0x28,%rsp", Operands{Reads: 1 << 4, Dest: 4, Safe: true, MemBase: -1, MemIndex: -1}},
	{"4c39dc", "cmp %r11,%rsp", Operands{Reads: 1<<4 | 1<<11, Dest: -1, Safe: true, MemBase: -1, MemIndex: -1}},
	{"55", "push %rbp", Operands{Reads: 1 << 5, Dest: -1, MemBase: -1, MemIndex: -1}},
	{"4887e0", "xchg %rsp,%rax", Operands{Reads: 1<<0 | 1<<4, Dest: 0, MemBase: -1, MemIndex: -1}},
	{"48874424 08", "xchg %rax,0x8(%rsp)", Operands{Reads: 1 << 0, Dest: -1, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 8, MemWrite: true, MemSize: 8}},
	{"48837c240800", "cmpq $0x0,0x8(%rsp)", Operands{Dest: -1, Safe: true, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 8, MemSize: 8}},
	{"0f11442410", "movups %xmm0,0x10(%rsp)", Operands{Dest: -1, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 0x10, MemWrite: true, MemSize: 16}},
	{"ff542418", "call *0x18(%rsp)", Operands{Dest: -1, HasMem: true, MemBase: 4, MemIndex: -1, MemDisp: 0x18, MemSize: 8}},
	{"c8100000", "enter $0x10,$0x0", Operands{Dest: -1, MemBase: -1, MemIndex: -1, Enter: true}},
}

// TestDecodeOperands: each of operandCases as the table says.
func TestDecodeOperands(t *testing.T) {
	for _, c := range operandCases {
		code, err := hex.DecodeString(stripSpaces(c.hex))
		if err != nil {
			t.Fatalf("%s: %v", c.asm, err)
		}
		got, ok := DecodeOperands(code)
		if !ok || got != c.want {
			t.Errorf("%s: %+v %v\n   want %+v", c.asm, got, ok, c.want)
		}
	}
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// FuzzDecodeOperands checks that DecodeOperands never panics and agrees
// with Decode where both describe an operand: a pointer-sized load
// (DefLoad) reads the same [base+index+disp] into Dest, and a store of a
// register (HasStore) through a memory operand writes it. The seeds are
// operandCases and testdata/fuzz/FuzzDecodeOperands.
func FuzzDecodeOperands(f *testing.F) {
	for _, c := range operandCases {
		b, _ := hex.DecodeString(stripSpaces(c.hex))
		f.Add(b)
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, code []byte) {
		ops, ok := DecodeOperands(code)
		eff, err := d.Decode(code, testPC)
		if !ok || err != nil {
			return
		}
		if ops.Dest < -1 || ops.Dest > 15 || ops.MemBase < -1 || ops.MemBase > 15 || ops.MemIndex < -1 || ops.MemIndex > 15 {
			t.Fatalf("% x: registers out of range: %+v", code, ops)
		}
		if eff.DefKind == isa.DefLoad && eff.HasMem && eff.MemBase >= 0 {
			if !ops.HasMem || ops.MemWrite || ops.MemBase != eff.MemBase || ops.MemIndex != eff.MemIndex || ops.MemDisp != eff.MemDisp || ops.Dest != eff.DefReg {
				t.Fatalf("% x: Decode loads [r%d+r%d+%#x] into r%d; DecodeOperands %+v", code, eff.MemBase, eff.MemIndex, eff.MemDisp, eff.DefReg, ops)
			}
		}
		if eff.HasStore && ops.HasMem && (!ops.MemWrite || ops.Reads&(1<<uint(eff.StoreSrc&15)) == 0) {
			t.Fatalf("% x: Decode stores r%d; DecodeOperands %+v", code, eff.StoreSrc, ops)
		}
	})
}
