package callgraph

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
	nodes int     // len(g.Nodes) when comp was found
	comp  []int32 // the component of each node
	size  []int32 // the number of nodes of each component
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

// find computes the components: Tarjan's algorithm, with an explicit
// stack (the graph's paths are tens of thousands of calls long).
func (c *cycles) find() {
	g := c.g
	n := len(g.Nodes)
	c.nodes = n
	index := make([]int32, n) // the visit's order, from 1 (0: not visited)
	low := make([]int32, n)
	onStack := make([]bool, n)
	c.comp = make([]int32, n)
	c.size = c.size[:0]
	var stack []int32
	type visit struct {
		v     int32
		next  int
		edges []Edge
	}
	var calls []visit
	counter := int32(0)
	enter := func(v int32) {
		counter++
		index[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		calls = append(calls, visit{v: v, edges: g.Nodes[v].Edges})
	}
	for s := range n {
		if index[s] != 0 {
			continue
		}
		enter(int32(s))
		for len(calls) > 0 {
			top := &calls[len(calls)-1]
			if top.next < len(top.edges) {
				w := int32(top.edges[top.next].To)
				top.next++
				if index[w] == 0 {
					enter(w)
				} else if onStack[w] && index[w] < low[top.v] {
					low[top.v] = index[w]
				}
				continue
			}
			v := top.v
			calls = calls[:len(calls)-1]
			if low[v] == index[v] {
				id := int32(len(c.size))
				size := int32(0)
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					c.comp[w] = id
					size++
					if w == v {
						break
					}
				}
				c.size = append(c.size, size)
			}
			if len(calls) > 0 {
				if p := calls[len(calls)-1].v; low[v] < low[p] {
					low[p] = low[v]
				}
			}
		}
	}
}
