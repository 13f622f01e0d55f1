package callgraph

import "testing"

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
