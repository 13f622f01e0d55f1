package callgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestProgramDWARFAheadSameGraph: a C program with DWARF whose calls
// through tables of function pointers the resolution narrows by their
// prototypes builds the same graph, node for node and edge for edge, with
// the same assumptions, whether its DWARF types are loaded ahead on
// another goroutine (loadProgramDWARFAhead) or at the first narrowing;
// and the load ahead did run (under -race, beside the resolution).
func TestProgramDWARFAheadSameGraph(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	// (internal/analysis/testdata/indirect/dispatch.c's shape: calls
	// through tables of pointers of two prototypes.)
	src := `typedef int (*small_fn)(int, char *);
typedef long (*big_fn)(long);
struct small_op { const char *name; small_fn fn; };
struct big_op { const char *name; big_fn fn; };
__attribute__((noinline)) int small_a(int a, char *s) { volatile char buf[64]; buf[a & 63] = s[0]; return buf[(a * 3) & 63]; }
__attribute__((noinline)) int small_b(int a, char *s) { volatile char buf[512]; buf[a & 511] = s[0]; return buf[(a * 5) & 511] + 1; }
__attribute__((noinline)) long big_a(long x) { volatile char buf[4096]; buf[x & 4095] = 1; return buf[(x * 7) & 4095]; }
struct small_op small_ops[] = {{"a", small_a}, {"b", small_b}};
struct big_op big_ops[] = {{"x", big_a}};
__attribute__((noinline)) int run_small(int i, char *s) { return small_ops[i & 1].fn(i, s) + 1; }
__attribute__((noinline)) long run_big(int i, long v) { return big_ops[0].fn(v + i) * 2; }
int main(int argc, char **argv) { return (run_small(argc, argv[0]) + (int)run_big(argc, 3)) & 1; }
`
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, cc, "-g", "-O2", "-o", "prog", "prog.c")
	build := func(ahead bool) ([]string, []*Node, bool) {
		defer func(on bool) { dwarfAheadOn = on }(dwarfAheadOn)
		dwarfAheadOn = ahead
		f, err := binfile.Open(filepath.Join(dir, "prog"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Workers: 2})
		var lines []string
		for id, n := range g.Nodes {
			lines = append(lines, fmt.Sprintf("%d %s", id, g.QualifiedName(id)))
			for _, e := range n.Edges {
				lines = append(lines, fmt.Sprintf("  -> %d %s %s %#x", e.To, g.QualifiedName(e.To), e.Method, e.Site))
			}
		}
		return lines, g.Nodes, g.dwarfAhead
	}
	without, withoutNodes, started := build(false)
	if started {
		t.Fatal("the load ahead ran with dwarfAheadOn false")
	}
	prototypes := 0
	for _, n := range withoutNodes {
		for _, a := range n.Assumed {
			if a.Method == MethodPrototype {
				prototypes++
			}
		}
	}
	if prototypes == 0 {
		t.Fatalf("%d calls narrowed by prototype: the fixture no longer reads the program's DWARF types", prototypes)
	}
	with, withNodes, started := build(true)
	if !started {
		t.Fatal("the program's DWARF types were not loaded ahead")
	}
	if !reflect.DeepEqual(without, with) {
		t.Fatalf("the graphs differ: %d lines loaded at the first narrowing, %d loaded ahead", len(without), len(with))
	}
	for id, n := range withoutNodes {
		m := withNodes[id]
		if !reflect.DeepEqual(n.Frame, m.Frame) || !reflect.DeepEqual(n.Unresolved, m.Unresolved) || !reflect.DeepEqual(n.Assumed, m.Assumed) {
			t.Fatalf("node %d %s differs: assumed %+v, loaded ahead %+v", id, n.Name(), n.Assumed, m.Assumed)
		}
	}
}
