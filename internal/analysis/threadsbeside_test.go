package analysis

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestThreadsBesideSameAsAfter: the threads found on their own goroutine
// beside the bounds (threadsbeside.go) are those findThreads finds alone
// on the final graph afterwards, and the function list and threads of a
// result-only analysis (the list made while the threads are still being
// found, the nodes let go after) are those of a full one. Programs that
// create pthreads (start_thread's part, its own bound) and a clone; with
// -race, the goroutine's reads against the bounds' and the list's. The
// threads found beside take their bounds from the entries' analysis
// (entriesBound), those found alone make their own: the same threads.
func TestThreadsBesideSameAsAfter(t *testing.T) {
	for _, c := range []struct {
		src     string
		beside  bool // the graph allows it: the goroutine ran
		threads int
	}{
		{"pthread.c", true, 2},
		{"tsd_dtor.c", true, 1},
		{"clone.c", true, 1},
	} {
		t.Run(c.src, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, c.src, "-O2")
			opts := Options{Config: parseConfig(t, afterEntryConfig), Exclude: []string{"abort"}}
			full, err := Run(bin, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(full.Threads) != c.threads {
				t.Fatalf("%d threads, want %d: %+v", len(full.Threads), c.threads, full.Threads)
			}
			if got := full.threadsBeside; got != c.beside {
				t.Errorf("threads found beside the bounds: %v, want %v", got, c.beside)
			}
			// Beside, the threads' entries are bounded by the entries'
			// analysis (entriesBound): what findThreads alone, below, gets
			// from a bound.New of their own.
			if got := full.threadsSharedBound; got != c.beside {
				t.Errorf("threads bounded by the entries' analysis: %v, want %v", got, c.beside)
			}
			// findThreads again, alone, on the graph RunFile left (it only
			// read it), with the options RunFile gave it.
			var warnings []string
			alone := findThreads(full, withConfig(opts, withExcludes(checkAnnotations(full.File, opts.Config, &warnings), opts.Exclude)))
			if a, b := jsonOf(t, full.Threads), jsonOf(t, alone); a != b {
				t.Errorf("threads found beside the bounds:\n%s\nfound alone after them:\n%s", a, b)
			}
			opts.ResultOnly = true
			only, err := Run(bin, opts)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := jsonOf(t, full.Threads), jsonOf(t, only.Threads); a != b {
				t.Errorf("result-only threads differ:\n%s\nfull:\n%s", b, a)
			}
			if a, b := jsonOf(t, full.Functions), jsonOf(t, only.Functions); a != b {
				t.Errorf("result-only function list differs from the full analysis' (%d and %d functions)", len(only.Functions), len(full.Functions))
			}
		})
	}
}

// TestGraphHasNodeAndSettled: what threadsOnlyRead asks of the graph,
// against what the build gives: every function of the program (and of a
// followed libc: the build gives each library function its node) has its
// node, nothing is pending, and a function index past the end has none;
// the threads of the finished analysis are then found beside the bounds.
func TestGraphHasNodeAndSettled(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "plain.c"), filepath.Join(dir, "plain")
	if err := os.WriteFile(src, []byte("int main(int argc, char **argv) { return argc; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, cc, "-O2", "-o", bin, src)
	f, err := binfile.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	dec, align := DecoderFor(f.Arch)
	g := callgraph.Build(f, dec, callgraph.Options{FollowLibraries: true, StackAlign: align})
	if !g.Settled() {
		t.Errorf("Settled: false after the build")
	}
	libc := false
	for _, m := range g.Modules {
		for fi := range m.File.Functions {
			if !g.HasNode(m, fi) {
				t.Fatalf("%s (%s) has no node after the build", m.File.Functions[fi].Name(), m.Name)
			}
		}
		if g.HasNode(m, len(m.File.Functions)) {
			t.Errorf("HasNode: true for a function index past %s's functions", m.Name)
		}
		_, ok := m.File.Lookup("start_thread")
		libc = libc || ok
	}
	if !libc {
		t.Fatalf("no libc with start_thread among %s's libraries", bin)
	}
	if !threadsOnlyRead(g) {
		t.Errorf("threadsOnlyRead: false for a built graph")
	}
	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.threadsBeside {
		t.Errorf("the threads of a plain program were not found beside the bounds")
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEntriesBoundOnlyForSameOptions: the entries' bound is not taken for
// the threads when their options differ (an exclusion, a declared frame
// or depth one has and the other has not), and then it is not waited for.
func TestEntriesBoundOnlyForSameOptions(t *testing.T) {
	with := func(ex, fr, dp map[int]int64) bound.Options {
		o := bound.Options{Overrides: map[int]int64{}, Depths: map[int]int64{}, Excluded: map[int]bool{}}
		for k := range ex {
			o.Excluded[k] = true
		}
		maps.Copy(o.Overrides, fr)
		maps.Copy(o.Depths, dp)
		return o
	}
	entries := with(map[int]int64{3: 0}, map[int]int64{4: 64}, nil)
	b := newEntriesBound(entries) // (never made: forRoots must not wait)
	for _, other := range []bound.Options{
		with(nil, map[int]int64{4: 64}, nil),
		with(map[int]int64{3: 0}, map[int]int64{4: 32}, nil),
		with(map[int]int64{3: 0}, map[int]int64{4: 64}, map[int]int64{5: 2}),
	} {
		if a := b.forRoots(other, []int{1}); a != nil {
			t.Errorf("options %+v: took the entries' bound made with %+v", other, entries)
		}
	}
	if !sameOptions(entries, with(map[int]int64{3: 0}, map[int]int64{4: 64}, nil)) {
		t.Error("equal options taken as different")
	}
}
