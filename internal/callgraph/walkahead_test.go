package callgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestWalkAheadSameGraph: the graph of a C++ program whose calls reach
// libstdc++, libc and libm (and whose callbacks make the resolution
// complete the libraries, for their address-taken sets) is the same,
// node for node, frame for frame and edge for edge, built with the
// libraries' frames walked ahead on another goroutine (walkahead.go) as
// without; once with the resolution waiting for the goroutine, so that
// every library frame it did not need first is the goroutine's, and once
// as it runs (under -race, the two goroutines side by side); and the
// libraries completed after Build, from the frames not taken in it.
func TestWalkAheadSameGraph(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := `#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <string>
#include <vector>
#include <algorithm>
#include <stdexcept>
struct Shape { virtual double area() const = 0; virtual ~Shape() {} };
struct Square : Shape { double s; Square(double s) : s(s) {} double area() const override { return s * s; } };
struct Circle : Shape { double r; Circle(double r) : r(r) {} double area() const override { return 3.14 * r * r; } };
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
	std::vector<Shape *> v;
	for (int i = 0; i < argc; i++) v.push_back(i % 2 ? (Shape *)new Square(i) : (Shape *)new Circle(i));
	double sum = 0;
	for (auto *s : v) sum += std::sqrt(s->area());
	int a[4] = {argc, 3, 1, 2};
	qsort(a, 4, sizeof a[0], cmp);
	std::string name(argv[0]);
	std::sort(name.begin(), name.end());
	if (argc > 5) throw std::runtime_error(name);
	printf("%f %d %s\n", sum, a[0], name.c_str());
	for (auto *s : v) delete s;
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "prog.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O1", "-o", "prog", "prog.cc")
	type built struct {
		nodes    []string
		nodeList []*Node
		took     int
	}
	build := func(ahead, wait bool) built {
		defer func(on, w bool) { walkAheadOn, waitAhead = on, w }(walkAheadOn, waitAhead)
		walkAheadOn, waitAhead = ahead, wait
		f, err := binfile.Open(filepath.Join(dir, "prog"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Workers: 2, Libraries: libcache.Memory()})
		// After Build, every library completed, as a model may (the
		// frames walked ahead and not taken in Build serve it).
		for _, m := range g.Modules {
			g.completeModule(m)
		}
		g.Resolve()
		var out built
		out.took = g.aheadTook
		for id, n := range g.Nodes {
			out.nodes = append(out.nodes, fmt.Sprintf("%d %s", id, g.QualifiedName(id)))
			for _, e := range n.Edges {
				out.nodes = append(out.nodes, fmt.Sprintf("  -> %d %s %s %#x", e.To, g.QualifiedName(e.To), e.Method, e.Site))
			}
		}
		out.nodeList = g.Nodes
		return out
	}
	without := build(false, false)
	if without.took != 0 {
		t.Fatalf("without the walk ahead, %d frames were taken from it", without.took)
	}
	libraryNodes := 0
	for _, n := range without.nodeList {
		if n.Module != nil && n.Module != without.nodeList[0].Module && n.Func != nil {
			libraryNodes++
		}
	}
	if libraryNodes < 1000 {
		t.Fatalf("only %d library functions in the graph: the test program no longer makes the resolution complete its libraries", libraryNodes)
	}
	for _, wait := range []bool{true, false} {
		with := build(true, wait)
		if wait && with.took < libraryNodes/2 {
			t.Errorf("waiting for the walk ahead, the resolution took %d frames from it, of %d library functions", with.took, libraryNodes)
		}
		if !reflect.DeepEqual(without.nodes, with.nodes) {
			t.Fatalf("wait %v: the graphs differ: %d lines without the walk ahead, %d with", wait, len(without.nodes), len(with.nodes))
		}
		for id, n := range without.nodeList {
			m := with.nodeList[id]
			if !reflect.DeepEqual(n.Frame, m.Frame) || !reflect.DeepEqual(n.Unresolved, m.Unresolved) ||
				!reflect.DeepEqual(n.Assumed, m.Assumed) || !reflect.DeepEqual(n.BadTargets(), m.BadTargets()) {
				t.Fatalf("wait %v: node %d %s differs: frame %+v, with the walk ahead %+v", wait, id, n.Name(), n.Frame, m.Frame)
			}
		}
		t.Logf("wait %v: %d nodes, %d library functions, %d frames taken from the walk ahead", wait, len(with.nodeList), libraryNodes, with.took)
	}
}
