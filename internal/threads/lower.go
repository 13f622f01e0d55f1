package threads

import (
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
)

// Step is one function on a lower-bound call chain.
type Step struct {
	Node  int
	Name  string
	Frame int64
	// Depth is the chain's depth below the entry's caller SP when this
	// function's SP is deepest.
	Depth int64
	// TailCall: reached from the previous step by a tail call, which
	// kept Kept bytes of the caller's frame (a printed path adds those
	// instead of the caller's frame).
	TailCall bool
	Kept     int64
}

// certain reports the edges whose call the code itself names: a lower
// bound may use only these (an address-taken assumption may reach none of
// its targets; an ifunc call reaches one implementation, handled apart).
func certain(method string) bool {
	switch method {
	case "direct", "plt", "got", "annotated", "init-array", callgraph.MethodConstant, callgraph.MethodLibcStart:
		return true
	}
	return false
}

// LowerOptions carry the user's declarations into the lower bound, as
// into the bound (bound.Options): Excluded functions are set aside (no
// chain goes through them: the user said those paths do not count), and
// a function with a declared frame is a leaf of that depth.
type LowerOptions struct {
	Excluded  map[int]bool
	Overrides map[int]int64
	// Stop, when set, also sets aside the calls to the functions it
	// names: an entry's at_least leaves out error paths (a call to
	// __assert_fail runs only when the program is already failing).
	Stop func(int) bool
}

// LowerBound returns a call chain from node id made only of calls the code
// names (direct, PLT, GOT, annotated, a constant branched to; for a GNU
// ifunc call the shallowest implementation), without repeating a
// function, and the depth it reaches: a stack depth the entry certainly
// needs when those calls run, whatever recursion or unresolved indirect
// calls lie elsewhere below it.
func LowerBound(g *callgraph.Graph, id int, opts LowerOptions) (int64, []Step) {
	if g == nil || id < 0 || id >= len(g.Nodes) {
		return 0, nil
	}
	ra := int64(0)
	if g.Decoder != nil {
		ra = g.Decoder.ReturnAddressSize()
	}
	const (
		white = iota
		grey
		black
	)
	color := make(map[int]uint8)
	val := make(map[int]int64)
	next := make(map[int]int) // edge index on the chosen chain, -1 none
	own := func(v int) int64 {
		n := g.Nodes[v]
		if d, ok := opts.Overrides[v]; ok {
			return d
		}
		if n.External || n.Hub {
			return 0
		}
		return n.Frame.Size + n.Frame.RedZone
	}
	through := func(n *callgraph.Node, e callgraph.Edge, v int64) int64 {
		if e.Kind == frame.TailCall {
			return e.Depth - ra + v
		}
		return n.Frame.Size + v
	}
	var visit func(v int)
	visit = func(v int) {
		color[v] = grey
		n := g.Nodes[v]
		best, bestEdge := own(v), -1
		ifuncMin := map[uint64]int64{}
		ifuncEdge := map[uint64]int{}
		if _, leaf := opts.Overrides[v]; leaf {
			val[v], next[v] = best, -1
			color[v] = black
			return
		}
		for ei, e := range n.Edges {
			if !certain(e.Method) && e.Method != "ifunc" || opts.Excluded[e.To] || opts.Stop != nil && opts.Stop(e.To) {
				continue
			}
			if color[e.To] == white {
				visit(e.To)
			}
			if color[e.To] == grey {
				continue // a cycle: not followed
			}
			d := through(n, e, val[e.To])
			if e.Method == "ifunc" {
				if m, ok := ifuncMin[e.Site]; !ok || d < m {
					ifuncMin[e.Site], ifuncEdge[e.Site] = d, ei
				}
				continue
			}
			if d > best {
				best, bestEdge = d, ei
			}
		}
		for site, d := range ifuncMin {
			// Ties go to the first edge, as above: the map's order is
			// random, and a report must be the same on every run.
			if ei := ifuncEdge[site]; d > best || d == best && bestEdge >= 0 && ei < bestEdge {
				best, bestEdge = d, ei
			}
		}
		val[v], next[v] = best, bestEdge
		color[v] = black
	}
	visit(id)
	// Rebuild the chain, stopping before a function repeats, and measure it.
	var steps []Step
	var depth, reach int64
	var tail bool
	var kept int64
	seen := map[int]bool{}
	for v := id; v >= 0 && !seen[v]; {
		seen[v] = true
		n := g.Nodes[v]
		st := Step{Node: v, Name: g.QualifiedName(v), Frame: own(v), Depth: depth + own(v), TailCall: tail, Kept: kept}
		if n.External || n.Hub {
			st.Frame = 0
		}
		steps = append(steps, st)
		reach = max(reach, st.Depth)
		ei := next[v]
		if ei < 0 {
			break
		}
		e := n.Edges[ei]
		tail, kept = e.Kind == frame.TailCall, 0
		if tail {
			kept = e.Depth - ra
			depth += kept
		} else {
			depth += n.Frame.Size
		}
		v = e.To
	}
	return reach, steps
}
