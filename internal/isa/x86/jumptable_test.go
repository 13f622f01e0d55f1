package x86

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// splitInstructions cuts code into the instructions x86asm decodes, at
// most max, from the start.
func splitInstructions(code []byte, pc uint64, max int) ([][]byte, []uint64) {
	var insts [][]byte
	var pcs []uint64
	for len(code) > 0 && len(insts) < max {
		in, err := x86asm.Decode(code, 64)
		if err != nil || in.Len <= 0 {
			break
		}
		insts = append(insts, code[:in.Len])
		pcs = append(pcs, pc)
		pc += uint64(in.Len)
		code = code[in.Len:]
	}
	return insts, pcs
}

// glibc 2.36's __vfprintf_internal at 0x5ca55 (objdump -d): a step of
// the format's state machine, indexed by a byte of jump_table.
var vfprintfStep = []byte{
	0x41, 0x0f, 0xb6, 0xc1, // movzbl %r9b,%eax
	0x48, 0x8d, 0x3d, 0x40, 0x37, 0x13, 0x00, // lea 0x133740(%rip),%rdi
	0x48, 0x8d, 0x0d, 0xb9, 0x36, 0x13, 0x00, // lea 0x1336b9(%rip),%rcx
	0xc7, 0x44, 0x24, 0x38, 0x01, 0x00, 0x00, 0x00, // movl $0x1,0x38(%rsp)
	0x83, 0xe8, 0x20, // sub $0x20,%eax
	0x48, 0x8d, 0x35, 0x44, 0xfb, 0xff, 0xff, // lea -0x4bc(%rip),%rsi
	0x48, 0x98, // cltq
	0x0f, 0xb6, 0x04, 0x07, // movzbl (%rdi,%rax,1),%eax
	0x48, 0x63, 0x04, 0x81, // movslq (%rcx,%rax,4),%rax
	0x48, 0x01, 0xf0, // add %rsi,%rax
	0xff, 0xe0, // jmp *%rax
}

// TestMatchJumpTableVfprintf: the step above reads its entries at
// 0x190120 (objdump's comment on the lea into rcx), adds 0x5c5bd (the lea
// into rsi), and its index is a byte: 256 entries at most. Without the
// byte load (the index then comes from before the code), or with rcx
// written between its lea and the load, there is no match.
func TestMatchJumpTableVfprintf(t *testing.T) {
	insts, pcs := splitInstructions(vfprintfStep, 0x5ca55, 32)
	if len(insts) != 11 {
		t.Fatalf("%d instructions, want 11", len(insts))
	}
	jt, ok := MatchJumpTable(insts, pcs)
	if want := (JumpTable{Table: 0x190120, Base: 0x5c5bd, Entries: 256}); !ok || jt != want {
		t.Errorf("MatchJumpTable = %+v, %v; want %+v", jt, ok, want)
	}
	if jt, ok := MatchJumpTable(insts[8:], pcs[8:]); ok {
		t.Errorf("without the leas and the byte load: %+v", jt)
	}
	// A switch bounded by `cmp $2,%edi; ja`: entries 0..2.
	sw := []byte{0x83, 0xff, 0x02, 0x77, 0x10, 0x48, 0x8d, 0x15, 0x00, 0x01, 0x00, 0x00, 0x48, 0x63, 0x04, 0xba, 0x48, 0x01, 0xd0, 0xff, 0xe0}
	si, sp := splitInstructions(sw, 0x1000, 32)
	if jt, ok := MatchJumpTable(si, sp); !ok || jt.Entries != 3 || jt.Table != 0x110c || jt.Base != 0x110c {
		t.Errorf("switch: %+v, %v; want 3 entries at and from 0x110c", jt, ok)
	}
	// mov %rdi,%rcx in place of the movl: rcx is no longer the table.
	clobbered := append([][]byte{}, insts...)
	clobbered[3] = []byte{0x48, 0x89, 0xf9}
	if jt, ok := MatchJumpTable(clobbered, pcs); ok {
		t.Errorf("with rcx written after its lea: %+v", jt)
	}
}

// FuzzMatchJumpTable: any bytes, cut into instructions, give no panic; a
// match ends in `jmp reg` and bounds its entries.
func FuzzMatchJumpTable(f *testing.F) {
	f.Add(vfprintfStep)
	f.Add(vfprintfStep[37:])
	// cmp $2,%edi; ja; lea (%rip),%rdx; movslq (%rdx,%rdi,4),%rax; add %rdx,%rax; jmp *%rax
	f.Add([]byte{0x83, 0xff, 0x02, 0x77, 0x10, 0x48, 0x8d, 0x15, 0x00, 0x01, 0x00, 0x00, 0x48, 0x63, 0x04, 0xba, 0x48, 0x01, 0xd0, 0xff, 0xe0})
	// lea (%rip),%rax; jmp *%rax
	f.Add([]byte{0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00, 0xff, 0xe0})
	f.Fuzz(func(t *testing.T, code []byte) {
		insts, pcs := splitInstructions(code, 0x401000, 24)
		// Registers not written in the code hold 0x402000 before it.
		if jt, ok := MatchJumpTableFrom(insts, pcs, func(uint) (uint64, bool) { return 0x402000, true }); ok {
			if _, isJump := JumpRegister(insts[len(insts)-1]); !isJump {
				t.Errorf("a match that does not end in jmp reg: %+v", jt)
			}
		}
		jt, ok := MatchJumpTable(insts, pcs)
		if !ok {
			return
		}
		if _, isJump := JumpRegister(insts[len(insts)-1]); !isJump {
			t.Errorf("a match that does not end in jmp reg: %+v", jt)
		}
		if jt.Entries < 0 || jt.Entries > 1<<16+1 {
			t.Errorf("entries %d", jt.Entries)
		}
		for i, in := range insts {
			if writes, _, isAddr := RegisterWrite(in, pcs[i], 0); isAddr && !writes {
				t.Errorf("an address put in rax by an instruction that does not write it")
			}
		}
	})
}
