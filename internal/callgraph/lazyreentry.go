package callgraph

import (
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/frame"
)

// The lazy-binding resolver entered again before it returns.
//
// libc.so.6 is lazily bound on Debian (its JUMP_SLOTs are resolved on
// first call), and ld.so's own code calls into libc: do_lookup_x's error
// path calls libc's _dl_signal_error (libc exports it, and comes before
// ld.so in the lookup order), which calls _dl_exception_create through
// one of libc's lazy slots; ld.so's malloc words lead into libc's malloc,
// whose first call reads tunables through another. So the resolver's own
// callees reach the resolver again: a cycle, which the bound reports as
// a recursion with no depth.
//
// How deep it goes: a nested resolution is one of a slot whose first call
// happens while another slot is being resolved. The premise: glibc does
// not call through a slot while it resolves that same slot (the inner
// resolution would start the same lookup again; with the same state it
// would never end, and the slot's first call would never work). Then
// every level of the nesting is a different slot, and the nesting is at
// most 1 + the number of slots through which the resolver's callees
// reach it again (counted per call site where the graph did not decode
// the call's PLT stub: as many or more). The bound takes that as the
// cycle's recursion depth (Node.RecursionDepth), on the premise, which
// --strict drops (the resolver is not modelled then).
//
// It applies only when every cycle of the resolver's component passes
// through the resolver node (without it the component has no cycle): any
// other recursion in it (a library's own) would get the same depth, which
// nothing says of it; then the recursion stays as it was.

// PremiseLazyNesting is the kind of the premise that lazy resolutions
// nest only through different slots.
const PremiseLazyNesting = "lazy-nesting"

// boundResolverReentry gives the modelled resolver's cycle a depth (see
// above). Run when the graph's edges are final; cyc finds its cycle.
func (g *Graph) boundResolverReentry(cyc *cycles) {
	r := g.resolver.node
	if g.opts.Strict || !g.resolver.done || r < 0 || r >= len(g.Nodes) {
		return
	}
	comp := cyc.members(r)
	if len(comp) == 0 {
		return
	}
	// The resolver's lazy callers, kept if in its component: read from
	// the edges' targets the components were found on (a scan of 1.7
	// million words on node) rather than from every node's edges (0.03 s
	// of node's models, which ran beside the components' search).
	var calls []lazyCaller
	if len(cyc.adj.First) == len(g.Nodes)+1 {
		calls = g.lazyCallersIn(cyc.adj, r)
	} else {
		calls = g.lazyCallersOf(r)
	}
	// The lazy slots through which the cycle enters the resolver: a
	// call's slot where the call goes through a PLT stub the graph
	// decoded, else the call itself (one slot or more, never fewer).
	slots := map[reentry]bool{}
	for _, c := range calls {
		if cyc.in(c.from, r) {
			slots[c.slot] = true
		}
	}
	if len(slots) == 0 || !g.acyclicAmong(comp, func(v int) bool { return cyc.in(v, r) }, func(v int) bool { return v == r }) {
		return
	}
	depth := int64(1 + len(slots))
	n := g.Nodes[r]
	n.RecursionDepth = depth
	n.Premises = append(n.Premises, Premise{Kind: PremiseLazyNesting, Site: n.Func.Addr, Detail: fmt.Sprintf(
		"lazy bindings nest only through different slots (glibc does not call through a slot while it resolves that slot): "+
			"the resolver's callees reach it again through %d lazy %s, so it is at most %d deep",
		len(slots), plural(len(slots), "slot"), depth)})
}

// lazyCaller is a lazy call of the resolver: from node from, through slot.
type lazyCaller struct {
	from int
	slot reentry
}

// lazyCallersOf returns the calls of every node into the resolver r
// through a lazy slot (method MethodLazy), in the nodes' and their edges'
// order, each with its slot: the call's slot where the call goes through
// a PLT stub the graph decoded, else the call itself.
func (g *Graph) lazyCallersOf(r int) []lazyCaller {
	var out []lazyCaller
	for v, nv := range g.Nodes {
		for _, e := range nv.Edges {
			if e.To == r && e.Method == MethodLazy {
				out = append(out, g.lazyCallerAt(v, e))
			}
		}
	}
	return out
}

// lazyCallersIn is lazyCallersOf(r) read from adj, the graph's edges'
// targets: the same calls in the same order.
func (g *Graph) lazyCallersIn(adj adjacency, r int) []lazyCaller {
	var out []lazyCaller
	v := 0
	for k, w := range adj.To {
		if int(w) != r {
			continue
		}
		for adj.First[v+1] <= int32(k) {
			v++
		}
		if e := g.Nodes[v].Edges[int32(k)-adj.First[v]]; e.Method == MethodLazy {
			out = append(out, g.lazyCallerAt(v, e))
		}
	}
	return out
}

// lazyCallerAt is node v's lazy call e of the resolver, with its slot.
func (g *Graph) lazyCallerAt(v int, e Edge) lazyCaller {
	nv := g.Nodes[v]
	k := reentry{node: v, at: e.Site}
	if i := slices.IndexFunc(nv.Frame.Calls, func(c frame.CallSite) bool { return c.Addr == e.Site }); i >= 0 && nv.Module != nil {
		if slot := nv.Module.pltSlots[nv.Frame.Calls[i].Target]; slot != 0 {
			k = reentry{node: -1, module: nv.Module, at: slot}
		}
	}
	return lazyCaller{from: v, slot: k}
}

// reentry is a lazy slot of a module (node -1), or a call site of a node
// whose slot the graph did not decode.
type reentry struct {
	node   int
	module *Module
	at     uint64
}

// cycleThrough returns the nodes on a cycle through node r (its strongly
// connected component), empty when r is on none. (The models ask a
// cycles, which finds the components once for all their questions.)
func (g *Graph) cycleThrough(r int) map[int]bool {
	return (&cycles{g: g}).through(r)
}

// acyclicWithout says whether the nodes of comp other than r have no
// cycle among them: every cycle of comp passes through r.
func (g *Graph) acyclicWithout(comp map[int]bool, r int) bool {
	return g.acyclicWithoutAny(comp, map[int]bool{r: true})
}

// acyclicWithoutAny says whether the nodes of comp not in rs have no
// cycle among them: every cycle of comp passes through one of rs.
func (g *Graph) acyclicWithoutAny(comp map[int]bool, rs map[int]bool) bool {
	nodes := make([]int, 0, len(comp))
	for v := range comp {
		nodes = append(nodes, v)
	}
	slices.Sort(nodes)
	return g.acyclicAmong(nodes, func(v int) bool { return comp[v] }, func(v int) bool { return rs[v] })
}

// acyclicAmong says whether the nodes (in increasing order; in says
// whether a node is one of them) other than those of removed have no
// cycle among them: acyclicWithoutAny's walk, its marks in a slice by
// node rather than a map (the resolver's component is most of node's
// graph).
func (g *Graph) acyclicAmong(nodes []int, in, removed func(int) bool) bool {
	const (
		unseen = iota
		open
		done
	)
	state := make([]uint8, len(g.Nodes))
	type item struct{ v, e int }
	for _, start := range nodes {
		if removed(start) || state[start] != unseen {
			continue
		}
		stack := []item{{start, 0}}
		state[start] = open
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			edges := g.Nodes[top.v].Edges
			if top.e == len(edges) {
				state[top.v] = done
				stack = stack[:len(stack)-1]
				continue
			}
			w := edges[top.e].To
			top.e++
			if removed(w) || !in(w) {
				continue
			}
			switch state[w] {
			case open:
				return false
			case unseen:
				state[w] = open
				stack = append(stack, item{w, 0})
			}
		}
	}
	return true
}
