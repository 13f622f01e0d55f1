package analysis

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestWriteExitBounded is issue 14's program whose only library calls are
// write and exit, linked with -z now: main is BOUNDED, its bound is its
// own frame (equal to gcc's .su) plus its red zone plus the deeper of the
// bounds of the two libc paths it calls (exit's, through _dl_fini and
// libio's flush, is the deeper one on glibc 2.36; write's alone would be
// below what the program runs), and a gdb-measured run of main stays at
// or below the bound. Every premise main rests on is listed, and with
// --strict (no glibc model premises) main is not bounded.
func TestWriteExitBounded(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/writeexit.c")
	bin := filepath.Join(dir, "writeexit")
	testutil.Run(t, dir, gcc, "-O2", "-fstack-usage", "-Wl,-z,now", "-o", bin, src)

	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	main := entry(t, res, "main")
	if !main.Bounded || main.Bound == nil {
		t.Fatalf("main is NOT BOUNDED (at least %d B): %s", main.AtLeast, reasonSummary(main))
	}

	var su int64 = -1
	for _, l := range testutil.ParseSU(t, dir) {
		if l.Function == "main" {
			su = l.Bytes
		}
	}
	fr := frames(res)
	var own int64
	for _, f := range res.Functions {
		if f.Name == "main" && f.Frame != nil {
			own = *f.Frame
		}
	}
	if su < 0 || own != su {
		t.Fatalf("main's frame %d B, gcc's .su %d B", own, su)
	}

	// The libc functions main calls, through its PLT.
	g, a := res.Graph, res.Bounds
	callee := map[string]int64{}
	id := entryNode(t, res, "main")
	for _, e := range g.Nodes[id].Edges {
		to := e.To
		for g.Nodes[to].Func == nil || g.Nodes[to].Module == g.Modules[0] {
			// A PLT stub: its one edge goes into the library.
			if len(g.Nodes[to].Edges) != 1 {
				break
			}
			to = g.Nodes[to].Edges[0].To
		}
		n := g.Nodes[to]
		if n.Module == nil || !strings.HasPrefix(n.Module.Name, "libc.so") {
			t.Fatalf("main's call at %#x goes to %s, not into libc", e.Site, g.QualifiedName(to))
		}
		if !a.Bounded(to) {
			t.Fatalf("%s is not bounded, yet main is", g.QualifiedName(to))
		}
		callee[n.Func.Name()] = max(callee[n.Func.Name()], a.Value(to))
	}
	if _, ok := callee["write"]; !ok {
		t.Fatalf("main's callees %v: no write", callee)
	}
	if _, ok := callee["exit"]; !ok {
		t.Fatalf("main's callees %v: no exit", callee)
	}
	want := fr["main"] + max(callee["write"], callee["exit"])
	if *main.Bound != want {
		t.Errorf("main's bound %d B, want %d (main %d B + red zone, then the deeper of write %d B and exit %d B)",
			*main.Bound, want, fr["main"], callee["write"], callee["exit"])
	}
	t.Logf("main bounded at %d B: main %d B, write %d B, exit %d B; premises: %s", *main.Bound, fr["main"], callee["write"], callee["exit"], premiseKinds(main))

	testutil.RequireTool(t, "gdb")
	// main never returns (exit): measured from its caller's SP (return
	// address included, as main's frame in the bound) until _exit.
	d := measuredToExit(t, dir, bin, "main")
	t.Logf("gdb-measured run of main: %d B deep", d)
	if d < 0 {
		t.Errorf("no gdb-measured run of main")
	} else if d > *main.Bound {
		t.Errorf("a gdb-measured run of main went %d B deep, above its bound %d B", d, *main.Bound)
	}

	// The ELF entry too: _start -> __libc_start_main -> main, with the
	// [exit handlers] node's depth at _dl_fini's calls of the .fini_array
	// (made again once _dl_fini's arrays are bounded, and not failed by
	// dfs_traversal's recursion, which reaches no such call).
	if start := entry(t, res, "_start"); !start.Bounded || *start.Bound < *main.Bound {
		t.Errorf("_start: bounded %v at %s (main %d B): %s", start.Bounded, show(start.Bound), *main.Bound, reasonSummary(start))
	}

	strict, err := Run(bin, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, strict, "main"); e.Bounded {
		t.Errorf("with --strict main is bounded (%s): the glibc model's premises were not all off", show(e.Bound))
	}
}

// premiseKinds lists an entry's assumption kinds, sorted, without repeats.
func premiseKinds(e Entry) string {
	var kinds []string
	for _, x := range e.Assumptions {
		kinds = append(kinds, x.Kind)
	}
	slices.Sort(kinds)
	return fmt.Sprint(slices.Compact(kinds))
}
