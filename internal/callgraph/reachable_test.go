package callgraph

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// reachableOneWalk is reachable as it was: one walk from every root.
func (g *Graph) reachableOneWalk(roots []int) []bool {
	seen := make([]bool, len(g.Nodes))
	stack := append([]int(nil), roots...)
	for _, r := range roots {
		seen[r] = true
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.Nodes[id].Edges {
			if e.To < len(seen) && !seen[e.To] {
				seen[e.To] = true
				stack = append(stack, e.To)
			}
		}
	}
	for c, o := range g.cloneOf {
		if c < len(seen) && seen[c] {
			seen[o] = true
		}
	}
	return seen
}

// TestReachableMatchesOneWalk: the walk shared among the cores marks the
// nodes one walk marks, on random graphs (few roots or many, edges past
// the last node, copies of chain functions) and on a program followed
// into libc from its roots; run with -race, it shows the walkers share
// nothing but the marks.
func TestReachableMatchesOneWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 19))
	for round := range 100 {
		n := 1 + rng.IntN(5000)
		g := &Graph{cloneOf: map[int]int{}}
		for range n {
			nd := &Node{}
			for range rng.IntN(4) {
				nd.Edges = append(nd.Edges, Edge{To: rng.IntN(n + 2)}) // (n, n+1: past the last node)
			}
			g.Nodes = append(g.Nodes, nd)
		}
		for range rng.IntN(5) {
			g.cloneOf[rng.IntN(n)] = rng.IntN(n)
		}
		roots := make([]int, rng.IntN(1+n/(1+round%4*100)))
		for i := range roots {
			roots[i] = rng.IntN(n)
		}
		if got, want := g.reachable(roots), g.reachableOneWalk(roots); !slices.Equal(got, want) {
			t.Fatalf("round %d (%d nodes, %d roots): the shared walk's marks differ from one walk's", round, n, len(roots))
		}
	}
	prog := buildC(t, t.TempDir(), "settled", settledProgram, "-ldl")
	g := buildModelled(t, prog)
	roots := g.programRoots()
	got, want := g.reachable(roots), g.reachableOneWalk(roots)
	if !slices.Equal(got, want) || !slices.Contains(want, true) {
		t.Fatal("on the program's graph the shared walk's marks differ from one walk's (or none is reached)")
	}
}
