package bound

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// componentsOverNodes is components as it was, walking the nodes' own
// edge lists and asking follows of each edge: the reference.
func (a *Analysis) componentsOverNodes(roots []int) {
	g := a.g
	n := len(g.Nodes)
	a.scc = make([]int, n)
	index, low := make([]int, n), make([]int, n)
	for i := range n {
		a.scc[i], index[i] = -1, -1
	}
	onStack := make([]bool, n)
	var stack []int
	counter := 0
	type frameT struct {
		v, e  int
		edges []callgraph.Edge
	}
	for _, r := range roots {
		if index[r] >= 0 {
			continue
		}
		call := []frameT{{r, 0, g.Nodes[r].Edges}}
		index[r], low[r] = counter, counter
		counter++
		stack = append(stack, r)
		onStack[r] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			v := top.v
			if top.e < len(top.edges) {
				edge := &top.edges[top.e]
				w := edge.To
				top.e++
				if !a.follows(v, *edge) {
					continue
				}
				if index[w] < 0 {
					index[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frameT{w, 0, g.Nodes[w].Edges})
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
				id, size := len(a.cyclic), 0
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					a.scc[w] = id
					size++
					if w == v {
						break
					}
				}
				selfLoop := false
				for _, e := range g.Nodes[v].Edges {
					if e.To == v && a.follows(v, e) {
						selfLoop = true
					}
				}
				a.cyclic = append(a.cyclic, size > 1 || selfLoop)
			}
		}
	}
}

// TestComponentsAsOverNodes: on random graphs (cycles, self loops,
// duplicate edges, nodes no root reaches, repeated roots), with and
// without declared worst cases and excluded nodes, components over the
// copy of the followed edges numbers every node's component as the walk
// over the nodes' own edges did, and marks the same ones cyclic.
func TestComponentsAsOverNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 16))
	for round := range 300 {
		n := 1 + rng.IntN(3000)
		g := &callgraph.Graph{Decoder: x86.Decoder{}, Modules: []*callgraph.Module{{}}}
		for range n {
			nd := callgraph.NewNode("f", frame.Frame{Size: 8})
			for range rng.IntN(6) {
				to := rng.IntN(n)
				if rng.IntN(4) == 0 { // mostly forward: long paths, some cycles
					to = min(len(g.Nodes)+1+rng.IntN(4), n-1)
				}
				nd.Edges = append(nd.Edges, callgraph.Edge{To: to, Kind: frame.Call})
			}
			g.Nodes = append(g.Nodes, nd)
		}
		var opts Options
		if round%3 != 0 {
			opts.Overrides, opts.Excluded = map[int]int64{}, map[int]bool{}
			for range 1 + n/50 {
				opts.Overrides[rng.IntN(n)] = 64
				opts.Excluded[rng.IntN(n)] = true
			}
		}
		roots := make([]int, 1+rng.IntN(8))
		for i := range roots {
			roots[i] = rng.IntN(n)
		}
		mk := func() *Analysis {
			return &Analysis{g: g, opts: opts, followsAll: len(opts.Overrides) == 0 && len(opts.Excluded) == 0}
		}
		want, got := mk(), mk()
		want.componentsOverNodes(roots)
		got.components(roots)
		if !slices.Equal(got.scc, want.scc) || !slices.Equal(got.cyclic, want.cyclic) {
			t.Fatalf("round %d (%d nodes, roots %v): components differ from the walk over the nodes", round, n, roots)
		}
	}
}

// reachedTopOverEdges is reachedTop as it was, reading each member's
// callees from its edges and asking follows of each: the reference.
func (a *Analysis) reachedTopOverEdges(own [][]int32, k int) [][]int32 {
	of := make([][]int32, len(a.cyclic))
	stamp := make([]int, len(a.cyclic))
	var merge topMerger
	for c := range a.cyclic {
		r := sortedTop(own[c], k)
		stamp[c] = c + 1
		for _, id := range a.componentMembers(c) {
			for _, e := range a.g.Nodes[id].Edges {
				d := a.scc[e.To]
				if d < 0 || stamp[d] == c+1 || !a.follows(id, e) {
					continue
				}
				stamp[d] = c + 1
				r = merge.merge(r, of[d], k)
			}
		}
		of[c] = merge.kept(r)
	}
	return of
}

// TestReachedTopAsOverEdges: on random graphs, with and without
// declared worst cases and excluded nodes, reachedTop over the followed
// edges' copy gives each component the ranks the reading of the nodes'
// edges gave.
func TestReachedTopAsOverEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 19))
	for round := range 200 {
		n := 1 + rng.IntN(2000)
		g := &callgraph.Graph{Decoder: x86.Decoder{}, Modules: []*callgraph.Module{{}}}
		for range n {
			nd := callgraph.NewNode("f", frame.Frame{Size: 8})
			for range rng.IntN(5) {
				nd.Edges = append(nd.Edges, callgraph.Edge{To: rng.IntN(n), Kind: frame.Call})
			}
			g.Nodes = append(g.Nodes, nd)
		}
		var opts Options
		if round%2 == 1 {
			opts.Overrides, opts.Excluded = map[int]int64{}, map[int]bool{}
			for range 1 + n/40 {
				opts.Overrides[rng.IntN(n)] = 64
				opts.Excluded[rng.IntN(n)] = true
			}
		}
		a := &Analysis{g: g, opts: opts, followsAll: len(opts.Overrides) == 0 && len(opts.Excluded) == 0}
		a.components([]int{rng.IntN(n), rng.IntN(n)})
		a.listMembers()
		own := make([][]int32, len(a.cyclic))
		for c := range own {
			for range rng.IntN(4) {
				own[c] = append(own[c], int32(rng.IntN(50)))
			}
			slices.Sort(own[c])
			own[c] = slices.Compact(own[c])
		}
		k := 1 + rng.IntN(6)
		got, want := a.reachedTop(own, k), a.reachedTopOverEdges(own, k)
		for c := range want {
			if !slices.Equal(got[c], want[c]) {
				t.Fatalf("round %d, component %d: reachedTop %v, over the edges %v", round, c, got[c], want[c])
			}
		}
	}
}
