package analysis

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// cxxProgram compiles a small C++ program (virtual calls, templates,
// exceptions) that calls exit and abort, and builds its graph into its
// libraries.
func cxxProgram(t *testing.T) *callgraph.Graph {
	t.Helper()
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := `#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>
namespace shapes {
struct Shape { virtual ~Shape() {} virtual double area() const = 0; };
struct Square : Shape { double s; explicit Square(double s) : s(s) {} double area() const override { return s * s; } };
template <typename T> T total(const std::vector<T> &v) { T t = 0; for (auto x : v) t += x; return t; }
[[noreturn]] void fail(const char *why) { fprintf(stderr, "%s\n", why); abort(); }
}
int main(int argc, char **argv) {
	shapes::Square sq(argc);
	const shapes::Shape &s = sq;
	std::vector<double> v{s.area(), 2.0};
	if (argc > 5) shapes::fail("too many");
	if (argc > 3) throw std::runtime_error("three");
	if (argc > 2) exit(2);
	printf("%f\n", shapes::total(v));
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "shapes.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O1", "-o", "shapes", "shapes.cc")
	f, err := binfile.Open(filepath.Join(dir, "shapes"))
	if err != nil {
		t.Fatal(err)
	}
	dec, align := DecoderFor(f.Arch)
	return callgraph.Build(f, dec, callgraph.Options{FollowLibraries: true, StackAlign: align})
}

// TestLowerStopDemanglesNothing: the lower bound's Stop (lowerOptions)
// answers for every node of a C++ program as it would matching
// lifecycle against the demangled name, and demangles no name to do it
// (every lifecycle name is a C name: CName).
func TestLowerStopDemanglesNothing(t *testing.T) {
	for name := range lifecycle {
		if binfile.CName(name) != name {
			t.Errorf("lifecycle name %q is no C name: CName cannot match it", name)
		}
	}
	g := cxxProgram(t)
	nr := newNoReturn(g, nil)
	for id := range g.Nodes {
		nr.why(id) // (its evidence names a callee: demangled before, here)
	}
	undemangled := map[int]bool{}
	for id, n := range g.Nodes {
		if n.Func != nil && n.Func.NotYetDemangled() {
			undemangled[id] = true
		}
	}
	if len(undemangled) == 0 {
		t.Fatal("every name is demangled already: the test tests nothing")
	}
	stop := lowerOptions(bound.Options{}, nr).Stop
	stops, lifecycleSeen := 0, 0
	for id := range g.Nodes {
		got := stop(id)
		if undemangled[id] && !g.Nodes[id].Func.NotYetDemangled() {
			t.Errorf("Stop demangled %s", g.Nodes[id].Func.LinkName)
		}
		n := g.Nodes[id]
		if lifecycle[n.Name()] {
			lifecycleSeen++
		}
		want := !n.Hub && !n.External && !lifecycle[n.Name()] && nr.why(id) != ""
		if got != want {
			t.Errorf("Stop(%s) = %v, want %v", g.QualifiedName(id), got, want)
		}
		if got {
			stops++
		}
	}
	if stops == 0 || lifecycleSeen == 0 {
		t.Errorf("%d nodes stop the walks, %d are lifecycle functions: want some of each", stops, lifecycleSeen)
	}
}

// TestAssumedNamesAhead: startAssumedNames demangles the name of every
// function whose node carries an assumption, which bound.New's
// assumptionFacts sorts by, and no other.
func TestAssumedNamesAhead(t *testing.T) {
	g := cxxProgram(t)
	g.Resolve()
	carries := func(n *callgraph.Node) bool { return len(n.Assumed) > 0 || len(n.Premises) > 0 }
	before := map[*binfile.Function]bool{} // the functions not yet demangled
	wanted := 0
	for _, n := range g.Nodes {
		if fn := n.NamedBy(); fn != nil && fn.NotYetDemangled() {
			before[fn] = true
			if carries(n) {
				wanted++
			}
		}
	}
	if wanted == 0 {
		t.Fatal("no mangled function carries an assumption: the test tests nothing")
	}
	r := startAssumedNames(g)
	if r == nil {
		t.Fatal("startAssumedNames started nothing")
	}
	r.Wait()
	carried := map[*binfile.Function]bool{}
	for _, n := range g.Nodes {
		if fn := n.NamedBy(); fn != nil && carries(n) {
			carried[fn] = true
			if fn.NotYetDemangled() {
				t.Errorf("%s carries assumptions, and its name is not demangled", fn.LinkName)
			}
		}
	}
	for fn := range before {
		if !carried[fn] && !fn.NotYetDemangled() {
			t.Errorf("%s carries no assumption, and its name was demangled", fn.LinkName)
		}
	}
	if startAssumedNames(g) != nil {
		t.Errorf("a second startAssumedNames found names left to demangle")
	}
}
