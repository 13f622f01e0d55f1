package callgraph

import (
	"maps"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestCycleThroughOneNode: the component check the resolver's depth rests
// on. A cycle that passes only through r is accepted; one that does not
// (a recursion of its own among r's callees) is refused, as is a node on
// no cycle.
func TestCycleThroughOneNode(t *testing.T) {
	build := func(edges [][2]int, n int) *Graph {
		g := &Graph{}
		for range n {
			g.Nodes = append(g.Nodes, &Node{})
		}
		for _, e := range edges {
			g.Nodes[e[0]].Edges = append(g.Nodes[e[0]].Edges, Edge{To: e[1]})
		}
		return g
	}
	// 0 -> 1 -> 2 -> 0, 2 -> 3 (a leaf), 4 -> 0 (a caller, not on the cycle).
	g := build([][2]int{{0, 1}, {1, 2}, {2, 0}, {2, 3}, {4, 0}}, 5)
	comp := g.cycleThrough(0)
	if len(comp) != 3 || !comp[0] || !comp[1] || !comp[2] {
		t.Fatalf("component of 0: %v, want {0,1,2}", comp)
	}
	if !g.acyclicWithout(comp, 0) {
		t.Errorf("every cycle of {0,1,2} passes through 0, but it was refused")
	}
	// Add 1 -> 2 -> 1: a cycle that avoids 0.
	g = build([][2]int{{0, 1}, {1, 2}, {2, 0}, {2, 1}}, 3)
	if comp := g.cycleThrough(0); g.acyclicWithout(comp, 0) {
		t.Errorf("the cycle 1 -> 2 -> 1 avoids 0, but the component was accepted")
	}
	// A node on no cycle.
	g = build([][2]int{{0, 1}, {1, 2}}, 3)
	if comp := g.cycleThrough(0); len(comp) != 0 {
		t.Errorf("0 is on no cycle, component %v", comp)
	}
}

// TestCycleThroughIsComponent: on the graph of a real program followed
// into libc, cycleThrough(r) is exactly r's strongly connected component
// as Tarjan's algorithm (written here on its own, from the edges) finds
// it, for every node on a cycle, and empty for nodes on none; the
// program's own mutual recursion (is_even, is_odd) is one component.
func TestCycleThroughIsComponent(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	prog := buildC(t, dir, "cycles", `#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int is_odd(unsigned n);
__attribute__((noinline)) int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
__attribute__((noinline)) int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }
int main(int argc, char **argv) {
	printf("%d\n", is_even(argc > 1 ? atoi(argv[1]) : 3));
	return 0;
}
`)
	g := buildModelled(t, prog)
	comp := tarjanComponents(g)
	onCycle := func(v int) bool {
		if comp[v].size > 1 {
			return true
		}
		return slices.ContainsFunc(g.Nodes[v].Edges, func(e Edge) bool { return e.To == v })
	}
	cyclic, checked := 0, 0
	for r := range g.Nodes {
		got := g.cycleThrough(r)
		checked++
		if !onCycle(r) {
			if len(got) != 0 {
				t.Fatalf("node %d (%s) is on no cycle, cycleThrough gave %d nodes", r, g.Nodes[r].Name(), len(got))
			}
			continue
		}
		cyclic++
		if len(got) != comp[r].size {
			t.Fatalf("node %d (%s): cycleThrough gave %d nodes, its component has %d", r, g.Nodes[r].Name(), len(got), comp[r].size)
		}
		for v := range got {
			if comp[v].id != comp[r].id {
				t.Fatalf("node %d (%s): cycleThrough holds %d (%s), of another component", r, g.Nodes[r].Name(), v, g.Nodes[v].Name())
			}
		}
	}
	even, odd := g.NodesNamed("is_even"), g.NodesNamed("is_odd")
	if len(even) != 1 || len(odd) != 1 {
		t.Fatalf("is_even %v, is_odd %v: want one node each", even, odd)
	}
	if c := g.cycleThrough(even[0]); len(c) != 2 || !c[even[0]] || !c[odd[0]] {
		t.Errorf("is_even's component: %v, want is_even and is_odd", c)
	}
	// libc has recursions of its own: the comparison covers more than
	// the program's pair.
	if cyclic <= 2 {
		t.Errorf("only %d of %d nodes on a cycle: want libc's recursions too", cyclic, checked)
	}
	t.Logf("%d nodes, %d on a cycle", checked, cyclic)
}

// component is a node's strongly connected component: its number and
// its size.
type component struct{ id, size int }

// tarjanComponents numbers the graph's strongly connected components
// (Tarjan's algorithm, iterative).
func tarjanComponents(g *Graph) []component {
	n := len(g.Nodes)
	index, low := make([]int, n), make([]int, n)
	for i := range index {
		index[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int
	out := make([]component, n)
	next, ids := 0, 0
	type frame struct{ v, e int }
	for s := range n {
		if index[s] >= 0 {
			continue
		}
		call := []frame{{s, 0}}
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			edges := g.Nodes[top.v].Edges
			if top.e < len(edges) {
				w := edges[top.e].To
				top.e++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[top.v] = min(low[top.v], index[w])
				}
				continue
			}
			v := top.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var members []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					members = append(members, w)
					if w == v {
						break
					}
				}
				for _, w := range members {
					out[w] = component{ids, len(members)}
				}
				ids++
			}
		}
	}
	return out
}

// printAtoiProgram is a small C program followed into libc (printf,
// atoi): enough of glibc for the models to run on.
const printAtoiProgram = `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	printf("%d\n", atoi(argc > 1 ? argv[1] : "3"));
	return 0;
}
`

// TestResolverCallersBeside: the resolver's lazy callers that
// boundResolverReentry finds on another goroutine (every node's edges,
// then those in the resolver's component) are the calls into it that a
// walk of the component's own nodes finds, slot for slot, on a real
// program followed into libc; and there are some (the depth is not
// vacuous).
func TestResolverCallersBeside(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	prog := buildC(t, t.TempDir(), "lazy", printAtoiProgram)
	g := buildModelled(t, prog)
	r := g.resolver.node
	if !g.resolver.done || r < 0 {
		t.Fatalf("%s: the lazy-binding resolver is not modelled", prog)
	}
	comp := tarjanComponents(g)
	want := map[reentry]bool{}
	for v, nv := range g.Nodes {
		if comp[v].id != comp[r].id {
			continue
		}
		for _, e := range nv.Edges {
			if e.To != r || e.Method != MethodLazy {
				continue
			}
			k := reentry{node: v, at: e.Site}
			if i := slices.IndexFunc(nv.Frame.Calls, func(c frame.CallSite) bool { return c.Addr == e.Site }); i >= 0 && nv.Module != nil {
				if slot := nv.Module.pltSlots[nv.Frame.Calls[i].Target]; slot != 0 {
					k = reentry{node: -1, module: nv.Module, at: slot}
				}
			}
			want[k] = true
		}
	}
	if len(want) == 0 {
		t.Fatalf("no lazy call into the resolver from its component: nothing compared")
	}
	cyc := &cycles{g: g}
	members := cyc.members(r)
	got := map[reentry]bool{}
	for _, c := range g.lazyCallersOf(r) {
		if cyc.in(c.from, r) {
			got[c.slot] = true
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("slots found beside: %d, by the component's walk: %d", len(got), len(want))
	}
	if !slices.IsSorted(members) || len(members) != comp[r].size {
		t.Errorf("members: %d nodes (sorted %v), the component has %d", len(members), slices.IsSorted(members), comp[r].size)
	}
}
