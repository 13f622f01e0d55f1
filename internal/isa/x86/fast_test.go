package x86

import (
	"os"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// checkFast compares the fast path with the x86asm path at one offset. It
// returns whether the fast path took the instruction.
func checkFast(t testing.TB, code []byte, pc uint64) bool {
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
	var s fastParse
	var fromParse isa.Effect
	decodeFastParse(code, pc, &fromParse, &s)
	again := fromParse
	setDefFast(code, pc, &fromParse, &s)
	setDef(code, pc, &again)
	if fromParse != again {
		t.Errorf("% x at %#x: registers described from the fast parse\n%+v\nby setDef\n%+v", code[:n], pc, fromParse, again)
	}
	return true
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
