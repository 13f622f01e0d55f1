package analysis

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestResultOnlySameModel: with Options.ResultOnly (the analyze command's
// text, JSON and SARIF reports of one file), the result model is the
// same, to the byte of its JSON and to the path nodes, as without it, on
// Lua linked as a shared object (hundreds of exported entries, most of
// them unbounded, whose paths are the lower bound's chains, written out
// after the graph is gone), with an exclusion (the chains without it
// too); and the graph and the bounds are gone.
func TestResultOnlySameModel(t *testing.T) {
	root := sourceTree(t, "lua5.4")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := append([]string{"-O2", "-fPIC", "-DLUA_USE_LINUX"}, luaIncludes(t, root, dir)...)
	objs := compileEach(t, dir, gcc, flags, luaSources(t, root))
	lib := filepath.Join(dir, "liblua.so")
	testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm", "-ldl")...)...)

	opts := Options{Exclude: []string{"luaG_runerror"}}
	full, err := Run(lib, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.ResultOnly = true
	only, err := Run(lib, opts)
	if err != nil {
		t.Fatal(err)
	}
	if only.Graph != nil || only.Bounds != nil {
		t.Errorf("ResultOnly kept the graph (%v) or the bounds (%v)", only.Graph != nil, only.Bounds != nil)
	}
	want, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(only)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ResultOnly's JSON differs (%d bytes, %d without it)", len(got), len(want))
	}
	if len(only.Entries) != len(full.Entries) {
		t.Fatalf("%d entries, %d without ResultOnly", len(only.Entries), len(full.Entries))
	}
	chains := 0
	for i, e := range only.Entries {
		if !slices.Equal(e.PathNodes, full.Entries[i].PathNodes) {
			t.Errorf("%s: path nodes %v, %v without ResultOnly", e.Name, e.PathNodes, full.Entries[i].PathNodes)
		}
		if !e.Bounded && e.AfterReset == nil && len(e.Steps) > 3 {
			chains++
		}
	}
	// Not a vacuous comparison: many paths are deferred chains.
	if chains < 50 {
		t.Errorf("only %d unbounded entries have a path longer than 3 steps (want >= 50)", chains)
	}
	t.Logf("%d entries, %d paths longer than 3 from the lower bound, %d bytes of JSON", len(only.Entries), chains, len(got))
}
