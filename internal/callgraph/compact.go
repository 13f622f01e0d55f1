package callgraph

import "github.com/stackscope/stackscope/internal/beside"

// ClipEdges gives every node's edge list (and its list of assumed calls)
// exactly the room it uses. The lists grow one call at a time while the
// graph is built, and append leaves up to half of a list spare: on
// libLLVM-15, 2.5 million edges of room for 1.8 million edges, about 30
// MB of a live heap that decides whether the analysis stays under 1 GiB.
// Call it once the graph is complete (after ModelRuntime); a later
// append still works, on a new array. A hub keeps the room it was made
// with for the lookup edges (hubEdgeRoom): 64 bytes at most, where a copy
// of the hubs' lists was 38 MB of node's allocations.
//
// The nodes are cut into parts the cores take in turn (each node's lists
// are its own): one pass ran alone between the glibc models and the
// bound, 3 ms of node's run (an execution trace, issue 19).
func (g *Graph) ClipEdges() {
	nodes := g.Nodes
	const parts = 16
	beside.Each(parts, func(i int) {
		for _, n := range nodes[i*len(nodes)/parts : (i+1)*len(nodes)/parts] {
			if cap(n.Edges) > len(n.Edges) && !(n.Hub && cap(n.Edges)-len(n.Edges) <= hubEdgeRoom) {
				n.Edges = clipped(n.Edges)
			}
			if cap(n.Assumed) > len(n.Assumed) {
				n.Assumed = clipped(n.Assumed)
			}
		}
	})
}

// clipped is a copy of s in an array of its length (nil when s is empty).
func clipped[E any](s []E) []E {
	if len(s) == 0 {
		return nil
	}
	out := make([]E, len(s))
	copy(out, s)
	return out
}

// QualifiedNames gives the nodes' qualified names (QualifiedName), each
// library node's made once and then shared: a name with its library is
// a new string on every call, and the paths of a large library's entries
// keep one per step (libLLVM-15: 30 MB of copies of the same few
// thousand names). The zero value is not usable: make one with
// g.QualifiedNames(). Not safe for concurrent use.
type QualifiedNames struct {
	g    *Graph
	made map[int]string
}

// QualifiedNames returns an empty name cache for g.
func (g *Graph) QualifiedNames() *QualifiedNames { return &QualifiedNames{g: g} }

// Of is g.QualifiedName(id).
func (q *QualifiedNames) Of(id int) string {
	g := q.g
	if n := g.Nodes[id]; n.Module == nil || n.Module == g.Modules[0] || n.Hub {
		return g.QualifiedName(id) // its name: nothing is made
	}
	if s, ok := q.made[id]; ok {
		return s
	}
	s := g.QualifiedName(id)
	if q.made == nil {
		q.made = map[int]string{}
	}
	q.made[id] = s
	return s
}
