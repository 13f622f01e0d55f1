package x86

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// FuzzDecode checks that Decode never panics and that a successful decode
// has a length between 1 and 15 that fits in the input. The seed corpus is
// under testdata/fuzz/FuzzDecode; the table of decodeCases is added too.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b, uint64(testPC))
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, code []byte, pc uint64) {
		checkFast(t, code, pc)       // the fast path agrees with x86asm
		checkDecodeFlow(t, code, pc) // DecodeFlow with DecodeSweep
		eff, err := d.Decode(code, pc)
		// DecodeInto over a used Effect (the frame walk's table) writes
		// all of it: the same Effect and error as Decode.
		into := isa.Effect{Len: 99, Target: 1, HasTarget: true, SPDelta: -8, SP: isa.SPAdd, Flow: isa.FlowCall, Nop: true, LiteralSize: 4}
		if err2 := d.DecodeInto(code, pc, &into); into != eff || (err2 == nil) != (err == nil) {
			t.Fatalf("% x: DecodeInto over a used Effect: %+v, %v; Decode: %+v, %v", code, into, err2, eff, err)
		}
		// IntoFunc's function (the frame walk's) is DecodeInto.
		byFunc := isa.Effect{Len: 99, Target: 1, HasTarget: true, SPDelta: -8, SP: isa.SPAdd, Flow: isa.FlowCall, Nop: true, LiteralSize: 4}
		if err4 := d.IntoFunc()(code, pc, &byFunc); byFunc != eff || (err4 == nil) != (err == nil) {
			t.Fatalf("% x: IntoFunc over a used Effect: %+v, %v; Decode: %+v, %v", code, byFunc, err4, eff, err)
		}
		// DecodeSweep over a used Effect: the same error, and the same
		// Effect but for the registers' description.
		sweep := isa.Effect{Len: 99, Target: 1, HasTarget: true, SPDelta: -8, SP: isa.SPAdd, Flow: isa.FlowCall, Nop: true, LiteralSize: 4}
		if err3 := d.DecodeSweep(code, pc, &sweep); withoutRegisters(sweep) != withoutRegisters(eff) || (err3 == nil) != (err == nil) {
			t.Fatalf("% x: DecodeSweep: %+v, %v; Decode: %+v, %v", code, sweep, err3, eff, err)
		}
		if err != nil {
			if _, ok := err.(*isa.DecodeError); !ok {
				t.Fatalf("error %T %v, want *isa.DecodeError", err, err)
			}
			if eff != (isa.Effect{}) {
				t.Fatalf("error %v with a non-zero effect %+v", err, eff)
			}
			return
		}
		if eff.Len < 1 || eff.Len > 15 || eff.Len > len(code) {
			t.Fatalf("% x: Len %d (input %d bytes)", code, eff.Len, len(code))
		}
		// Decoding only the instruction's own bytes gives the same result.
		if eff2, err := d.Decode(code[:eff.Len], pc); err != nil || eff2 != eff {
			t.Fatalf("% x: %+v; on its own %d bytes: %+v, %v", code, eff, eff.Len, eff2, err)
		}
	})
}
