package callgraph

import (
	"github.com/stackscope/stackscope/internal/scc"
)

// The cycles of the final graph, found once for the models that ask
// (boundResolverReentry, boundHelperRecursion).
//
// Each asked cycleThrough, which walks forward from its node over most of
// a big program's graph, then back: 0.13 s of node's models for two or
// three questions (issue 19). One pass of Tarjan's algorithm over the
// whole graph answers them all, as long as the graph stays as it was:
// cycles keeps the node count it was made at, and finds the components
// again when a node was added since (a node is added with no edges, and
// only resolving it adds edges; no model between the questions edits the
// edges of the nodes already there).

// cycles answers cycleThrough's question from the strongly connected
// components of the graph.
type cycles struct {
	g     *Graph
	nodes int       // len(g.Nodes) when comp was found
	comp  []int32   // the component of each node
	size  []int32   // the number of nodes of each component
	adj   adjacency // the edges' targets comp was found on
}

// through returns the nodes on a cycle through node r (its strongly
// connected component), empty when r is on none: cycleThrough's answer.
func (c *cycles) through(r int) map[int]bool {
	nodes := c.members(r)
	if nodes == nil {
		return nil
	}
	out := make(map[int]bool, len(nodes))
	for _, v := range nodes {
		out[v] = true
	}
	return out
}

// members returns the nodes of through(r)'s answer in increasing order
// (nil when r is on no cycle), and in says whether a node is one of them:
// for a question that walks the component (boundResolverReentry: the
// resolver's is most of node's graph, and a map of it, and walks in the
// map's order, were 0.03 s of node's models).
func (c *cycles) members(r int) []int {
	g := c.g
	if c.comp == nil || c.nodes != len(g.Nodes) {
		c.find()
	}
	id := c.comp[r]
	if c.size[id] == 1 {
		selfLoop := false
		for _, e := range g.Nodes[r].Edges {
			if e.To == r {
				selfLoop = true
				break
			}
		}
		if !selfLoop {
			return nil
		}
	}
	out := make([]int, 0, c.size[id])
	for v, cv := range c.comp {
		if cv == id {
			out = append(out, v)
		}
	}
	return out
}

// in says whether node v is in the component of node r (after members).
func (c *cycles) in(v, r int) bool { return c.comp[v] == c.comp[r] }

// find computes the components (scc.Components: Tarjan's algorithm with
// its own stack, on a copy of the edges' targets, adjacencyOf).
func (c *cycles) find() {
	adj := adjacencyOf(c.g)
	c.adj = adj
	c.nodes = adj.Nodes()
	c.comp, c.size = scc.Components(adj, nil)
}

// adjacency is the graph's edges' targets, node by node.
type adjacency = scc.Adjacency

// adjacencyOf copies g's edges' targets, on every core (scc.Copy: both
// passes only read the graph). The lengths were read on the models'
// goroutine alone, a cache miss on each node (node: 87,000), before the
// targets' two halves: with the lengths on both cores too, the samples of
// the copy taken while no other thread of the process ran went from 25.5
// to 13 a run (perf at 4 kHz, 3-4 runs at load 7: the other core is then
// often another process's; issue 19).
func adjacencyOf(g *Graph) adjacency {
	nodes := g.Nodes
	return scc.Copy(len(nodes),
		func(v int) int32 { return int32(len(nodes[v].Edges)) },
		func(v int, to []int32) {
			for i := range nodes[v].Edges {
				to[i] = int32(nodes[v].Edges[i].To)
			}
		})
}
