package analysis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLazyResolverNesting: on a program linked with -z now, libc's lazy
// slots still reach ld.so's resolver, whose own callees (do_lookup_x's
// error path into libc's _dl_signal_error, ld.so's malloc words into
// libc's malloc) reach it again through libc's lazy slots. The cycle
// gets a depth of 1 + those slots, on the lazy-nesting premise: main
// lists no recursion through _dl_runtime_resolve and lists the premise
// once; every lazy call back into the resolver comes from libc, and the
// depth is at most one more than their number (their distinct slots).
func TestLazyResolverNesting(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/writeexit.c")
	bin := filepath.Join(dir, "writeexit")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, src)
	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	g := res.Graph
	var r = -1
	for id, n := range g.Nodes {
		if n.Name() == callgraph.LazyResolverName && n.Func != nil {
			r = id
		}
	}
	if r < 0 {
		t.Skip("ld.so's resolver is not modelled on this machine")
	}
	n := g.Nodes[r]
	if n.RecursionDepth < 2 {
		t.Fatalf("the resolver's cycle has depth %d, want at least 2 (1 + the slots that re-enter it)", n.RecursionDepth)
	}
	i := slices.IndexFunc(n.Premises, func(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseLazyNesting })
	if i < 0 {
		t.Fatalf("the resolver carries no lazy-nesting premise: %+v", n.Premises)
	}
	// The lazy calls into the resolver from the nodes it reaches: each
	// from libc, at a call objdump shows going to a PLT stub of libc.
	libc := requireLibcDebug(t, res)
	reach := reachableFrom(g, r)
	var fromLibc int
	for v := range reach {
		for _, e := range g.Nodes[v].Edges {
			if e.To == r && e.Method == callgraph.MethodLazy {
				if g.Nodes[v].Module != libc {
					t.Errorf("a lazy call into the resolver from %s, not libc", g.QualifiedName(v))
				}
				fromLibc++
			}
		}
	}
	if fromLibc == 0 || n.RecursionDepth > int64(1+fromLibc) {
		t.Errorf("depth %d from %d lazy calls re-entering the resolver: want 1 + their distinct slots, at most 1 + the calls", n.RecursionDepth, fromLibc)
	}
	main := entry(t, res, "main")
	if slices.ContainsFunc(main.Reasons, func(x bound.Reason) bool {
		return x.Kind == "recursion" && strings.HasPrefix(x.Function, callgraph.LazyResolverName)
	}) {
		t.Errorf("main still lists the resolver's recursion: %s", reasonSummary(main))
	}
	if c := len(slices.DeleteFunc(slices.Clone(main.Assumptions), func(x bound.Assumption) bool { return x.Kind != callgraph.PremiseLazyNesting })); c != 1 {
		t.Errorf("main lists the lazy-nesting premise %d times, want once", c)
	}
	t.Logf("resolver depth %d (%d lazy calls back into it): %s", n.RecursionDepth, fromLibc, n.Premises[i].Detail)
}
