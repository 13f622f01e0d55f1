package x86

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// TestDecodeRecoversPanic checks that a panic inside x86asm becomes a
// DecodeError (Decode must never panic).
func TestDecodeRecoversPanic(t *testing.T) {
	saved := x86Decode
	defer func() { x86Decode = saved }()
	x86Decode = func([]byte, int) (x86asm.Inst, error) { panic("index out of range") }
	eff, err := Decoder{}.Decode([]byte{0x0f, 0x0b}, testPC) // ud2: not on the fast path
	var de *isa.DecodeError
	if !errors.As(err, &de) || de.PC != testPC || eff != (isa.Effect{}) {
		t.Fatalf("got %+v, %v; want a DecodeError", eff, err)
	}
}

// benchText returns the .text to benchmark: the file named by
// STACKSCOPE_X86_TEXT when set, /usr/bin/node's when
// STACKSCOPE_X86_NODE=1, else libc's.
func benchText(b *testing.B) ([]byte, uint64) {
	path := libcPath
	if os.Getenv("STACKSCOPE_X86_NODE") == "1" {
		path = "/usr/bin/node"
	}
	if p := os.Getenv("STACKSCOPE_X86_TEXT"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("SKIPPED: %s not present", path)
	}
	return textSection(b, path)
}

// BenchmarkDecode decodes a whole .text linearly (an undecodable byte is
// skipped) and reports ns per instruction.
func BenchmarkDecode(b *testing.B) {
	text, base := benchText(b)
	var d Decoder
	insts := 0
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(text); {
			e, err := d.Decode(text[off:], base+uint64(off))
			if err != nil {
				off++
				continue
			}
			off += e.Len
			insts++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(insts), "ns/inst")
	b.ReportMetric(float64(insts)/float64(b.N), "inst/op")
}

// BenchmarkDecodeInto is BenchmarkDecode the way the frame walk decodes:
// DecodeInto into a table of Effects that is reused (never cleared) from
// one sweep to the next, so the cost is the decoder's alone.
func BenchmarkDecodeInto(b *testing.B) {
	text, base := benchText(b)
	var d Decoder
	table := make([]isa.Effect, 1<<12)
	insts := 0
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := 0
		for off := 0; off < len(text); {
			eff := &table[k&(len(table)-1)]
			if err := d.DecodeInto(text[off:], base+uint64(off), eff); err != nil {
				off++
				continue
			}
			off += eff.Len
			k++
		}
		insts += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(insts), "ns/inst")
	b.ReportMetric(float64(insts)/float64(b.N), "inst/op")
}

// BenchmarkX86asm is the same sweep with x86asm.Decode alone, to show how much
// of BenchmarkDecode's time is the underlying decoder.
func BenchmarkX86asm(b *testing.B) {
	text, _ := benchText(b)
	insts := 0
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(text); {
			inst, err := x86asm.Decode(text[off:], 64)
			if err != nil || inst.Len == 0 {
				off++
				continue
			}
			off += inst.Len
			insts++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(insts), "ns/inst")
}
