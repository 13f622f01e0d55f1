package analysis

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
	"github.com/stackscope/stackscope/internal/threads"
)

// buildLuaShared links Lua (gcc -O2) as a shared object: hundreds of
// exported entries, recursion in the parser and the collector, and calls
// into libc, whose reasons the entries reach.
func buildLuaShared(t *testing.T) *Result {
	t.Helper()
	return buildLuaSharedWith(t, Options{Exclude: []string{"luaG_runerror"}})
}

// buildLuaSharedWith is buildLuaShared analysed with opts.
func buildLuaSharedWith(t *testing.T, opts Options) *Result {
	t.Helper()
	root := sourceTree(t, "lua5.4")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := append([]string{"-O2", "-fPIC", "-DLUA_USE_LINUX"}, luaIncludes(t, root, dir)...)
	objs := compileEach(t, dir, gcc, flags, luaSources(t, root))
	lib := filepath.Join(dir, "liblua.so")
	testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm", "-ldl")...)...)
	res, err := Run(lib, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) < 100 {
		t.Fatalf("only %d entries", len(res.Entries))
	}
	return res
}

// TestSharedLowerIsLowerBound: the lower bounds of all entries through one
// threads.Lower (which walks a function that reaches no cycle once) are
// those of a walk per entry, to the chain, with the same Stop as the
// analysis (error paths cut, asked of a fresh memo on each side) and
// with and without the exclusion.
func TestSharedLowerIsLowerBound(t *testing.T) {
	res := buildLuaShared(t)
	g := res.Graph
	cfg := withExcludes(&config.Config{}, []string{"luaG_runerror"})
	bo := boundOptions(g, cfg)
	if len(bo.Excluded) == 0 {
		t.Fatal("luaG_runerror not excluded")
	}
	for _, excluded := range []bool{true, false} {
		opts := func() threads.LowerOptions {
			lo := lowerOptions(bo, newNoReturn(g, bo.Excluded))
			if !excluded {
				lo.Excluded = nil
			}
			return lo
		}
		shared := threads.NewLower(g, opts())
		oneOff := opts()
		cyclic, deep := 0, 0
		for _, e := range res.Entries {
			d1, c1 := shared.Bound(e.Node)
			d2, c2 := threads.LowerBound(g, e.Node, oneOff)
			if d1 != d2 || !slices.Equal(c1, c2) {
				t.Errorf("%s (excluded %v): shared %d %v, one walk %d %v", e.Name, excluded, d1, c1, d2, c2)
			}
			if slices.ContainsFunc(e.Reasons, func(r bound.Reason) bool { return r.Kind == bound.ReasonRecursion }) {
				cyclic++
			}
			if len(c1) > 3 {
				deep++
			}
		}
		// Not a vacuous comparison: entries that reach recursion (whose
		// functions the shared walk does again) and long chains.
		if cyclic < 10 || deep < 50 {
			t.Errorf("excluded %v: %d entries reach recursion, %d chains longer than 3 (want >= 10, >= 50)", excluded, cyclic, deep)
		}
		t.Logf("excluded %v: %d entries, %d reach recursion, %d chains longer than 3", excluded, len(res.Entries), cyclic, deep)
	}
}

// TestReachedThroughFirstCall: the library call a suggestion names is the
// first call of libraryCalls whose entry (bound.Analysis.Entry) lists the
// reason, as when every call's entry was built, for every library reason
// of every entry.
func TestReachedThroughFirstCall(t *testing.T) {
	res := buildLuaShared(t)
	bo := boundOptions(res.Graph, withExcludes(&config.Config{}, []string{"luaG_runerror"}))
	rt := newReachedThrough(res, bo)
	checked, named := 0, 0
	for _, e := range res.Entries {
		want := map[reasonKey]int{}
		for _, lib := range res.libraryCalls(e.Node, bo) {
			b := res.Bounds.Entry(bound.Spec{Name: res.Graph.Nodes[lib].Name(), Node: lib})
			for _, r := range b.Reasons {
				if _, ok := want[reasonKeyOf(r)]; !ok {
					want[reasonKeyOf(r)] = lib
				}
			}
		}
		got := rt.first(e.Node, e.Reasons)
		for _, r := range e.Reasons {
			if r.Library == "" {
				continue
			}
			checked++
			k := reasonKeyOf(r)
			w, wok := want[k]
			g, gok := got[k]
			if w != g || wok != gok {
				t.Errorf("%s: %s %s %#x: first call %d (%v), want %d (%v)", e.Name, r.Kind, r.Function, r.Addr, g, gok, w, wok)
			}
			if gok {
				named++
			}
		}
	}
	if checked < 100 || named < 100 {
		t.Errorf("%d library reasons checked, %d with a call named: want >= 100 each", checked, named)
	}
	t.Logf("%d library reasons checked, %d with a call named", checked, named)
}
