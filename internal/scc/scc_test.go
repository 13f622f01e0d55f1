package scc

import (
	"math/rand/v2"
	"testing"
)

// reaches is the naive answer: whether w is reachable from v (v itself
// included), by a walk of its own.
func reaches(a Adjacency, v int) []bool {
	seen := make([]bool, a.Nodes())
	stack := []int{v}
	seen[v] = true
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range a.Of(u) {
			if !seen[w] {
				seen[w] = true
				stack = append(stack, int(w))
			}
		}
	}
	return seen
}

// TestComponentsAsReachability: on random graphs, two nodes reached are
// in one component exactly when each reaches the other; the nodes no
// root reaches have none; the sizes count the members; and a component
// closes before any that reaches it (numbered after its callees').
func TestComponentsAsReachability(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(40)
		edges := make([][]int32, n)
		for v := range n {
			for range rng.IntN(4) {
				edges[v] = append(edges[v], int32(rng.IntN(n)))
			}
		}
		a := Copy(n, func(v int) int32 { return int32(len(edges[v])) }, func(v int, to []int32) { copy(to, edges[v]) })
		var roots []int
		if round%2 == 1 {
			roots = []int{rng.IntN(n), rng.IntN(n)}
		}
		comp, size := Components(a, roots)
		reach := make([][]bool, n)
		for v := range n {
			reach[v] = reaches(a, v)
		}
		reached := make([]bool, n)
		if roots == nil {
			for v := range reached {
				reached[v] = true
			}
		}
		for _, r := range roots {
			for v, ok := range reach[r] {
				reached[v] = reached[v] || ok
			}
		}
		count := make([]int32, len(size))
		for v := range n {
			if !reached[v] {
				if comp[v] != -1 {
					t.Fatalf("round %d: node %d not reached, in component %d", round, v, comp[v])
				}
				continue
			}
			count[comp[v]]++
			for w := range n {
				if !reached[w] {
					continue
				}
				if same := reach[v][w] && reach[w][v]; same != (comp[v] == comp[w]) {
					t.Fatalf("round %d: nodes %d and %d: one component %v, mutually reachable %v", round, v, w, comp[v] == comp[w], same)
				}
				if reach[v][w] && comp[w] > comp[v] {
					t.Fatalf("round %d: node %d reaches %d, whose component closed later", round, v, w)
				}
			}
		}
		for c := range size {
			if count[c] != size[c] {
				t.Fatalf("round %d: component %d has %d nodes, size says %d", round, c, count[c], size[c])
			}
		}
	}
}
