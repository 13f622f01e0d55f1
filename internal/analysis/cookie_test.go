package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestCookieStreamFunctions: a program whose only path to a deep
// function is a FILE operation on a stream of its own (fopencookie, with
// a write function that has a 16,000-byte array; and fmemopen, whose
// stream glibc makes with its fmemopen_write). Asserts that
//   - from main, without going through an address-taken set, the write
//     function is reached, and only through the hub of fopencookie's
//     write functions that _IO_cookie_write's call goes to (the edge's
//     method the model's); with --strict the hub is not there;
//   - that hub holds exactly the functions the program's and libc's
//     calls of fopencookie pass as write (deep_write; fmemopen_write,
//     both versions of fmemopen's);
//   - _IO_cookie_write is bounded, its worst path ends in the write
//     function, and a gdb-measured call of it (from its caller's SP down
//     to the lowest SP until it returns) stays at or below that bound.
//   - main itself (built with -z now) is BOUNDED where the model applies,
//     its bound at least _IO_cookie_write's, and a gdb-measured run of
//     main (until it returns or reaches _exit) stays at or below it.
func TestCookieStreamFunctions(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	testutil.RequireTool(t, "gdb")
	mine := []string{"deep_write", "fmemopen_write", "fmemopen_write"}
	cases := []struct {
		src   string
		flags []string
		deep  string   // the write function the stream calls
		want  []string // fopencookie's write functions; nil: not linked
	}{
		{"cookie.c", []string{"-O0"}, "deep_write", mine},
		{"cookie.c", []string{"-O2"}, "deep_write", mine},
		{"memstream.c", []string{"-O2"}, "fmemopen_write", []string{"fmemopen_write", "fmemopen_write"}},
		// io copied from a static const struct: .data.rel.ro, a
		// relocation in a PIE, the address itself without.
		{"variants.c", []string{"-O2", "-pie", "-DCONST_IO"}, "deep_write", mine},
		{"variants.c", []string{"-O2", "-no-pie", "-DCONST_IO"}, "deep_write", mine},
		// Not constants, or fopencookie called through a pointer: the
		// call keeps libc's address-taken set.
		{"variants.c", []string{"-O2", "-DRUNTIME_IO"}, "deep_write", nil},
		{"variants.c", []string{"-O2", "-DTAKEN"}, "deep_write", nil},
	}
	for _, c := range cases {
		t.Run(c.src+strings.Join(c.flags, ""), func(t *testing.T) {
			dir := t.TempDir()
			src, _ := filepath.Abs(filepath.Join("testdata", "cookie", c.src))
			bin := filepath.Join(dir, strings.TrimSuffix(c.src, ".c"))
			testutil.Run(t, dir, gcc, append(append([]string{"-g", "-Wl,-z,now"}, c.flags...), "-o", bin, src)...)
			res, err := Run(bin, Options{})
			if err != nil {
				t.Fatal(err)
			}
			requireLibcDebug(t, res)
			g := res.Graph
			cw := g.NodesNamed("_IO_cookie_write")
			if len(cw) != 1 {
				t.Fatalf("_IO_cookie_write: %d nodes, want 1", len(cw))
			}
			// Reached from main without an address-taken set: through the hub only.
			into := hubFreeEdgesInto(g, g.NodesNamed("main")[0], c.deep)
			if c.want == nil {
				for _, e := range g.Nodes[cw[0]].Edges {
					if e.Method == callgraph.MethodCookieIO {
						t.Fatalf("_IO_cookie_write's call linked by the model to %s, want it left to the address-taken set", g.Nodes[e.To].Name())
					}
				}
				if len(into) > 0 {
					t.Errorf("%s reached from main without an address-taken set (from %s)", c.deep, g.Nodes[into[0]].Name())
				}
				return
			}
			if len(into) == 0 {
				t.Fatalf("%s is not reached from main without an address-taken set", c.deep)
			}
			hub := cookieWriteHub(t, g, cw[0])
			var names []string
			for _, e := range g.Nodes[hub].Edges {
				names = append(names, g.Nodes[e.To].Name())
			}
			if !sameSet(names, c.want) {
				t.Errorf("fopencookie's write functions %v, want %v", names, c.want)
			}
			for _, from := range into {
				if from != hub {
					t.Errorf("%s reached from main through %s, want only through %s", c.deep, g.Nodes[from].Name(), g.Nodes[hub].Name())
				}
			}
			main := entry(t, res, "main")
			t.Logf("main: bounded %v, at least %d B, %d reasons, path %v", main.Bounded, main.AtLeast, len(main.Reasons), main.Path)
			e := res.Bounds.Entry(bound.Spec{Node: cw[0], Name: "_IO_cookie_write"})
			if !e.Bounded {
				t.Fatalf("_IO_cookie_write not bounded: %+v", e.Reasons)
			}
			if !pathHas(g, e.Path, c.deep) {
				t.Errorf("_IO_cookie_write's worst path %v does not reach %s", stepNames(e.Path), c.deep)
			}
			if c.deep == "deep_write" && e.Bound < 15000 {
				t.Errorf("_IO_cookie_write's bound %d B is below deep_write's array", e.Bound)
			}
			t.Logf("_IO_cookie_write: bound %d B, path %v", e.Bound, stepNames(e.Path))
			depths := measuredDepths(t, dir, bin, "_IO_cookie_write", 1)
			if len(depths) != 1 {
				t.Fatalf("no measured run of _IO_cookie_write")
			}
			if depths[0] > e.Bound {
				t.Errorf("_IO_cookie_write used %d B in a measured run, above its bound %d B", depths[0], e.Bound)
			}
			if c.deep == "deep_write" && depths[0] < 15000 {
				t.Errorf("measured %d B: the run did not go through deep_write", depths[0])
			}
			if !main.Bounded || *main.Bound < e.Bound {
				t.Errorf("main: bounded %v at %s, want bounded at least at _IO_cookie_write's %d B; reasons %s", main.Bounded, show(main.Bound), e.Bound, reasonSummary(main))
			} else if d := measuredToExit(t, dir, bin, "main"); d < 0 || d > *main.Bound {
				t.Errorf("main: a gdb-measured run went %d B deep (-1: not measured), its bound %d B", d, *main.Bound)
			} else {
				t.Logf("main: bound %d B, measured %d B", *main.Bound, d)
			}
			strict, err := Run(bin, Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range strict.Graph.NodesNamed("_IO_cookie_write") {
				for _, ed := range strict.Graph.Nodes[id].Edges {
					if ed.Method == callgraph.MethodCookieIO {
						t.Errorf("--strict: _IO_cookie_write still calls %s by the model", strict.Graph.Nodes[ed.To].Name())
					}
				}
			}
		})
	}
}

// cookieWriteHub returns the one node _IO_cookie_write's indirect call
// goes to by the model.
func cookieWriteHub(t *testing.T, g *callgraph.Graph, id int) int {
	t.Helper()
	hub := -1
	for _, e := range g.Nodes[id].Edges {
		if e.Method == callgraph.MethodCookieIO {
			if hub >= 0 {
				t.Fatalf("_IO_cookie_write: two edges by the model")
			}
			hub = e.To
		}
	}
	if hub < 0 {
		var m []string
		for _, e := range g.Nodes[id].Edges {
			m = append(m, g.Nodes[e.To].Name()+" ("+e.Method.String()+")")
		}
		t.Fatalf("_IO_cookie_write's call is not linked by the model: edges %v", m)
	}
	return hub
}

// hubFreeEdgesInto returns the nodes with an edge into the function named
// name among those reachable from root without passing through an
// address-taken set.
func hubFreeEdgesInto(g *callgraph.Graph, root int, name string) []int {
	taken := func(id int) bool {
		n := g.Nodes[id]
		return n.Hub && strings.HasPrefix(n.Name(), "[any of ")
	}
	seen := map[int]bool{root: true}
	queue := []int{root}
	var out []int
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, e := range g.Nodes[id].Edges {
			if taken(e.To) {
				continue
			}
			if g.Nodes[e.To].Named(name) {
				out = append(out, id)
			}
			if !seen[e.To] {
				seen[e.To] = true
				queue = append(queue, e.To)
			}
		}
	}
	return out
}

func pathHas(g *callgraph.Graph, path []bound.Step, name string) bool {
	for _, s := range path {
		if g.Nodes[s.Node].Named(name) {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, v := range count {
		if v != 0 {
			return false
		}
	}
	return true
}
