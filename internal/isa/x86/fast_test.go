package x86

import (
	"os"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// checkFast compares the fast path with the x86asm path at one offset. It
// returns whether the fast path took the instruction.
func checkFast(t testing.TB, code []byte, pc uint64) bool {
	checkHot(t, code, pc)
	var fast isa.Effect
	if !decodeFast(code, pc, &fast) {
		return false
	}
	slow, err := decodeSlow(code, pc)
	n := min(len(code), 15)
	if err != nil || fast != slow {
		t.Errorf("% x at %#x:\nfast %+v\nslow %+v, %v", code[:n], pc, fast, slow, err)
	}
	// The registers' description from the fast path's parse (DecodeInto)
	// is setDef's, which parses the bytes again.
	var fromParse isa.Effect
	decodeFastParse(code, pc, &fromParse, true)
	again := fast
	setDef(code, pc, &again)
	if fromParse != again {
		t.Errorf("% x at %#x: registers described from the fast parse\n%+v\nby setDef\n%+v", code[:n], pc, fromParse, again)
	}
	// And DecodeInto as a whole (fast path, registers, Nop) is the x86asm
	// path's Effect with setDef's registers and isNop's Nop.
	if err == nil {
		var into isa.Effect
		Decoder{}.DecodeInto(code, pc, &into)
		want := slow
		want.Nop = isNop(code[:want.Len])
		setDef(code, pc, &want)
		if into != want {
			t.Errorf("% x at %#x: DecodeInto\n%+v\nthe x86asm path\n%+v", code[:n], pc, into, want)
		}
	}
	return true
}

// checkHot compares decodeHot, when it takes the instruction at code,
// with the x86asm path's Effect, setDef's registers and isNop's Nop (what
// DecodeInto reports), and checks it leaves eff untouched otherwise.
func checkHot(t testing.TB, code []byte, pc uint64) {
	var hot isa.Effect
	if !decodeHot(code, pc, &hot) {
		if hot != (isa.Effect{}) {
			t.Errorf("% x at %#x: decodeHot declined but wrote %+v", code[:min(len(code), 15)], pc, hot)
		}
		return
	}
	want, err := decodeSlow(code, pc)
	if err == nil {
		want.Nop = isNop(code[:want.Len])
		setDef(code, pc, &want)
	}
	if err != nil || hot != want {
		t.Errorf("% x at %#x: decodeHot\n%+v\nthe x86asm path\n%+v, %v", code[:min(len(code), 15)], pc, hot, want, err)
	}
	// MayWrite from decodeHot's Effect, where it answers, is x86asm's.
	if m, ok := mayWriteHot(code); ok && m != mayWriteSlow(code) {
		t.Errorf("% x at %#x: mayWriteHot %016b, mayWriteSlow %016b", code[:min(len(code), 15)], pc, m, mayWriteSlow(code))
	}
}

// libstdcxxPath is the C++ runtime's code: compiled without frame
// pointers, with other compilers' habits than libc's.
const libstdcxxPath = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"

// TestFastMatchesSlow runs the fast path at every byte offset of libc's
// and libstdc++'s .text (real instructions and, at misaligned offsets,
// arbitrary byte sequences) and checks it agrees with the x86asm path
// whenever it decodes. With STACKSCOPE_X86_NODE=1 it does the same over
// /usr/bin/node, and over the file STACKSCOPE_X86_TEXT names.
func TestFastMatchesSlow(t *testing.T) {
	paths := []string{libcPath, libstdcxxPath}
	if os.Getenv("STACKSCOPE_X86_NODE") == "1" {
		paths = append(paths, "/usr/bin/node")
	}
	if p := os.Getenv("STACKSCOPE_X86_TEXT"); p != "" {
		paths = append(paths, p)
	}
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("SKIPPED: %s not present", path)
		}
		text, base := textSection(t, path)
		taken, aligned, alignedFast := 0, 0, 0
		var d Decoder
		next := 0 // the next instruction boundary of a linear sweep
		for off := range text {
			fast := checkFast(t, text[off:], base+uint64(off))
			if fast {
				taken++
			}
			if off == next {
				aligned++
				if fast {
					alignedFast++
				}
				if e, err := d.Decode(text[off:], base+uint64(off)); err == nil {
					next += e.Len
				} else {
					next++
				}
			}
			if t.Failed() {
				return
			}
		}
		t.Logf("%s: fast path agreed at %d of %d byte offsets; took %d of %d instructions of a linear sweep (%.1f%%)",
			path, taken, len(text), alignedFast, aligned, 100*float64(alignedFast)/float64(aligned))
	}
}

// TestFastMatchesSlowEveryOpcode compares the fast path with the x86asm
// path on every one- and two-byte opcode (0F xx) under each prefix the
// fast path looks at (none, 66, F2, F3, the fs and gs segments, and
// REX with each of W, R, X and B), with every ModRM byte and two
// different SIB bytes and tails: every form of every opcode the fast
// path takes, whether or not a compiler emitted it in the libraries
// TestFastMatchesSlow reads.
func TestFastMatchesSlowEveryOpcode(t *testing.T) {
	prefixes := [][]byte{nil, {0x66}, {0xF2}, {0xF3}, {0x64}, {0x65}, {0x2E}, {0x3E}}
	rexes := []byte{0, 0x40, 0x41, 0x42, 0x44, 0x48, 0x49, 0x4C, 0x4D, 0x4F}
	// After ModRM: a SIB byte (base rsp, no index; base rbp-less with an
	// index of rbp) and then a displacement and immediates.
	tails := [][]byte{
		{0x24, 0xF0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99},
		{0x6D, 0x80, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00},
	}
	taken := 0
	forEveryOpcode(t, prefixes, rexes, tails, func(code, _ []byte, _ byte, _ []byte) {
		if checkFast(t, code, testPC) {
			taken++
		}
	})
	t.Logf("the fast path took %d encodings, each as x86asm decodes it", taken)
}

// forEveryOpcode calls check with every one- and two-byte (0F) opcode
// under each prefix and REX byte (0: none), each followed by every ModRM
// byte and then each tail, until a check fails. check also gets the
// prefix, ModRM byte and tail the code was made of.
func forEveryOpcode(t *testing.T, prefixes [][]byte, rexes []byte, tails [][]byte, check func(code, pre []byte, modrm byte, tail []byte)) {
	code := make([]byte, 0, 16)
	for _, pre := range prefixes {
		for _, rex := range rexes {
			for two := 0; two < 2; two++ {
				for op := 0; op < 256; op++ {
					for modrm := 0; modrm < 256; modrm++ {
						for _, tail := range tails {
							code = append(code[:0], pre...)
							if rex != 0 {
								code = append(code, rex)
							}
							if two == 1 {
								code = append(code, 0x0F)
							}
							code = append(code, byte(op), byte(modrm))
							check(append(code, tail...), pre, byte(modrm), tail)
							if t.Failed() {
								return
							}
						}
					}
				}
			}
		}
	}
}
