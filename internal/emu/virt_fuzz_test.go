package emu

import (
	"encoding/binary"
	"testing"
)

// FuzzRISCVRegisters: any "g" reply either decodes (when it holds x0-x31
// and pc of the XLEN) into exactly its little-endian words, with SP x2,
// LR x1 and PC the 33rd word, or is an error; never a panic.
func FuzzRISCVRegisters(f *testing.F) {
	f.Add(make([]byte, 33*4), true)
	f.Add(make([]byte, 33*8), false)
	seq := make([]byte, 33*8)
	for i := range seq {
		seq[i] = byte(i)
	}
	f.Add(seq, false)
	f.Add(seq[:33*4], true)
	f.Add(seq[:100], false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, b []byte, rv32 bool) {
		xlen := 64
		if rv32 {
			xlen = 32
		}
		w := xlen / 8
		r, err := riscvRegisters(b, xlen)
		if len(b) < 33*w {
			if err == nil {
				t.Fatalf("%d bytes for RV%d decoded", len(b), xlen)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d bytes for RV%d: %v", len(b), xlen, err)
		}
		word := func(i int) uint64 {
			if w == 8 {
				return binary.LittleEndian.Uint64(b[8*i:])
			}
			return uint64(binary.LittleEndian.Uint32(b[4*i:]))
		}
		for i := range r.X {
			if r.X[i] != word(i) {
				t.Fatalf("x%d = %#x, want %#x", i, r.X[i], word(i))
			}
		}
		if !r.RISCV || r.PC() != word(32) || r.SP() != word(2) || r.LR() != word(1) || r.Arg(0) != word(10) {
			t.Fatalf("pc %#x sp %#x lr %#x a0 %#x", r.PC(), r.SP(), r.LR(), r.Arg(0))
		}
	})
}
