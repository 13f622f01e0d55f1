package callgraph

// Questions that only read the graph, for a caller that wants to know
// whether later work on it (analysis.findThreads: threads.StartThread's
// Node and Resolve) will only read it too, and so may run beside other
// readers.

// HasNode says whether function index fi of module m has its node already
// (Node would return it without creating one).
func (g *Graph) HasNode(m *Module, fi int) bool {
	return m.nodes.has(fi)
}

// Settled says whether every node has its edges: Resolve would add none.
func (g *Graph) Settled() bool { return len(g.pending) == 0 }
