package bound

import (
	"github.com/stackscope/stackscope/internal/scc"
)

// components finds, from the roots, the strongly connected components of
// the edges the bound follows (scc.Components, in the nodes' and their
// edges' order): a.scc gives each node reached its component (-1: not
// reached), numbered in the order they close, and a.cyclic says which
// hold a cycle: more than one node, or an edge the bound follows from
// the node to itself.
//
// It walks a copy of the followed edges' targets (followedEdges), not the
// nodes' edge lists, which ran alone at the start of bound.New, before
// the values and the reasons share the cores: 27 ms of node's run (perf:
// 107 samples at 4 kHz a run, of which 80 on reading a callee's node and
// an edge's target; issue 19). The same walk, the same answer: a skipped
// edge was one the bound does not follow, and the copy leaves it out.
func (a *Analysis) components(roots []int) {
	adj := a.followedEdges()
	a.followed = adj
	comp, size := scc.Components(adj, roots)
	a.scc = make([]int, len(comp))
	for v, c := range comp {
		a.scc[v] = int(c)
	}
	a.cyclic = make([]bool, len(size))
	for v, c := range comp {
		if c >= 0 && !a.cyclic[c] {
			a.cyclic[c] = size[c] > 1 || adj.SelfLoop(v)
		}
	}
}

// followedEdges copies the targets of the edges the bound follows, node
// by node, on every core (scc.Copy).
func (a *Analysis) followedEdges() scc.Adjacency {
	nodes := a.g.Nodes
	return scc.Copy(len(nodes),
		func(v int) int32 {
			if a.followsAll {
				return int32(len(nodes[v].Edges))
			}
			c := int32(0)
			for _, e := range nodes[v].Edges {
				if a.follows(v, e) {
					c++
				}
			}
			return c
		},
		func(v int, to []int32) {
			k := 0
			for _, e := range nodes[v].Edges {
				if a.followsAll || a.follows(v, e) {
					to[k] = int32(e.To)
					k++
				}
			}
		})
}
