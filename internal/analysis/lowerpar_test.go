package analysis

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
	"github.com/stackscope/stackscope/internal/threads"
)

// TestParallelLowerIsSerial: the lower bounds walked on several
// goroutines (threads.Lower.BoundEach) are those walked one entry after
// the other, to the chain and its names, and leave the never-returns
// memo that Stop answers from as the serial walks do (its answers depend
// on the order it is asked in): on Lua built as a shared object and
// followed into libc, without exclusions (the analysis walks in parallel
// only then), for its unbounded entries and for every function of the
// graph as an entry, with 2 and 3 workers, with the prepass done ahead
// (threads.Lower.Prepare) and with the walks beside it as it goes
// (threads.Lower.StartPrepare).
func TestParallelLowerIsSerial(t *testing.T) {
	root := sourceTree(t, "lua5.4")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := append([]string{"-O2", "-fPIC", "-DLUA_USE_LINUX"}, luaIncludes(t, root, dir)...)
	objs := compileEach(t, dir, gcc, flags, luaSources(t, root))
	lib := filepath.Join(dir, "liblua.so")
	testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm", "-ldl")...)...)
	res, err := Run(lib, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	bo := boundOptions(g, &config.Config{})
	var unbounded, all []int
	cyclic := 0
	for _, e := range res.Entries {
		if !e.Bounded && e.AfterReset == nil {
			unbounded = append(unbounded, e.Node)
		}
		if slices.ContainsFunc(e.Reasons, func(r bound.Reason) bool { return r.Kind == bound.ReasonRecursion }) {
			cyclic++
		}
	}
	for id := range g.Nodes {
		all = append(all, id)
	}
	if len(unbounded) < 100 || cyclic < 10 {
		t.Fatalf("%d unbounded entries, %d reach recursion: want >= 100 and >= 10", len(unbounded), cyclic)
	}
	// RunFile's early prepass (startLowerBounds) is for the entries the
	// walks are for: its walker is the one they use.
	var specs []bound.Spec
	for _, e := range res.Entries {
		specs = append(specs, bound.Spec{Name: e.Name, Node: e.Node, Kind: e.Kind})
	}
	early := startLowerBounds(g, bo, true)
	early.forEntries(res, specs)
	if _, _, pl := early.finish(res); pl != early.pl || !slices.Equal(early.ids, unbounded) {
		t.Errorf("the early prepass was for %d entries, the walks are for %d (or another walker)", len(early.ids), len(unbounded))
	}
	<-early.done // (its walker is not walked here: its prepass ends alone)
	type walk struct {
		depth int64
		chain []threads.Step
	}
	for name, ids := range map[string][]int{"entries": unbounded, "every function": all} {
		serialNR := newNoReturn(g, bo.Excluded)
		serial := threads.NewLower(g, lowerOptions(bo, serialNR))
		var want []walk
		for _, id := range ids {
			d, c := serial.Bound(id)
			want = append(want, walk{d, slices.Clone(c)})
		}
		for _, run := range []struct {
			workers            int
			prepared, pipeline bool
		}{{2, false, false}, {3, false, false}, {2, true, false}, {2, false, true}, {3, false, true}} {
			workers, label := run.workers, name
			nr := newNoReturn(g, bo.Excluded)
			var got []walk
			l := threads.NewLower(g, lowerOptions(bo, nr))
			if run.prepared {
				// The prepass done ahead, on another goroutine
				// (startLowerBounds).
				done := make(chan struct{})
				go func() { l.Prepare(ids, workers); close(done) }()
				<-done
				label += " (prepared)"
			}
			if run.pipeline {
				// The prepass beside the walks (startLowerBounds): the
				// workers walk each chunk once it has passed it.
				prepass := l.StartPrepare(ids, workers)
				go prepass()
				label += " (beside the prepass)"
			}
			parallel := l.BoundEach(ids, workers, func(k int, d int64, c []threads.Step) {
				if k != len(got) {
					t.Fatalf("%s: walk %d given as the %d-th", name, k, len(got))
				}
				got = append(got, walk{d, slices.Clone(c)})
			})
			if parallel < len(ids) {
				t.Errorf("%s, %d workers: %d of %d walks done by the workers", label, workers, parallel, len(ids))
			}
			if len(got) != len(want) {
				t.Fatalf("%s, %d workers: %d walks, want %d", label, workers, len(got), len(want))
			}
			differ := 0
			for k := range want {
				if got[k].depth != want[k].depth || !slices.Equal(got[k].chain, want[k].chain) {
					if differ++; differ <= 5 {
						t.Errorf("%s, %d workers: %s: %d %v, one after the other %d %v", label, workers, g.Nodes[ids[k]].Name(), got[k].depth, got[k].chain, want[k].depth, want[k].chain)
					}
				}
			}
			if got, want := nr.answers(), serialNR.answers(); !maps.Equal(got, want) {
				t.Errorf("%s, %d workers: the never-returns memo holds %d answers, one after the other %d, or different ones", label, workers, len(got), len(want))
			}
		}
		t.Logf("%s: %d walks, %d never-returns answers", name, len(ids), len(serialNR.answers()))
	}
}
