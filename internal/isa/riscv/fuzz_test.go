package riscv

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// FuzzDecode checks, for RV32 and RV64, that Decode never panics, that an
// error is an *isa.DecodeError, that a successful decode's length follows
// the encoding's low bits (2 for a compressed instruction, 4, or 8 for an
// auipc+jalr pair) and never exceeds the bytes given, and that the effect
// is consistent: a target only on a branch or call, an SP delta only on
// an SP move, AltLink only on a call, a written register in x1..x31.
func FuzzDecode(f *testing.F) {
	for _, c := range unitCases {
		f.Add(hexBytes(f, c.hex), uint64(0x1000), c.xlen == 32)
	}
	f.Fuzz(func(t *testing.T, code []byte, pc uint64, rv32 bool) {
		d := New(64)
		if rv32 {
			d = New(32)
		}
		e, err := d.Decode(code, pc)
		if err != nil {
			if _, ok := err.(*isa.DecodeError); !ok {
				t.Fatalf("error %T is not *isa.DecodeError", err)
			}
			return
		}
		want := 4
		if code[0]&3 != 3 {
			want = 2
		}
		if e.Len != want && !(want == 4 && e.Len == 8) {
			t.Fatalf("Len %d, want %d", e.Len, want)
		}
		if e.Len > len(code) {
			t.Fatalf("Len %d with %d bytes", e.Len, len(code))
		}
		if e.HasTarget && e.Flow != isa.FlowCall && e.Flow != isa.FlowJump && e.Flow != isa.FlowCondJump {
			t.Fatalf("target on flow %v", e.Flow)
		}
		if e.SP != isa.SPAdd && e.SP != isa.SPFromFP && e.SPDelta != 0 {
			t.Fatalf("SPDelta %d with %v", e.SPDelta, e.SP)
		}
		if e.AltLink && e.Flow != isa.FlowCall && e.Flow != isa.FlowIndirectCall {
			t.Fatalf("AltLink on flow %v", e.Flow)
		}
		if e.DefKind != isa.DefNone && (e.DefReg <= 0 || e.DefReg > 31) {
			t.Fatalf("DefReg %d", e.DefReg)
		}
		if e.Access != isa.BaseNone && e.AccessSize <= 0 {
			t.Fatalf("access of %d bytes", e.AccessSize)
		}
	})
}
