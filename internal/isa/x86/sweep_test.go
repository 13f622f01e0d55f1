package x86

import (
	"os"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// TestDecodeSweepMatchesDecodeInto: at every byte offset of libc's .text
// (its instructions and, at the other offsets, arbitrary bytes),
// DecodeSweep gives DecodeInto's error and its Effect but for the fields
// isa.SweepDecoder lets it leave unset; and a linear sweep of it steps
// over the same instructions.
func TestDecodeSweepMatchesDecodeInto(t *testing.T) {
	if _, err := os.Stat(libcPath); err != nil {
		t.Skipf("SKIPPED: %s not present", libcPath)
	}
	text, base := textSection(t, libcPath)
	var d Decoder
	var full, sweep isa.Effect
	withDefs := 0
	for off := range text {
		pc := base + uint64(off)
		errFull := d.DecodeInto(text[off:], pc, &full)
		errSweep := d.DecodeSweep(text[off:], pc, &sweep)
		if (errFull == nil) != (errSweep == nil) {
			t.Fatalf("at %#x: DecodeInto's error %v, DecodeSweep's %v", pc, errFull, errSweep)
		}
		if errFull != nil {
			continue
		}
		if full.DefKind != isa.DefNone || full.HasMem || full.HasStore {
			withDefs++
		}
		if withoutRegisters(sweep) != withoutRegisters(full) {
			n := min(len(text)-off, 15)
			t.Fatalf("% x at %#x:\nDecodeInto  %+v\nDecodeSweep %+v", text[off:off+n], pc, full, sweep)
		}
	}
	// The comparison covers the fields that differ: most instructions
	// define a register or read memory.
	if withDefs < len(text)/20 {
		t.Errorf("only %d of %d offsets decoded with a register or memory description", withDefs, len(text))
	}
	t.Logf("%d byte offsets, %d with a register or memory description", len(text), withDefs)
}

// withoutRegisters is e with the fields isa.SweepDecoder may leave unset
// cleared.
func withoutRegisters(e isa.Effect) isa.Effect {
	e.DefKind, e.DefReg, e.DefSrc, e.DefIndex, e.DefAlso, e.DefValue = isa.DefNone, 0, 0, 0, 0, 0
	e.HasStore, e.StoreSrc = false, 0
	e.HasMem, e.MemBase, e.MemIndex, e.MemScale, e.MemDisp = false, 0, 0, 0, 0
	e.CallReg, e.HasCallReg, e.Nop = 0, false, false
	return e
}
