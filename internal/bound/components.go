package bound

import (
	"slices"

	"github.com/stackscope/stackscope/internal/beside"
)

// components runs Tarjan's algorithm (iteratively: call graphs can be
// deep) from the roots, over the edges the bound follows, in the nodes'
// and their edges' order: a.scc gives each node reached its component
// (-1: not reached), numbered in the order they close, and a.cyclic says
// which hold a cycle.
//
// It walks a copy of the followed edges' targets (followedEdges), not the
// nodes' edge lists: the walk read a node, then its list, each a cache
// miss, one after the other down the walk, and it ran alone at the start
// of bound.New, before the values and the reasons share the cores: 27 ms
// of node's run (perf: 107 samples at 4 kHz a run, of which 80 on
// reading a callee's node and an edge's target; issue 19). The copy is
// made on every core in the nodes' order, in step with memory, and the
// walk then reads 4 bytes an edge from one array. The same walk, the same
// answer: a skipped edge was one the bound does not follow, and the copy
// leaves it out.
func (a *Analysis) components(roots []int) {
	adj := a.followedEdges()
	a.followed = adj
	n := len(adj.first) - 1
	a.scc = make([]int, n)
	index := make([]int32, n)
	low := make([]int32, n)
	for i := range n {
		a.scc[i] = -1
		index[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int32
	counter := int32(0)
	// A frame is a node with the next of its targets to follow.
	type frameT struct{ v, next, end int32 }
	var call []frameT
	enter := func(v int32) {
		index[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		call = append(call, frameT{v, adj.first[v], adj.first[v+1]})
	}
	for _, r := range roots {
		if index[r] >= 0 {
			continue
		}
		enter(int32(r))
		for len(call) > 0 {
			top := &call[len(call)-1]
			v := top.v
			if top.next < top.end {
				w := adj.to[top.next]
				top.next++
				if index[w] < 0 {
					enter(w)
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				if p := call[len(call)-1].v; low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				a.closeComponent(v, adj, &stack, onStack)
			}
		}
	}
}

// closeComponent pops the component whose root is v off the stack,
// numbering it next, and notes whether it holds a cycle: more than one
// node, or an edge the bound follows from v to itself.
func (a *Analysis) closeComponent(v int32, adj followedEdges, stack *[]int32, onStack []bool) {
	id := len(a.cyclic)
	size := 0
	for {
		w := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		onStack[w] = false
		a.scc[w] = id
		size++
		if w == v {
			break
		}
	}
	selfLoop := size == 1 && slices.Contains(adj.to[adj.first[v]:adj.first[v+1]], v)
	a.cyclic = append(a.cyclic, size > 1 || selfLoop)
}

// followedEdges holds the targets of the edges the bound follows
// (follows), node by node: node v's are to[first[v]:first[v+1]], in its
// edges' order.
type followedEdges struct {
	first []int32
	to    []int32
}

// of returns node v's followed edges' targets.
func (f followedEdges) of(v int) []int32 { return f.to[f.first[v]:f.first[v+1]] }

// followedEdges copies the targets of the edges the bound follows: the
// nodes are cut into as many parts as there are cores, a part's counts
// and then its targets made by one goroutine, the offsets summed between.
func (a *Analysis) followedEdges() followedEdges {
	nodes := a.g.Nodes
	n := len(nodes)
	first := make([]int32, n+1)
	const parts = 16 // (taken in turn by the cores: an even share though the nodes' edges are not)
	part := func(i int) (int, int) { return i * n / parts, (i + 1) * n / parts }
	beside.Each(parts, func(i int) {
		lo, hi := part(i)
		for v := lo; v < hi; v++ {
			if a.followsAll {
				first[v+1] = int32(len(nodes[v].Edges))
				continue
			}
			c := int32(0)
			for _, e := range nodes[v].Edges {
				if a.follows(v, e) {
					c++
				}
			}
			first[v+1] = c
		}
	})
	for v := range n {
		first[v+1] += first[v]
	}
	to := make([]int32, first[n])
	beside.Each(parts, func(i int) {
		lo, hi := part(i)
		for v := lo; v < hi; v++ {
			k := first[v]
			for _, e := range nodes[v].Edges {
				if a.followsAll || a.follows(v, e) {
					to[k] = int32(e.To)
					k++
				}
			}
		}
	})
	return followedEdges{first: first, to: to}
}
