package callgraph

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// countingDecoder is x86's decoder, counting the instructions
// codeNeverReturns decodes (not x86.Decoder, it takes the sweep's path).
type countingDecoder struct {
	x86.Decoder
	n *int
}

func (d countingDecoder) DecodeSweep(code []byte, pc uint64, eff *isa.Effect) error {
	*d.n++
	return d.Decoder.DecodeSweep(code, pc, eff)
}

// TestNeverBranchFirst: codeNeverReturns, walking a conditional jump's
// branch before its fall-through, gives every function of the C library
// (glibc: hundreds of error paths that end in abort and its wrappers)
// and of testdata/noreturn_levels.c the answer it gives walking the
// fall-through first (the order before), at every level; and on glibc
// it decodes fewer instructions (most functions return, and a branch
// reaches a return sooner).
func TestNeverBranchFirst(t *testing.T) {
	bin, libc := noReturnFixtures(t)
	for _, path := range []string{bin, libc} {
		f, g := noReturnGraph(t, path)
		var decoded int
		g.Decoder = countingDecoder{n: &decoded}
		ends := 0
		var before, after int
		for level := 0; level <= noReturnLevels; level++ {
			old, c := newFileCalls(), newFileCalls()
			old.fallThroughFirst = true
			for _, fn := range f.Functions {
				decoded = 0
				want := old.never(g, f, fn.Addr, level)
				before += decoded
				decoded = 0
				if got := c.never(g, f, fn.Addr, level); got != want {
					t.Errorf("%s: %s at level %d: never = %v, walking the fall-through first %v", filepath.Base(path), fn.Name(), level, got, want)
				}
				after += decoded
				if want {
					ends++
				}
			}
		}
		if ends == 0 {
			t.Fatalf("%s: no function found never to return", path)
		}
		t.Logf("%s: %d instructions decoded, walking the fall-through first %d", filepath.Base(path), after, before)
		if path == libc && after >= before {
			t.Errorf("%s: %d instructions decoded, walking the fall-through first %d: want fewer", filepath.Base(path), after, before)
		}
	}
}
