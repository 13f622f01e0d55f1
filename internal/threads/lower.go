package threads

import (
	"sync"

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
func certain(method callgraph.Method) bool {
	switch method {
	case callgraph.MethodDirect, callgraph.MethodPLT, callgraph.MethodGOT, callgraph.MethodAnnotated, callgraph.MethodInitArray, callgraph.MethodConstant, callgraph.MethodLibcStart:
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
	l := newLower(g, opts)
	defer l.release()
	return l.bound(id, nil)
}

// Lower gives the lower bounds (LowerBound) of many entries of one graph
// under the same options, and shares the work between them: a shared
// object's thousands of exported functions each walked most of the graph
// again (the larger part of analysing libLLVM). Its results are
// LowerBound's, to the byte.
//
// What it shares: a function that reaches no cycle of the calls the bound
// follows ("clean") has one value and one chain, whichever entry the walk
// comes from (no function below it can be on the walk's stack), so it is
// walked once. The functions that reach a cycle are walked again for each
// entry, as LowerBound does, since which edge of a cycle the walk cuts
// depends on where it came in. The order in which the walk first asks
// Stop about a function is LowerBound's for every entry (a function is
// skipped only once its whole part below has been asked about), which
// matters because Stop may answer from a memo that depends on it.
type Lower struct {
	g    *callgraph.Graph
	opts LowerOptions
	ra   int64
	// The current walk's colours (mark <= base: white, base+1: grey,
	// base+2: black), values and chosen edges.
	mark []uint32
	base uint32
	val  []int64
	next []int32
	// clean (nil: nothing shared) marks the clean functions; shared says
	// a clean function's value and edge are final in val and next.
	clean  []bool
	shared []bool
	// stops caches Stop's answers (0: not asked, 1: stop, 2: go on):
	// Stop answers the same once asked, and asking costs map lookups
	// on every edge of every walk.
	stops []uint8
	// pooled: the tables came from lowerPool.
	pooled *lowerTables
	// Scratch kept between walks: visit's ifunc sites per depth of the
	// walk (depth), and the set of a chain being rebuilt.
	ifuncs [][]ifuncBest
	depth  int
	seen   chainSeen
	// The followed edges of each function that reaches a cycle (walked
	// again for every entry), made on its first walk (compactEdges):
	// with at = first[v]-1, edges[at/edgeChunk][at%edgeChunk:] for
	// count[v] edges; first[v] 0: not made. made is the scratch list
	// they are made in.
	edges [][]followedEdge
	first []int32
	count []int32
	made  []followedEdge
	// names are the chains' names, each library function's made once
	// (every entry's chain keeps them).
	names *callgraph.QualifiedNames
	// worker: a copy walking beside others (BoundEach, lowerpar.go); it
	// writes only its own tables, and leaves the chains' names empty.
	// missed counts the Stop answers it found not asked yet.
	worker bool
	missed int
	// pre is the prepass Prepare or StartPrepare began for a BoundEach
	// to come (lowerpar.go); nil: none.
	pre *prepassRun
	// cleanDone lists the clean functions whose value and edge are final
	// (shared), in the order they were made: the workers copy them from
	// val and next (lowerpar.go). synced is how many a worker copied.
	cleanDone []int32
	synced    int
}

// followedEdge is an edge the lower bound follows, with what the walk
// reads of it: its target, its index among the function's edges, what a
// chain through it adds to the callee's value (the caller's frame, or
// what a tail call keeps of it), and whether it is an ifunc call. The
// walk of a function that reaches a cycle runs once per entry (36,687
// times on libLLVM-15), and testing each edge's method and exclusion
// again was most of it.
type followedEdge struct {
	add   int64
	to    int32
	index int32
	ifunc bool
}

type lowerTables struct {
	mark []uint32
	base uint32
	val  []int64
	next []int32
}

// lowerPool keeps the tables of one-off lower bounds (LowerBound), which
// are as long as the graph: a run asks for a few per thread and per
// library call.
var lowerPool = sync.Pool{New: func() any { return &lowerTables{} }}

func newLower(g *callgraph.Graph, opts LowerOptions) *Lower {
	l := &Lower{g: g, opts: opts}
	if g.Decoder != nil {
		l.ra = g.Decoder.ReturnAddressSize()
	}
	t := lowerPool.Get().(*lowerTables)
	if n := len(g.Nodes); len(t.mark) < n {
		t.mark, t.val, t.next, t.base = make([]uint32, n), make([]int64, n), make([]int32, n), 0
	}
	l.pooled = t
	l.mark, l.val, l.next, l.base = t.mark, t.val, t.next, t.base
	return l
}

// release gives a one-off walk's tables back to the pool.
func (l *Lower) release() {
	if t := l.pooled; t != nil {
		t.base = l.base
		lowerPool.Put(t)
		l.pooled = nil
	}
}

// NewLower prepares the lower bounds of many entries of g under opts.
func NewLower(g *callgraph.Graph, opts LowerOptions) *Lower {
	n := len(g.Nodes)
	l := &Lower{g: g, opts: opts, mark: make([]uint32, n), val: make([]int64, n), next: make([]int32, n)}
	if g.Decoder != nil {
		l.ra = g.Decoder.ReturnAddressSize()
	}
	l.clean = cleanNodes(g, opts)
	l.shared = make([]bool, n)
	l.stops = make([]uint8, n)
	l.first = make([]int32, n)
	l.count = make([]int32, n)
	return l
}

// compactEdges returns v's followed edges (followedEdge), made once.
func (l *Lower) compactEdges(v int) []followedEdge {
	if f := l.first[v]; f > 0 {
		at := int(f - 1)
		return l.edges[at/edgeChunk][at%edgeChunk:][:l.count[v]]
	}
	if l.worker {
		// Not made before the walks began: made for this walk alone
		// (the list is shared with the other workers).
		return l.appendFollowed(nil, v)
	}
	l.made = l.appendFollowed(l.made[:0], v)
	k := len(l.edges) - 1
	if k < 0 || len(l.edges[k])+len(l.made) > cap(l.edges[k]) {
		// A new array (one of its own for a list longer than a chunk:
		// it is then full, and the next list starts another).
		l.edges = append(l.edges, make([]followedEdge, 0, max(edgeChunk, len(l.made))))
		k++
	}
	at := len(l.edges[k])
	l.edges[k] = append(l.edges[k], l.made...)
	l.first[v], l.count[v] = int32(k*edgeChunk+at+1), int32(len(l.made))
	return l.edges[k][at:]
}

// edgeChunk is how many followed edges one array of Lower.edges holds.
// The lists kept in one array grown by append were 68 MB of garbage on
// libLLVM-15 (large slices grow by a quarter, each growth a copy) for
// 12 MB kept, made while the graph is live; in arrays of a fixed size
// nothing is copied, and a chunk's spare room is at most one list.
const edgeChunk = 1 << 15

// appendFollowed appends v's followed edges to list.
func (l *Lower) appendFollowed(list []followedEdge, v int) []followedEdge {
	n := l.g.Nodes[v]
	for ei, e := range n.Edges {
		if !certain(e.Method) && e.Method != callgraph.MethodIfunc || l.excluded(e.To) {
			continue
		}
		list = append(list, followedEdge{add: l.through(n, e, 0), to: int32(e.To), index: int32(ei), ifunc: e.Method == callgraph.MethodIfunc})
	}
	return list
}

// Bound is LowerBound(g, id, opts) for the graph and options of l.
func (l *Lower) Bound(id int) (int64, []Step) {
	return l.BoundInto(id, nil)
}

// BoundInto is Bound with the chain written over buf (buf[:0] grows into
// it): a caller that copies each chain out reuses one buffer, instead of
// a new list per entry (libLLVM-15: 160 MB for 35,000 entries).
func (l *Lower) BoundInto(id int, buf []Step) (int64, []Step) {
	if l == nil || l.g == nil || id < 0 || id >= len(l.g.Nodes) {
		return 0, nil
	}
	return l.bound(id, buf[:0])
}

// follows says whether the lower bound may take edge e: only calls the
// code names, and ifunc calls (handled apart), never into what the user
// set aside.
func (l *Lower) follows(e callgraph.Edge) bool {
	return (certain(e.Method) || e.Method == callgraph.MethodIfunc) && !l.excluded(e.To)
}

// excluded says whether the user set node v aside, without a map lookup
// when nothing is (the walks ask it of every edge they follow).
func (l *Lower) excluded(v int) bool {
	return len(l.opts.Excluded) > 0 && l.opts.Excluded[v]
}

// cleanNodes marks the functions from which no cycle of followed calls
// can be reached (a call of a function to itself is no cycle here: the
// walk never takes it). Stop is not asked: cutting more edges cannot make
// a clean function reach a cycle.
func cleanNodes(g *callgraph.Graph, opts LowerOptions) []bool {
	n := len(g.Nodes)
	l := &Lower{g: g, opts: opts}
	// Tarjan's strongly connected components, without recursion (call
	// chains run tens of thousands deep); components come out callees
	// first, so a component's callees are decided before it.
	index := make([]int32, n) // 0: not visited; else 1 + discovery order
	low := make([]int32, n)
	onStack := make([]bool, n)
	clean := make([]bool, n)
	var stack []int32
	type frameT struct {
		v    int32
		edge int32
	}
	var calls []frameT
	counter := int32(0)
	edgesOf := func(v int) []callgraph.Edge {
		if _, leaf := opts.Overrides[v]; leaf {
			return nil
		}
		return g.Nodes[v].Edges
	}
	for root := 0; root < n; root++ {
		if index[root] != 0 {
			continue
		}
		counter++
		index[root], low[root] = counter, counter
		stack = append(stack, int32(root))
		onStack[root] = true
		calls = append(calls[:0], frameT{int32(root), 0})
		for len(calls) > 0 {
			top := &calls[len(calls)-1]
			v := int(top.v)
			edges := edgesOf(v)
			descended := false
			for int(top.edge) < len(edges) {
				e := edges[top.edge]
				top.edge++
				w := e.To
				if w == v || !l.follows(e) {
					continue
				}
				if index[w] == 0 {
					counter++
					index[w], low[w] = counter, counter
					stack = append(stack, int32(w))
					onStack[w] = true
					calls = append(calls, frameT{int32(w), 0})
					descended = true
					break
				}
				if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
			}
			if descended {
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				if p := int(calls[len(calls)-1].v); low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] != index[v] {
				continue
			}
			// v roots a component: pop it.
			k := len(stack) - 1
			for int(stack[k]) != v {
				k--
			}
			members := stack[k:]
			stack = stack[:k]
			for _, m := range members {
				onStack[m] = false
			}
			if len(members) > 1 {
				continue // a cycle: its members are not clean
			}
			ok := true
			for _, e := range edgesOf(v) {
				if e.To != v && l.follows(e) && !clean[e.To] {
					ok = false
					break
				}
			}
			clean[v] = ok
		}
	}
	return clean
}

const (
	white = iota
	grey
	black
)

func (l *Lower) color(v int) uint8 {
	if l.clean != nil && l.shared[v] {
		return black
	}
	switch m := l.mark[v]; {
	case m <= l.base:
		return white
	case m == l.base+1:
		return grey
	}
	return black
}

// own is a function's own share of a chain: its frame and red zone, or
// its declared depth.
func (l *Lower) own(v int) int64 {
	n := l.g.Nodes[v]
	if d, ok := l.opts.Overrides[v]; ok {
		return d
	}
	if n.External || n.Hub {
		return 0
	}
	return n.Frame.Size + n.Frame.RedZone
}

func (l *Lower) through(n *callgraph.Node, e callgraph.Edge, v int64) int64 {
	if e.Kind == frame.TailCall {
		return e.Depth - l.ra + v
	}
	return n.Frame.Size + v
}

// stop asks opts.Stop about v, once per Lower when it caches.
func (l *Lower) stop(v int) bool {
	if l.opts.Stop == nil {
		return false
	}
	if l.stops == nil {
		return l.opts.Stop(v)
	}
	if l.worker {
		// The prepass asked about every function a walk can reach; one
		// it did not is not asked here (Stop is not safe beside the
		// other workers): the caller walks the entry again alone.
		if l.stops[v] == 0 {
			l.missed++
		}
		return l.stops[v] == 1
	}
	if l.stops[v] == 0 {
		l.stops[v] = 2
		if l.opts.Stop(v) {
			l.stops[v] = 1
		}
	}
	return l.stops[v] == 1
}

func (l *Lower) finish(v int, best int64, bestEdge int) {
	l.val[v], l.next[v] = best, int32(bestEdge)
	l.mark[v] = l.base + 2
	if l.clean != nil && l.clean[v] && !l.worker {
		l.shared[v] = true
		l.cleanDone = append(l.cleanDone, int32(v))
	}
}

// visit is the walk of LowerBound: the deepest chain below v, cycles cut
// where the walk meets a function it is inside of.
func (l *Lower) visit(v int) {
	l.mark[v] = l.base + 1
	n := l.g.Nodes[v]
	best, bestEdge := l.own(v), -1
	if _, leaf := l.opts.Overrides[v]; leaf {
		l.finish(v, best, -1)
		return
	}
	// The shallowest implementation of each ifunc call site, in the
	// order the sites come: a list per depth of the walk, kept between
	// walks (maps per function were 700 MB of allocation on libLLVM-15,
	// whose functions call memcpy and the like at many sites).
	if l.depth == len(l.ifuncs) {
		l.ifuncs = append(l.ifuncs, nil)
	}
	ifuncs := l.ifuncs[l.depth][:0]
	l.depth++
	if l.first != nil && !l.clean[v] {
		// The same walk as below, on the edges made once.
		for _, e := range l.compactEdges(v) {
			to := int(e.to)
			if l.stop(to) {
				continue
			}
			c := l.color(to)
			if c == white {
				l.visit(to)
			} else if c == grey {
				continue
			}
			d := e.add + l.val[to]
			if e.ifunc {
				ifuncs = keepShallowest(ifuncs, n.Edges[e.index].Site, d, int(e.index))
				l.ifuncs[l.depth-1] = ifuncs
				continue
			}
			if d > best {
				best, bestEdge = d, int(e.index)
			}
		}
		l.finishWalk(v, best, bestEdge, ifuncs)
		return
	}
	for ei, e := range n.Edges {
		if !certain(e.Method) && e.Method != callgraph.MethodIfunc || l.excluded(e.To) || l.stop(e.To) {
			continue
		}
		c := l.color(e.To)
		if c == white {
			l.visit(e.To)
		} else if c == grey {
			continue // a cycle: not followed
		}
		d := l.through(n, e, l.val[e.To])
		if e.Method == callgraph.MethodIfunc {
			ifuncs = keepShallowest(ifuncs, e.Site, d, ei)
			l.ifuncs[l.depth-1] = ifuncs
			continue
		}
		if d > best {
			best, bestEdge = d, ei
		}
	}
	l.finishWalk(v, best, bestEdge, ifuncs)
}

// finishWalk ends visit of v: the deepest of its calls and its ifunc
// sites' shallowest implementations.
func (l *Lower) finishWalk(v int, best int64, bestEdge int, ifuncs []ifuncBest) {
	for _, f := range ifuncs {
		// Ties go to the first edge, as above, whatever the order of
		// the sites.
		if d, ei := f.depth, f.edge; d > best || d == best && bestEdge >= 0 && ei < bestEdge {
			best, bestEdge = d, ei
		}
	}
	l.depth--
	l.finish(v, best, bestEdge)
}

// ifuncBest is the shallowest implementation of one ifunc call site so
// far: its depth and edge.
type ifuncBest struct {
	site  uint64
	depth int64
	edge  int
}

// keepShallowest records depth d by edge ei for site when it is the
// site's first or shallower than its best so far (a tie keeps the first
// edge).
func keepShallowest(list []ifuncBest, site uint64, d int64, ei int) []ifuncBest {
	for i := range list {
		if list[i].site == site {
			if d < list[i].depth {
				list[i].depth, list[i].edge = d, ei
			}
			return list
		}
	}
	return append(list, ifuncBest{site, d, ei})
}

func (l *Lower) bound(id int, steps []Step) (int64, []Step) {
	// A new walk: every colour of the last one is white again.
	if l.base >= ^uint32(0)-4 {
		clear(l.mark)
		l.base = 0
	}
	l.base += 2
	if l.color(id) == white {
		l.visit(id)
	}
	g := l.g
	// Rebuild the chain, stopping before a function repeats, and measure it.
	var depth, reach int64
	var tail bool
	var kept int64
	seen := &l.seen
	seen.reset()
	for v := id; v >= 0 && !seen.has(v); {
		seen.add(v)
		n := g.Nodes[v]
		st := Step{Node: v, Frame: l.own(v), Depth: depth + l.own(v), TailCall: tail, Kept: kept}
		if !l.worker {
			st.Name = l.qualifiedName(v)
		}
		if n.External || n.Hub {
			st.Frame = 0
		}
		steps = append(steps, st)
		reach = max(reach, st.Depth)
		ei := int(l.next[v])
		if ei < 0 {
			break
		}
		e := n.Edges[ei]
		tail, kept = e.Kind == frame.TailCall, 0
		if tail {
			kept = e.Depth - l.ra
			depth += kept
		} else {
			depth += n.Frame.Size
		}
		v = e.To
	}
	return reach, steps
}

// qualifiedName is g.QualifiedName(v), made once per function.
func (l *Lower) qualifiedName(v int) string {
	if l.names == nil {
		l.names = l.g.QualifiedNames()
	}
	return l.names.Of(v)
}

// chainSeen is the set of functions on a chain being rebuilt: a list
// while the chain is short (most are: a map per entry was 200 MB of
// allocation on libLLVM-15), a map once it is long.
type chainSeen struct {
	list []int
	set  map[int]bool
	// inSet: the chain is long, set holds it (the map is kept from chain
	// to chain, cleared: a new one per long chain was 36 MB of libLLVM-15's
	// allocation).
	inSet bool
}

func (c *chainSeen) reset() {
	c.list, c.inSet = c.list[:0], false
}

func (c *chainSeen) has(v int) bool {
	if c.inSet {
		return c.set[v]
	}
	for _, x := range c.list {
		if x == v {
			return true
		}
	}
	return false
}

func (c *chainSeen) add(v int) {
	if c.inSet {
		c.set[v] = true
		return
	}
	c.list = append(c.list, v)
	if len(c.list) > 32 {
		if c.set == nil {
			c.set = make(map[int]bool, 2*len(c.list))
		} else {
			clear(c.set)
		}
		for _, x := range c.list {
			c.set[x] = true
		}
		c.inSet = true
	}
}
