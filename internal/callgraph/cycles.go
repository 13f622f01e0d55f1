package callgraph

import (
	"slices"

	"github.com/stackscope/stackscope/internal/beside"
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

// find computes the components: Tarjan's algorithm, with an explicit
// stack (the graph's paths are tens of thousands of calls long), on a
// copy of the edges' targets (adjacency). The walk over the nodes' own
// edge lists followed a node, then its list, each a cache miss, one after
// the other down the walk: 0.022 s of node's models on its 87,000 nodes
// and 1.7 million edges; the copy, made in the nodes' order (in step with
// memory), and the walk over it (6.8 MB), 0.006 and 0.007 s (a test's
// timing, the least of 12; issue 19).
func (c *cycles) find() {
	adj := adjacencyOf(c.g)
	c.adj = adj
	n := len(adj.first) - 1
	c.nodes = n
	c.comp = make([]int32, n)
	c.size = c.size[:0]
	t := tarjan{adj: adj, index: make([]int32, n), low: make([]int32, n), onStack: make([]bool, n)}
	for s := range n {
		if t.index[s] == 0 {
			t.from(int32(s), c)
		}
	}
}

// tarjan is find's walk: the visit's order of each node (from 1; 0: not
// visited), its low link, the nodes on the stack.
type tarjan struct {
	adj     adjacency
	index   []int32
	low     []int32
	onStack []bool
	counter int32
	stack   []int32
	calls   []tarjanVisit
}

// tarjanVisit is a node of the walk, with its next target to follow.
type tarjanVisit struct{ v, next int32 }

// enter visits node v.
func (t *tarjan) enter(v int32) {
	t.counter++
	t.index[v], t.low[v] = t.counter, t.counter
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	t.calls = append(t.calls, tarjanVisit{v: v, next: t.adj.first[v]})
}

// from walks from node s, not visited yet, giving c the components it
// closes.
func (t *tarjan) from(s int32, c *cycles) {
	to, first, index, low, onStack := t.adj.to, t.adj.first, t.index, t.low, t.onStack
	t.enter(s)
	for len(t.calls) > 0 {
		top := &t.calls[len(t.calls)-1]
		v := top.v
		// Follow v's targets up to one not visited yet; one on the
		// stack lowers v's low link.
		k, end, l := top.next, first[v+1], low[v]
		for k < end && index[to[k]] != 0 {
			if w := to[k]; onStack[w] && index[w] < l {
				l = index[w]
			}
			k++
		}
		top.next, low[v] = k, l
		if k < end {
			top.next++
			t.enter(to[k])
			continue
		}
		t.calls = t.calls[:len(t.calls)-1]
		if low[v] == index[v] {
			c.close(v, t)
		}
		if len(t.calls) > 0 {
			if p := t.calls[len(t.calls)-1].v; low[v] < low[p] {
				low[p] = low[v]
			}
		}
	}
}

// close pops the component whose root is v off t's stack.
func (c *cycles) close(v int32, t *tarjan) {
	id := int32(len(c.size))
	size := int32(0)
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.onStack[w] = false
		c.comp[w] = id
		size++
		if w == v {
			break
		}
	}
	c.size = append(c.size, size)
}

// adjacency is the graph's edges' targets, node by node: node v's are
// to[first[v]:first[v+1]], in its edges' order.
type adjacency struct {
	first []int32
	to    []int32
}

// adjacencyOf copies g's edges' targets: the lengths first, then the
// targets of the nodes holding the second half of the edges on another
// goroutine, beside the first half's (the copy is the reading of every
// node and edge list; both only read the graph).
func adjacencyOf(g *Graph) adjacency {
	first := make([]int32, len(g.Nodes)+1)
	total := 0
	for v, n := range g.Nodes {
		first[v] = int32(total)
		total += len(n.Edges)
	}
	first[len(g.Nodes)] = int32(total)
	a := adjacency{first: first, to: make([]int32, total)}
	half, _ := slices.BinarySearch(first, int32(total/2))
	second := beside.Start(func() struct{} { a.fill(g, half, len(g.Nodes)); return struct{}{} }).Wait
	defer second() // (waited for, its panic raised, even when the first half panics)
	a.fill(g, 0, half)
	return a
}

// fill copies the targets of nodes lo to hi-1.
func (a adjacency) fill(g *Graph, lo, hi int) {
	for v := lo; v < hi; v++ {
		to := a.to[a.first[v]:a.first[v+1]]
		for i := range g.Nodes[v].Edges {
			to[i] = int32(g.Nodes[v].Edges[i].To)
		}
	}
}
