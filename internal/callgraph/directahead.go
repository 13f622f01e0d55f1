package callgraph

import (
	"runtime"

	"github.com/stackscope/stackscope/internal/binfile"
)

// The program's direct calls looked up ahead (issue 19). Build's
// resolution (resolvePending) runs on one goroutine, while the other core
// is mostly idle (perf: about 0.1 s of node's build); it starts with the
// program's nodes, in node order, and for each direct call asks which
// function starts at the call's target (binfile.File.FunctionIndex): a
// map lookup at a random function, a cache miss most times, 0.017 s of
// the resolution's 0.165 s on node (BenchmarkResolve, cpu profile).
// Here a goroutine asks those questions first, chunk by chunk of the
// program's nodes, and the resolution takes the answers of the chunk it
// is in when the goroutine has handed it over (it asks itself otherwise).
//
// The answers are the ones the resolution would get: they depend on the
// program's function table, fixed before Build, and on the calls of the
// program's frames, walked before the resolution starts and not changed
// after (countedloop's copy is made as the node is, in addNodes; the
// resolution changes a frame's kind and reason, never its calls). The
// goroutine reads only those: the nodes' pointers from a copy of their
// list taken before the resolution appends to it, each node's frame's
// calls, and the file's function index, which nothing writes any more.

// directChunk holds the answers for the nodes begin..end-1: fi[offs[i]:
// offs[i+1]] are node begin+i's, one per call site in its frame's order,
// the index of the function a direct call's target starts, or -1 (an
// indirect call, or no function starts there). edges[i] is an empty list
// of node begin+i's edges, made with the room addEdge would give it
// (edgeRoom: its calls and its module's lazy slots and PLT, all fixed),
// nil for a node without calls: the allocation at each node's first edge
// was 0.007 s of node's resolution.
type directChunk struct {
	begin, end int
	offs       []int32
	fi         []int32
	edges      [][]Edge
}

// directChunkNodes is how many nodes a chunk covers: node's 77,000
// program nodes make 76 chunks of some 6,200 answers (25 KB) each.
var directChunkNodes = 1024

// directAheadMin is the fewest program functions for which the lookups
// are made ahead: a goroutine for a small program's few calls is not
// worth starting. (A test lowers it.)
var directAheadMin = 4096

// directAheadOn and directAheadFirst are for a test: the resolution without
// the answers looked up ahead, and with all of them handed over before it
// starts.
var directAheadOn, directAheadFirst = true, false

// directAhead is the goroutine's side of the answers and the resolution's.
type directAhead struct {
	chunks chan *directChunk // handed over in node order; closed at the end
	free   chan *directChunk // chunks the resolution is done with
	stop   chan struct{}
	cur    *directChunk // the resolution's (nil: none yet)
	nodes  int          // the program's nodes: ids 0..nodes-1
}

// startDirectAhead starts the goroutine for the program's nodes, the
// first len(main.Functions) of the graph; stopDirectAhead ends it.
func (g *Graph) startDirectAhead(main *binfile.File, workers int) {
	n := len(main.Functions)
	if !directAheadOn || workers < 2 || n < directAheadMin || len(g.Nodes) < n {
		return
	}
	// Chunks handed over ahead of the resolution: some 400 KB on node. With
	// 4, at a load of 8, half of node's nodes were resolved without
	// answers (the goroutine runs in bursts); with 16, all but the first.
	room := 16
	if directAheadFirst {
		room = (n + directChunkNodes - 1) / directChunkNodes
	}
	d := &directAhead{chunks: make(chan *directChunk, room), free: make(chan *directChunk, 4), stop: make(chan struct{}), nodes: n}
	g.direct = d
	nodes := g.Nodes[:n:n]
	go func() {
		defer close(d.chunks)
		// A panic here only ends the answers: the resolution then asks
		// the same questions itself, and panics there if it must.
		defer func() { _ = recover() }()
		for begin := 0; begin < n; begin += directChunkNodes {
			c := d.chunk()
			lookUpDirect(c, nodes, begin, min(begin+directChunkNodes, n))
			select {
			case d.chunks <- c:
			case <-d.stop:
				return
			}
		}
	}()
	if directAheadFirst {
		for len(d.chunks) < room {
			runtime.Gosched()
		}
	}
}

// chunk returns a chunk the resolution is done with, or a new one.
func (d *directAhead) chunk() *directChunk {
	select {
	case c := <-d.free:
		return c
	default:
		return &directChunk{}
	}
}

// lookUpDirect fills c with the answers for nodes begin..end-1, each asked
// of the node's module's file as resolveEdges asks (the program's: Build
// makes its nodes first, in function order).
func lookUpDirect(c *directChunk, nodes []*Node, begin, end int) {
	c.begin, c.end = begin, end
	c.offs, c.fi, c.edges = c.offs[:0], c.fi[:0], c.edges[:0]
	for _, n := range nodes[begin:end] {
		c.offs = append(c.offs, int32(len(c.fi)))
		var edges []Edge
		if len(n.Frame.Calls) > 0 {
			edges = make([]Edge, 0, edgeRoom(n))
		}
		c.edges = append(c.edges, edges)
		for _, cs := range n.Frame.Calls {
			fi := int32(-1)
			if !cs.Kind.Indirect() && n.Module != nil {
				if i, ok := n.Module.File.FunctionIndex(cs.Target); ok {
					fi = int32(i)
				}
			}
			c.fi = append(c.fi, fi)
		}
	}
	c.offs = append(c.offs, int32(len(c.fi)))
}

// directHints returns the answers for node id, one per call site of its
// frame, or nil when the goroutine has not handed them over (or the node
// is no program node). The resolution asks for ids in increasing order:
// chunks before id's are dropped.
func (g *Graph) directHints(id int, calls int) []int32 {
	d := g.direct
	if d == nil || id >= d.nodes {
		return nil
	}
	for d.cur == nil || id >= d.cur.end {
		select {
		case c, ok := <-d.chunks:
			if !ok {
				g.direct = nil // (all handed over, or the goroutine stopped)
				return nil
			}
			if d.cur != nil {
				select {
				case d.free <- d.cur:
				default:
				}
			}
			d.cur = c
		default:
			return nil // not there yet: the resolution asks itself
		}
	}
	if id < d.cur.begin {
		return nil
	}
	i := id - d.cur.begin
	hints := d.cur.fi[d.cur.offs[i]:d.cur.offs[i+1]]
	if len(hints) != calls {
		return nil // (cannot happen: the same calls)
	}
	g.directHinted++
	return hints
}

// directEdges returns the empty edge list made ahead for node id, once,
// or nil.
func (g *Graph) directEdges(id int) []Edge {
	d := g.direct
	if d == nil || d.cur == nil || id < d.cur.begin || id >= d.cur.end {
		return nil
	}
	edges := d.cur.edges[id-d.cur.begin]
	d.cur.edges[id-d.cur.begin] = nil
	return edges
}

// stopDirectAhead ends the goroutine, if it still runs, and drops its
// answers: only Build's resolution reads them.
func (g *Graph) stopDirectAhead() {
	if d := g.direct; d != nil {
		close(d.stop)
		g.direct = nil
	}
}
