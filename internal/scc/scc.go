// Package scc finds the strongly connected components of a graph held as
// its edges' targets node by node (Adjacency), with Tarjan's algorithm:
// callgraph's cycles (the models' questions) and bound's components (the
// recursion the bound must see) both walk graphs of tens of thousands of
// nodes whose paths are as long, so the walk keeps its own stack, and it
// reads one array of 4-byte targets rather than each node's edge list (a
// cache miss per node and per list, one after the other down the walk:
// 0.022 s of node's models, 27 ms of its bound; issue 19).
package scc

import "github.com/stackscope/stackscope/internal/beside"

// Adjacency is a graph's edges' targets, node by node: node v's are
// To[First[v]:First[v+1]], in its edges' order.
type Adjacency struct {
	First []int32
	To    []int32
}

// Of returns node v's targets.
func (a Adjacency) Of(v int) []int32 { return a.To[a.First[v]:a.First[v+1]] }

// Nodes is the number of nodes.
func (a Adjacency) Nodes() int { return len(a.First) - 1 }

// copyParts is how many parts Copy cuts the nodes into: taken in turn by
// the cores, they share the work evenly though the nodes' edges are not
// spread evenly.
const copyParts = 16

// Copy makes the Adjacency of n nodes, count(v) giving how many targets
// node v has and fill(v, to) writing them: both asked on every core, the
// nodes in order within each part (in step with memory), so they must
// only read the graph.
func Copy(n int, count func(v int) int32, fill func(v int, to []int32)) Adjacency {
	first := make([]int32, n+1)
	part := func(i int) (int, int) { return i * n / copyParts, (i + 1) * n / copyParts }
	beside.Each(copyParts, func(i int) {
		lo, hi := part(i)
		for v := lo; v < hi; v++ {
			first[v+1] = count(v)
		}
	})
	for v := range n {
		first[v+1] += first[v]
	}
	a := Adjacency{First: first, To: make([]int32, first[n])}
	beside.Each(copyParts, func(i int) {
		lo, hi := part(i)
		for v := lo; v < hi; v++ {
			fill(v, a.To[first[v]:first[v+1]])
		}
	})
	return a
}

// Components walks a from each of roots not reached yet, in order (every
// node in order when roots is nil), following each node's targets in
// order, and returns each node's component (-1: not reached), numbered in
// the order they close, and each component's number of nodes.
func Components(a Adjacency, roots []int) (comp, size []int32) {
	n := a.Nodes()
	comp = make([]int32, n)
	for v := range comp {
		comp[v] = -1
	}
	t := tarjan{a: a, comp: comp, index: make([]int32, n), low: make([]int32, n), onStack: make([]bool, n)}
	if roots == nil {
		for s := range n {
			if t.index[s] == 0 {
				t.from(int32(s))
			}
		}
	} else {
		for _, s := range roots {
			if t.index[s] == 0 {
				t.from(int32(s))
			}
		}
	}
	return comp, t.size
}

// SelfLoop says whether node v has itself among its targets (a component
// of one node holds a cycle only then).
func (a Adjacency) SelfLoop(v int) bool {
	for _, w := range a.Of(v) {
		if int(w) == v {
			return true
		}
	}
	return false
}

// tarjan is Components' walk: the visit's order of each node (from 1; 0:
// not visited), its low link, the nodes on the stack.
type tarjan struct {
	a       Adjacency
	comp    []int32
	size    []int32
	index   []int32
	low     []int32
	onStack []bool
	counter int32
	stack   []int32
	calls   []visit
}

// visit is a node of the walk, with its next target to follow.
type visit struct{ v, next int32 }

// enter visits node v.
func (t *tarjan) enter(v int32) {
	t.counter++
	t.index[v], t.low[v] = t.counter, t.counter
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	t.calls = append(t.calls, visit{v: v, next: t.a.First[v]})
}

// from walks from node s, not visited yet, closing the components it
// finds.
func (t *tarjan) from(s int32) {
	to, first, index, low, onStack := t.a.To, t.a.First, t.index, t.low, t.onStack
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
			t.close(v)
		}
		if len(t.calls) > 0 {
			if p := t.calls[len(t.calls)-1].v; low[v] < low[p] {
				low[p] = low[v]
			}
		}
	}
}

// close pops the component whose root is v off the stack.
func (t *tarjan) close(v int32) {
	id := int32(len(t.size))
	size := int32(0)
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.onStack[w] = false
		t.comp[w] = id
		size++
		if w == v {
			break
		}
	}
	t.size = append(t.size, size)
}
