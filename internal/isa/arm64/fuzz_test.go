package arm64

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// FuzzDecode: any bytes decode without a panic into a 4-byte instruction or
// an error, with effects that keep the contract: a target only on a direct
// branch or call, registers in range, no SP move that is both a delta and
// something else. Seeds in testdata/fuzz/FuzzDecode: prologues and
// epilogues, PLT and jump-table shapes, LSE, SVE, MTE and PAC words.
func FuzzDecode(f *testing.F) {
	for _, w := range []uint32{
		0xa9bf7bfd, 0x910003fd, 0xa8c17bfd, 0xd65f03c0, 0xd14043ff, 0xd10083ff, 0x910083ff, 0xf81f0ffe,
		0xd2827190, 0xcb3063ff, 0x8b3063ff, 0x910003bf, 0x94000010, 0x14000004, 0x54000041, 0xb4000040,
		0x36000040, 0xd61f0220, 0xd63f0020, 0x90000010, 0xf9400611, 0x91002210, 0x10000061, 0x38614800,
		0x88e07c41, 0xf8a08020, 0xa400a020, 0x04205fff, 0xd9e02800, 0xd65f0bff, 0xf2a02070, 0xcb2c63ec,
		0x00000000, 0xd503201f, 0xd4200000, 0x58000040, 0x4cdf7000, 0x1e260000,
	} {
		f.Add([]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)}, uint64(0x400000))
	}
	f.Fuzz(func(t *testing.T, code []byte, pc uint64) {
		e, err := Decoder{}.Decode(code, pc)
		if err != nil {
			if _, ok := err.(*isa.DecodeError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if e.Len != 4 {
			t.Fatalf("length %d", e.Len)
		}
		switch e.Flow {
		case isa.FlowJump, isa.FlowCondJump, isa.FlowCall:
			if !e.HasTarget {
				t.Fatalf("%v without a target", e.Flow)
			}
		default:
			if e.HasTarget {
				t.Fatalf("a target on %v", e.Flow)
			}
		}
		if e.DefReg < -1 || e.DefReg > 30 || e.DefAlso>>31 != 0 {
			t.Fatalf("register out of range: def %d, also %#x", e.DefReg, e.DefAlso)
		}
		if e.SP != isa.SPAdd && e.SP != isa.SPFromFP && e.SPDelta != 0 {
			t.Fatalf("SP delta %d with %v", e.SPDelta, e.SP)
		}
		if e.SetsFP && e.ClobbersFP {
			t.Fatal("sets and clobbers FP")
		}
	})
}
