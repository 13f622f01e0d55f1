package callgraph

import (
	"bytes"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// FuzzCookieStackFlow: the flow that reads a by-value struct argument from
// the outgoing argument area never panics on any instructions, and
// keeps only known values in its words (a constant, or an address in the
// frame), at offsets a store of 8 or 16 bytes could write, that is
// 8-byte words at any offset from the start SP (never an unknown value,
// which must be no entry).
// Seeds (testdata/fuzz/FuzzCookieStackFlow): the code before the calls
// of fopencookie in cookie.c's main at -O0 and -O2 and in glibc 2.36's
// fmemopen.
func FuzzCookieStackFlow(f *testing.F) {
	f.Fuzz(func(t *testing.T, code []byte) {
		fl := stackFlow{mem: map[int64]cv{}}
		fl.gp[4] = cv{cvStack, 0}
		for off, steps := 0, 0; off < len(code) && steps < 256; steps++ {
			b := code[off:]
			if bytes.HasPrefix(b, endbr64) {
				off += len(endbr64)
				continue
			}
			in, err := x86asm.Decode(b, 64)
			if err != nil || in.Len <= 0 {
				return
			}
			if in.Op == x86asm.CALL {
				fl.afterCall()
			} else {
				fl.step(nil, &in, 0x1000+uint64(off+in.Len))
			}
			off += in.Len
		}
		for off, w := range fl.mem {
			if w.kind != cvConst && w.kind != cvStack {
				t.Errorf("word at %+d: kind %d, want a known value or no entry", off, w.kind)
			}
		}
	})
}
