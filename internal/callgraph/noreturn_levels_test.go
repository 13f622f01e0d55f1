package callgraph

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestNeverAcrossLevels: never's answers, taken from the cache of
// another level where that is exact (fileCalls.known), are the answers
// each level gives alone, for every function of
// testdata/noreturn_levels.c (built at test time) and of the C library
// it links (glibc: hundreds of error paths that end in abort,
// __libc_fatal and their wrappers), asked level by level upwards and
// downwards. The test program's wrappers are found at the level their
// depth says: die (calls exit) from level 1, fatal (calls die) from
// level 2, fatal_deep (calls fatal) at no level; may_die returns.
func TestNeverAcrossLevels(t *testing.T) {
	bin, libc := noReturnFixtures(t)
	for _, path := range []string{bin, libc} {
		f, g := noReturnGraph(t, path)
		// The reference: each level's answers from that level's cache
		// alone (what never did before known).
		ref := newFileCalls()
		ref.ownLevelOnly = true
		want := map[[2]uint64]bool{}
		ends := 0
		for _, fn := range f.Functions {
			for level := 0; level <= noReturnLevels; level++ {
				v := ref.never(g, f, fn.Addr, level)
				want[[2]uint64{fn.Addr, uint64(level)}] = v
				if v {
					ends++
				}
			}
		}
		if ends == 0 {
			t.Fatalf("%s: no function found never to return at any level", path)
		}
		for _, order := range [][]int{{2, 1, 0}, {0, 1, 2}, {1, 2, 0}} {
			c := newFileCalls()
			for _, level := range order {
				for _, fn := range f.Functions {
					if got, w := c.never(g, f, fn.Addr, level), want[[2]uint64{fn.Addr, uint64(level)}]; got != w {
						t.Errorf("%s: %s at level %d (asked in order %v): never = %v, alone %v", filepath.Base(path), fn.Name(), level, order, got, w)
					}
				}
			}
		}
		if path != bin {
			continue
		}
		for _, c := range []struct {
			name   string
			levels [noReturnLevels + 1]bool
		}{
			{"die", [...]bool{false, true, true}},
			{"fatal", [...]bool{false, false, true}},
			{"fatal_deep", [...]bool{false, false, false}},
			{"may_die", [...]bool{false, false, false}},
		} {
			fn, ok := f.Lookup(c.name)
			if !ok {
				t.Fatalf("no %s in %s", c.name, bin)
			}
			for level, w := range c.levels {
				if got := want[[2]uint64{fn.Addr, uint64(level)}]; got != w {
					t.Errorf("%s at level %d: never = %v, want %v", c.name, level, got, w)
				}
			}
		}
	}
}

// noReturnFixtures builds testdata/noreturn_levels.c (-O1, no inlining:
// its wrappers stay calls) and finds the C library gcc links.
func noReturnFixtures(t *testing.T) (bin, libc string) {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/noreturn_levels.c")
	bin = filepath.Join(dir, "noreturn_levels")
	testutil.Run(t, dir, gcc, "-O1", "-fno-inline", "-o", bin, src)
	return bin, strings.TrimSpace(testutil.Run(t, dir, gcc, "-print-file-name=libc.so.6"))
}

// noReturnGraph opens path (closed when the test ends) and builds its
// graph.
func noReturnGraph(t *testing.T, path string) (*binfile.File, *Graph) {
	t.Helper()
	f, err := binfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, Build(f, x86.Decoder{}, Options{StackAlign: 16})
}
