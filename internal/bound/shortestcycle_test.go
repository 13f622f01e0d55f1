package bound

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// shortestCycleByMap is shortestCycle as it was, a map of the nodes seen
// per search: the reference its scratch must agree with.
func (a *Analysis) shortestCycleByMap(c, from, to int, hubs bool, budget *int) []int {
	parent := map[int]int{from: -1}
	queue := []int{from}
	for len(queue) > 0 && *budget > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range a.g.Nodes[v].Edges {
			*budget--
			w := e.To
			if a.scc[w] != c || !a.follows(v, e) || (!hubs && a.g.Nodes[w].Hub) {
				continue
			}
			if w == to {
				p := []int{to}
				for x := v; x >= 0; x = parent[x] {
					p = append([]int{x}, p...)
				}
				return p
			}
			if _, seen := parent[w]; !seen {
				parent[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil
}

// TestShortestCycleAsByMap: on random graphs with cycles, shortestCycle,
// searching with a scratch the analysis keeps between searches, gives
// the path and spends the budget of a search with its own map, from
// every member of every cyclic component, to itself and to another
// member, with budgets large and small, searches one after the other.
func TestShortestCycleAsByMap(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	found := 0
	for trial := 0; trial < 60; trial++ {
		n := 5 + rng.Intn(60)
		frames := map[string]int64{}
		var edges []string
		for i := 0; i < n; i++ {
			frames[fmt.Sprintf("f%d", i)] = 16
			for k := rng.Intn(4); k > 0; k-- {
				edges = append(edges, fmt.Sprintf("f%d>f%d", i, rng.Intn(n)))
			}
		}
		g, _ := graph(frames, nil, edges...)
		roots := make([]int, len(g.Nodes))
		for i := range roots {
			roots[i] = i
		}
		a := New(g, roots, Options{})
		a.search = nil
		for id := range g.Nodes {
			c := a.scc[id]
			if !a.cyclic[c] {
				continue
			}
			members := a.componentMembers(c)
			to := members[rng.Intn(len(members))]
			for _, target := range []int{id, to} {
				for _, start := range []int{1 << 20, 1 + rng.Intn(8)} {
					got, want := start, start
					p := a.shortestCycle(c, id, target, true, &got)
					q := a.shortestCycleByMap(c, id, target, true, &want)
					if !slices.Equal(p, q) || got != want {
						t.Fatalf("trial %d, %d to %d, budget %d: %v with %d left, want %v with %d left", trial, id, target, start, p, got, q, want)
					}
					if p != nil {
						found++
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no cycle found: the test tests nothing")
	}
}
