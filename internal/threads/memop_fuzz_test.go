package threads

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa/arm64"
	"github.com/stackscope/stackscope/internal/isa/riscv"
)

// FuzzMemOps: the AArch64, RISC-V (RV64 and RV32) re-decoders never panic, and every
// register they name is one the propagation has (0-31), so that step can
// index its state with it.
func FuzzMemOps(f *testing.F) {
	for _, seed := range [][]byte{
		{0xfd, 0x7b, 0xbf, 0xa9}, // stp x29, x30, [sp, #-16]!
		{0xe0, 0x0f, 0x00, 0xf9}, // str x0, [sp, #24]
		{0xe1, 0x0b, 0x40, 0xb9}, // ldr w1, [sp, #8]
		{0xff, 0x7f, 0x01, 0xa9}, // stp xzr, xzr, [sp, #16]
		{0x20, 0x74, 0x0b, 0xd5}, // dc zva, x0
		{0x23, 0x34, 0x11, 0x7e}, // sd ra,2024(sp)
		{0x06, 0xec},             // c.sdsp ra,24(sp)
		{0x2f, 0xb5, 0xa5, 0x00}, // amoadd.d a0,a0,(a1)
		{0x33, 0x01, 0x54, 0x00}, // add sp,s0,t0
		{0x3c, 0xe0},             // c.fsw fa5,64(s0) (RV32; c.sd on RV64)
		{0x22, 0x61},             // c.flwsp ft2,8(sp) (RV32; c.ldsp on RV64)
		{0xef, 0x20},             // c.jal (RV32; c.addiw on RV64)
	} {
		f.Add(seed)
	}
	check := func(t *testing.T, what string, m memOp) {
		for _, r := range append([]int8{m.reg, m.reg2, m.base}, m.clobbers...) {
			if r < 0 || r >= numRegs {
				t.Fatalf("%s: register %d out of range in %+v", what, r, m)
			}
		}
		if m.wr.base >= numRegs {
			t.Fatalf("%s: write base %d out of range", what, m.wr.base)
		}
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		if e, err := (arm64.Decoder{}).Decode(code, 0x1000); err == nil {
			m := arm64MemOp(code, e)
			alsoWritten(arm64Info, &m, e)
			check(t, "arm64", m)
		}
		if e, err := riscv.New(64).Decode(code, 0x1000); err == nil {
			m := riscvMemOp(code[:e.Len], e)
			alsoWritten(riscv64Info, &m, e)
			check(t, "riscv", m)
		}
		if e, err := riscv.New(32).Decode(code, 0x1000); err == nil {
			m := riscv32MemOp(code[:e.Len], e)
			alsoWritten(riscv32Info, &m, e)
			check(t, "riscv32", m)
		}
	})
}
