package x86

import (
	"encoding/hex"
	"testing"
)

// TestMayWrite checks the registers MayWrite names on written, read-only
// and implicit operands (bit n for register n: rax=0 ... r15=15).
func TestMayWrite(t *testing.T) {
	cases := []struct {
		asm, hex string
		want     uint32
	}{
		{"mov %rsp,%r15", "4989e7", 1 << 15},
		{"mov %r15,%rsp", "4c89fc", 1 << 4},
		{"xchg %rbx,%rax", "4893", 1<<0 | 1<<3},
		{"push %r13", "4155", 1 << 4},
		{"pop %r13", "415d", 1<<13 | 1<<4},
		{"cmp %r12,%rbx", "4c39e3", 0},
		{"mov %r13,(%rsp)", "4c892c24", 0},
		{"mov (%rsp),%r13", "4c8b2c24", 1 << 13},
		{"lea 0x10(%rsp),%r13", "4c8d6c2410", 1 << 13},
		{"cpuid", "0fa2", 1<<0 | 1<<1 | 1<<2 | 1<<3},
		{"syscall", "0f05", 1<<0 | 1<<1 | 1<<11},
		{"rep stos %rax,(%rdi)", "f348ab", 1<<7 | 1<<1},
		{"mul %rbx", "48f7e3", 1<<0 | 1<<2},
		{"endbr64", "f30f1efa", 0},
		{"nopw 0x0(%rax,%rax,1)", "660f1f440000", 0},
		{"add %r12d,%ebx", "4401e3", 1 << 3},
		{"mov %r12b,%bl", "4488e3", 1 << 3},
		{"call *%rax", "ffd0", 1 << 4},
	}
	var d Decoder
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		if got := d.MayWrite(b, testPC); got != c.want {
			t.Errorf("%s (%s): %016b, want %016b", c.asm, c.hex, got, c.want)
		}
	}
	// Bytes that do not decode write everything.
	if got := d.MayWrite([]byte{0x0f, 0x0b + 0x30}, testPC); got != allRegs {
		t.Errorf("undecodable: %016b, want all", got)
	}
}
