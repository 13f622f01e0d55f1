package analysis

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestOwnersJumpTable: glibc's __mempcpy_ssse3 jumps into
// __memcpy_ssse3's body, where `jmp rcx` picks one of its 16-byte-aligned
// copy loops; __memcpy_ssse3's own walk takes that jump for a jump table.
// Reached from __mempcpy_ssse3's walk, the jump goes to __memcpy_ssse3
// (its value covers the blocks), not to libc's address-taken set, through
// which every program calling memcpy reached any function of libc.
func TestOwnersJumpTable(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog := filepath.Join(dir, "libcmodel")
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	g := res.Graph
	ids := g.NodesNamed("__mempcpy_ssse3")
	if len(ids) == 0 {
		t.Skipf("SKIPPED: this libc has no __mempcpy_ssse3 (glibc 2.36 on x86-64 has)")
	}
	n := g.Nodes[ids[0]]
	owners := 0
	for _, e := range n.Edges {
		to := g.Nodes[e.To]
		if to.Hub {
			t.Errorf("__mempcpy_ssse3 jumps to %s at %#x (%s)", to.Name(), e.Site, e.Method)
		}
		if e.Method != callgraph.MethodOwnersTable {
			continue
		}
		owners++
		if !holds(to.Func.Addr, to.Func.Size, e.Site) || holds(n.Func.Addr, n.Func.Size, e.Site) {
			t.Errorf("the jump at %#x is linked to %s, which does not hold it (or __mempcpy_ssse3 does)", e.Site, to.Name())
		}
		if to.Frame.JumpTables == 0 {
			t.Errorf("%s has no jump table, yet the jump at %#x is linked to it", to.Name(), e.Site)
		}
	}
	if owners == 0 {
		t.Errorf("__mempcpy_ssse3 has no jump into its owner's table: %+v", n.Edges)
	}
	if len(n.Assumed) > 0 {
		t.Errorf("__mempcpy_ssse3 keeps assumed calls: %+v", n.Assumed)
	}
}

func holds(addr, size, at uint64) bool { return at >= addr && at < addr+size }
