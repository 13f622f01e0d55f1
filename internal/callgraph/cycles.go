package callgraph

import (
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

// adjacencyOf copies g's edges' targets: the lengths, their sums, then the
// targets. The lengths and the targets are made on every core, the nodes
// cut into parts each goroutine takes in turn (both passes only read the
// graph). The lengths were read on the models' goroutine alone, a cache
// miss on each node (node: 87,000), before the targets' two halves: with
// the lengths on both cores too, the samples of the copy taken while no
// other thread of the process ran went from 25.5 to 13 a run (perf at 4
// kHz, 3-4 runs at load 7: the other core is then often another
// process's; issue 19).
func adjacencyOf(g *Graph) adjacency {
	nodes := g.Nodes
	n := len(nodes)
	first := make([]int32, n+1)
	part := func(i int) (int, int) { return i * n / adjacencyParts, (i + 1) * n / adjacencyParts }
	beside.Each(adjacencyParts, func(i int) {
		lo, hi := part(i)
		for v := lo; v < hi; v++ {
			first[v+1] = int32(len(nodes[v].Edges))
		}
	})
	for v := range n {
		first[v+1] += first[v]
	}
	a := adjacency{first: first, to: make([]int32, first[n])}
	beside.Each(adjacencyParts, func(i int) {
		lo, hi := part(i)
		a.fill(nodes, lo, hi)
	})
	return a
}

// adjacencyParts is how many parts adjacencyOf cuts the nodes into:
// taken in turn by the cores, they share the work evenly though the
// nodes' edges are not spread evenly.
const adjacencyParts = 16

// fill copies the targets of nodes lo to hi-1.
func (a adjacency) fill(nodes []*Node, lo, hi int) {
	for v := lo; v < hi; v++ {
		to := a.to[a.first[v]:a.first[v+1]]
		for i := range nodes[v].Edges {
			to[i] = int32(nodes[v].Edges[i].To)
		}
	}
}
