package thumb

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// FuzzDecode checks that Decode never panics, that a successful decode has
// length 2 or 4 and never claims more bytes than it was given, and that its
// length agrees with the first halfword.
func FuzzDecode(f *testing.F) {
	for _, c := range unitCases {
		f.Add(hexCode(f, c.hex), c.pc)
	}
	f.Fuzz(func(t *testing.T, code []byte, pc uint64) {
		var d Decoder
		e, err := d.Decode(code, pc)
		if err != nil {
			if _, ok := err.(*isa.DecodeError); !ok {
				t.Fatalf("error %T is not *isa.DecodeError", err)
			}
			return
		}
		if e.Len != 2 && e.Len != 4 {
			t.Fatalf("Len %d", e.Len)
		}
		if e.Len > len(code) {
			t.Fatalf("Len %d with %d bytes", e.Len, len(code))
		}
		want := 2
		if (uint32(code[1])<<8|uint32(code[0]))>>11 >= 0x1D {
			want = 4
		}
		if e.Len != want {
			t.Fatalf("Len %d, want %d", e.Len, want)
		}
		if e.HasTarget && e.Flow != isa.FlowCall && e.Flow != isa.FlowJump && e.Flow != isa.FlowCondJump {
			t.Fatalf("target on flow %v", e.Flow)
		}
		if e.SP != isa.SPAdd && e.SP != isa.SPFromFP && e.SPDelta != 0 {
			t.Fatalf("SPDelta %d with %v", e.SPDelta, e.SP)
		}
		if e.CondNext < 0 || e.CondNext > 4 {
			t.Fatalf("CondNext %d", e.CondNext)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	var code [][]byte
	for _, c := range unitCases {
		code = append(code, hexCode(b, c.hex))
	}
	var d Decoder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := code[i%len(code)]
		if _, err := d.Decode(c, 0x8000); err != nil {
			b.Fatal(err)
		}
	}
}
