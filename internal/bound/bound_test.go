package bound

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// graph builds a call graph by hand: frames by name, edges "a>b" (call),
// "a~b" (tail call at depth 8: the frame already released).
func graph(frames map[string]int64, kinds map[string]frame.Kind, edges ...string) (*callgraph.Graph, map[string]int) {
	g := &callgraph.Graph{Decoder: x86.Decoder{}, Modules: []*callgraph.Module{{}}}
	id := map[string]int{}
	node := func(name string) int {
		if i, ok := id[name]; ok {
			return i
		}
		id[name] = len(g.Nodes)
		g.Nodes = append(g.Nodes, callgraph.NewNode(name, frame.Frame{Size: frames[name], Kind: kinds[name]}))
		return id[name]
	}
	for name := range frames {
		node(name)
	}
	for _, e := range edges {
		kind, sep := frame.Call, ">"
		if strings.Contains(e, "~") {
			kind, sep = frame.TailCall, "~"
		}
		parts := strings.Split(e, sep)
		from, to := node(parts[0]), node(parts[1])
		g.Nodes[from].Edges = append(g.Nodes[from].Edges, callgraph.Edge{To: to, Kind: kind, Depth: 8})
	}
	return g, id
}

func TestBoundPathsAndTailCalls(t *testing.T) {
	g, id := graph(map[string]int64{"main": 32, "a": 100, "b": 40, "c": 500, "t": 16}, nil,
		"main>a", "main>b", "a>b", "b>c", "main~t", "t>c")
	a := New(g, []int{id["main"]}, Options{})
	e := a.Entry(Spec{Name: "main", Node: id["main"]})
	// main(32) + a(100) + b(40) + c(500) beats main's tail call to t
	// (frame released: 8-8 + t(16) + c(500)).
	if !e.Bounded || e.Bound != 672 {
		t.Fatalf("bound %d bounded %v, want 672", e.Bound, e.Bounded)
	}
	var names []string
	for _, s := range e.Path {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "main a b c" {
		t.Fatalf("path %v", names)
	}
	tb := a.Entry(Spec{Name: "t", Node: id["t"]})
	if tb.Bound != 516 {
		t.Fatalf("t: %d, want 516", tb.Bound)
	}
}

func TestBoundReasons(t *testing.T) {
	g, id := graph(map[string]int64{"main": 16, "r": 48, "d": 64, "x": 8},
		map[string]frame.Kind{"d": frame.Dynamic}, "main>r", "r>r", "main>d", "main>x")
	g.Nodes[id["x"]].Unresolved = []frame.CallSite{{Addr: 0x1234, Kind: frame.IndirectCall}}
	a := New(g, []int{id["main"]}, Options{})
	e := a.Entry(Spec{Name: "main", Node: id["main"]})
	if e.Bounded {
		t.Fatal("bounded despite recursion, a dynamic frame and an indirect call")
	}
	kinds := map[string]string{}
	for _, r := range e.Reasons {
		kinds[r.Kind] = r.Function
	}
	if kinds[ReasonRecursion] != "r" || kinds[ReasonDynamic] != "d" || kinds[ReasonIndirect] != "x" {
		t.Fatalf("reasons %+v", e.Reasons)
	}
	// The lower bound is a real path: main + d's known part.
	if e.AtLeast != 16+64 {
		t.Fatalf("at least %d, want 80", e.AtLeast)
	}

	// A declared recursion depth closes the cycle: 10 activations of r.
	g, id = graph(map[string]int64{"main": 16, "r": 48, "leaf": 24}, nil, "main>r", "r>r", "r>leaf")
	a = New(g, []int{id["main"]}, Options{Depths: map[int]int64{id["r"]: 10}})
	e = a.Entry(Spec{Name: "main", Node: id["main"]})
	if !e.Bounded || e.Bound != 16+10*48+24 {
		t.Fatalf("declared depth: bound %d (bounded %v), want %d", e.Bound, e.Bounded, 16+10*48+24)
	}
	// A declared frame replaces what lies below a function.
	a = New(g, []int{id["main"]}, Options{Overrides: map[int]int64{id["r"]: 1000}})
	if e = a.Entry(Spec{Name: "main", Node: id["main"]}); !e.Bounded || e.Bound != 1016 {
		t.Fatalf("override: bound %d (bounded %v), want 1016", e.Bound, e.Bounded)
	}
}

// pathSum adds up a path as the text prints it.
func pathSum(steps []Step) int64 {
	var sum int64
	for i, st := range steps {
		if i+1 < len(steps) && steps[i+1].TailCall {
			sum += steps[i+1].Kept
		} else {
			sum += st.Frame
		}
	}
	return sum + steps[len(steps)-1].RedZone
}

// TestDeclarationsInCycles: a declared frame inside a cycle (through
// assumed edges, as an assert handler that prints is in newlib's) makes
// the function a leaf: no cycle, none of its callees' reasons; a declared
// recursion's path shows its trips; an excluded function takes its paths
// with it. Each bound is its path's sum.
func TestDeclarationsInCycles(t *testing.T) {
	frames := map[string]int64{"main": 16, "assert": 40, "printf": 300, "cb": 24, "bad": 8}
	g, id := graph(frames, map[string]frame.Kind{"bad": frame.Dynamic}, "main>assert", "assert>printf", "printf>cb", "cb>assert", "cb>bad")
	check := func(name string, opts Options, want int64) Entry {
		t.Helper()
		e := New(g, []int{id["main"]}, opts).Entry(Spec{Name: "main", Node: id["main"]})
		if !e.Bounded || e.Bound != want || pathSum(e.Path) != want {
			t.Errorf("%s: bound %d (bounded %v, reasons %+v), path sum %d, want %d", name, e.Bound, e.Bounded, e.Reasons, pathSum(e.Path), want)
		}
		return e
	}
	e := check("frame", Options{Overrides: map[int]int64{id["assert"]: 16}}, 16+16)
	if len(e.Assumptions) != 1 || e.Assumptions[0].Kind != AssumeFrame {
		t.Errorf("frame: assumptions %+v", e.Assumptions)
	}
	e = check("excluded", Options{Excluded: map[int]bool{id["assert"]: true}}, 16)
	if len(e.Assumptions) != 1 || e.Assumptions[0].Kind != AssumeExcluded || e.Assumptions[0].Function != "assert" {
		t.Errorf("excluded: assumptions %+v", e.Assumptions)
	}
	// Recursion declared: 3 trips of assert + printf + cb, then cb's call
	// to bad is dynamic: not bounded, but the at-least path still adds up.
	a := New(g, []int{id["main"]}, Options{Depths: map[int]int64{id["assert"]: 3}})
	e = a.Entry(Spec{Name: "main", Node: id["main"]})
	if e.Bounded || e.AtLeast != 16+3*(40+300+24)+8 || pathSum(e.Path) != e.AtLeast || e.Path[1].Cycle == nil {
		t.Errorf("recursion: at least %d, path %+v", e.AtLeast, e.Path)
	}
}

// TestModelRecursionDepth: a depth a call-graph model gives a node
// (callgraph.Node.RecursionDepth, ld.so's dfs_traversal) bounds its cycle
// as a declared one does; the entry lists the node's premise, not a
// stackscope.toml declaration; a declared depth in the file wins.
func TestModelRecursionDepth(t *testing.T) {
	g, id := graph(map[string]int64{"main": 16, "r": 48, "leaf": 24}, nil, "main>r", "r>r", "r>leaf")
	r := g.Nodes[id["r"]]
	r.RecursionDepth = 4
	r.Premises = []callgraph.Premise{{Kind: callgraph.PremiseLoadedObjects, Detail: "4 objects loaded"}}
	e := New(g, []int{id["main"]}, Options{}).Entry(Spec{Name: "main", Node: id["main"]})
	if !e.Bounded || e.Bound != 16+4*48+24 {
		t.Fatalf("model depth: bound %d (bounded %v, %+v), want %d", e.Bound, e.Bounded, e.Reasons, 16+4*48+24)
	}
	var kinds []string
	for _, as := range e.Assumptions {
		kinds = append(kinds, as.Kind)
	}
	if strings.Join(kinds, " ") != callgraph.PremiseLoadedObjects {
		t.Errorf("assumptions %v, want the node's premise alone", kinds)
	}
	e = New(g, []int{id["main"]}, Options{Depths: map[int]int64{id["r"]: 2}}).Entry(Spec{Name: "main", Node: id["main"]})
	if !e.Bounded || e.Bound != 16+2*48+24 {
		t.Fatalf("declared over model: bound %d, want %d", e.Bound, 16+2*48+24)
	}
	r.RecursionDepth = 0
	if e = New(g, []int{id["main"]}, Options{}).Entry(Spec{Name: "main", Node: id["main"]}); e.Bounded {
		t.Errorf("without the depth the recursion is bounded")
	}
}
