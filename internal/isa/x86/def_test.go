package x86

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// withoutDef clears the Def fields, for tables that predate them.
func withoutDef(e isa.Effect) isa.Effect {
	e.MemScale = 0
	e.DefKind, e.DefReg, e.DefSrc, e.DefValue = isa.DefNone, 0, 0, 0
	e.HasMem, e.MemBase, e.MemIndex, e.MemDisp, e.CallReg, e.HasCallReg = false, 0, 0, 0, 0, false
	return e
}

// The encodings were produced by GNU as (intel syntax) from the asm column.
var defCases = []struct {
	asm  string
	hex  string
	kind isa.DefKind
	reg  int8
	src  int8
	val  int64
}{
	{"mov edi, 0x4000", "bf00400000", isa.DefConst, 7, 0, 0x4000},
	{"movabs rdi, 0x123456789", "48bf8967452301000000", isa.DefConst, 7, 0, 0x123456789},
	{"mov rsi, -1", "48c7c6ffffffff", isa.DefConst, 6, 0, -1},
	{"mov esi, 0xffffffff", "beffffffff", isa.DefConst, 6, 0, 0xffffffff},
	{"mov r10, 5", "49c7c205000000", isa.DefConst, 10, 0, 5},
	{"lea rdx, [rip+0x100]", "488d1500010000", isa.DefAddr, 2, 0, testPC + 7 + 0x100},
	{"lea edx, [rip+0x100]", "8d1500010000", isa.DefAddr, 2, 0, testPC + 6 + 0x100},
	{"lea rsi, [rax+0x2000]", "488db000200000", isa.DefAddImm, 6, 0, 0x2000},
	{"lea rdi, [rsp+0x10]", "488d7c2410", isa.DefAddImm, 7, 4, 0x10},
	{"lea rdi, [rax+rbx*2]", "488d3c58", isa.DefOther, 7, 0, 0},
	{"mov rdi, rax", "4889c7", isa.DefCopy, 7, 0, 0},
	{"mov r9, r12", "4d89e1", isa.DefCopy, 9, 12, 0},
	{"mov edi, eax", "89c7", isa.DefCopy, 7, 0, 32},
	{"mov rcx, [rsp+8]", "488b4c2408", isa.DefLoad, 1, 0, 0},
	{"xor ecx, ecx", "31c9", isa.DefConst, 1, 0, 0},
	{"xor r8d, r8d", "4531c0", isa.DefConst, 8, 0, 0},
	{"sub eax, eax", "29c0", isa.DefConst, 0, 0, 0},
	{"xor eax, ebx", "31d8", isa.DefOther, 0, 0, 0},
	{"add rax, 0x2000", "480500200000", isa.DefAddImm, 0, 0, 0x2000},
	{"sub rsi, 8", "4883ee08", isa.DefAddImm, 6, 6, -8},
	{"add eax, 1", "83c001", isa.DefOther, 0, 0, 0},
	{"cmp rax, 1", "4883f801", isa.DefNone, 0, 0, 0},
	{"mov al, 1", "b001", isa.DefOther, 0, 0, 0},
	{"mov ah, 1", "b401", isa.DefOther, 0, 0, 0},
	{"pop rbx", "5b", isa.DefOther, 3, 0, 0},
	{"movzx edx, byte [rax]", "0fb610", isa.DefOther, 2, 0, 0},
	{"mov [rsp+8], rdi", "48897c2408", isa.DefNone, 0, 0, 0},
	{"cmp rdi, rsi", "4839f7", isa.DefNone, 0, 0, 0},
	{"movsxd rax, edi", "4863c7", isa.DefOther, 0, 0, 0},
	{"inc rcx", "48ffc1", isa.DefOther, 1, 0, 0},
	{"neg rdx", "48f7da", isa.DefOther, 2, 0, 0},
	{"shl rax, 3", "48c1e003", isa.DefShl, 0, 0, 3},
	{"shl eax, 3", "c1e003", isa.DefOther, 0, 0, 0},
	{"cmovne rax, rdx", "480f45c2", isa.DefOther, 0, 0, 0},
	{"mov byte [rax], 1", "c60001", isa.DefNone, 0, 0, 0},
	{"call rel32", "e800000000", isa.DefNone, 0, 0, 0},
}

func TestDef(t *testing.T) {
	var d Decoder
	for _, c := range defCases {
		code, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatalf("%s: bad hex", c.asm)
		}
		e, err := d.Decode(code, testPC)
		if err != nil {
			t.Errorf("%s: %v", c.asm, err)
			continue
		}
		if e.Len != len(code) {
			t.Errorf("%s: Len %d, want %d", c.asm, e.Len, len(code))
		}
		if e.DefKind != c.kind || e.DefReg != c.reg || e.DefSrc != c.src || e.DefValue != c.val {
			t.Errorf("%s: def %v r%d src r%d value %#x; want %v r%d src r%d value %#x",
				c.asm, e.DefKind, e.DefReg, e.DefSrc, e.DefValue, c.kind, c.reg, c.src, c.val)
		}
	}
}

// TestMem checks the memory operands and call registers that let the
// analysis see where an indirect call's target comes from.
func TestMem(t *testing.T) {
	cases := []struct {
		asm         string
		hex         string
		base, index int8
		disp        int64
		callReg     int8 // -1: not a call through a register
	}{
		{"mov rax, [rdi]", "488b07", 7, -1, 0, -1},
		{"mov rdx, [rax+0x10]", "488b5010", 0, -1, 16, -1},
		{"mov rcx, [rdx+rax*1]", "488b0c02", 2, 0, 0, -1},
		{"mov rax, [rip+0x100]", "488b0500010000", -1, -1, testPC + 7 + 0x100, -1},
		{"call [rax+0x10]", "ff5010", 0, -1, 16, -1},
		{"jmp [rax+0x18]", "ff6018", 0, -1, 24, -1},
		{"call [rdx+rax*1+8]", "ff540208", 2, 0, 8, -1},
		{"call rcx", "ffd1", 0, 0, 0, 1},
		{"notrack call r11", "3e41ffd3", 0, 0, 0, 11},
		{"jmp rax", "ffe0", 0, 0, 0, 0},
	}
	var d Decoder
	for _, c := range cases {
		code, _ := hex.DecodeString(c.hex)
		e, err := d.Decode(code, testPC)
		if err != nil || e.Len != len(code) {
			t.Errorf("%s: len %d err %v", c.asm, e.Len, err)
			continue
		}
		if c.callReg >= 0 {
			if !e.HasCallReg || e.CallReg != c.callReg || e.HasMem {
				t.Errorf("%s: call reg %v r%d mem %v; want r%d", c.asm, e.HasCallReg, e.CallReg, e.HasMem, c.callReg)
			}
			continue
		}
		if !e.HasMem || e.MemBase != c.base || e.MemIndex != c.index || e.MemDisp != c.disp {
			t.Errorf("%s: mem %v base %d index %d disp %#x; want base %d index %d disp %#x", c.asm, e.HasMem, e.MemBase, e.MemIndex, e.MemDisp, c.base, c.index, c.disp)
		}
	}
}
