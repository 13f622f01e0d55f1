package analysis

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/srcloc"
	"github.com/stackscope/stackscope/internal/threads"
)

// An entry with no bound says how deep it goes at least. The bound's own
// deepest path follows every edge, assumed ones too: through an
// address-taken set it can run from _start into ld.so's audit hooks and
// report a depth no run reaches (a false alarm against --budget with
// --allow-unbounded). A program's entry therefore gives, as at_least and
// its path, the deepest chain of calls the code names (threads.LowerBound,
// the chain threads are judged by): a depth a real run reaches when those
// calls run. Firmware keeps the bound's depth, which its interrupt totals
// are made of (its vector table makes every handler address-taken).

// provedAtLeast replaces an unbounded entry's at_least and path by the
// deepest chain of named calls from it (entry i of res.Entries; paths
// keeps the chain, and writes it out now or, deferred, later).
func (res *Result) provedAtLeast(i int, pl *provedLower, paths *chainPaths) {
	e := &res.Entries[i]
	if e.Bounded || e.AfterReset != nil {
		return
	}
	depth, chain := pl.lower().BoundInto(e.Node, paths.buf)
	paths.buf = chain // copied out below: the next entry's buffer
	res.takeChain(i, depth, chain, pl, paths)
}

// provedAtLeastAll is provedAtLeast of every entry, in entry order; the
// walks run on every core (threads.Lower.BoundEach) unless an entry
// asks for its depth without the exclusions, whose walks then come in
// between.
func (res *Result) provedAtLeastAll(pl *provedLower, paths *chainPaths) {
	if len(pl.lo.Excluded) > 0 {
		for i := range res.Entries {
			res.provedAtLeast(i, pl, paths)
		}
		return
	}
	var which, nodes []int
	for i, e := range res.Entries {
		if !e.Bounded && e.AfterReset == nil {
			which, nodes = append(which, i), append(nodes, e.Node)
		}
	}
	pl.lower().BoundEach(nodes, runtime.GOMAXPROCS(0), func(k int, depth int64, chain []threads.Step) {
		res.takeChain(which[k], depth, chain, pl, paths)
	})
}

// takeChain makes entry i's at_least and path the lower bound's depth and
// chain (copied: the chain may be reused once this returns).
func (res *Result) takeChain(i int, depth int64, chain []threads.Step, pl *provedLower, paths *chainPaths) {
	e := &res.Entries[i]
	e.AtLeast = depth
	steps := paths.compact(chain)
	if paths.deferred {
		// The bound's path, which this replaces, goes now (pathNodes
		// gives the chain's nodes until expandPending).
		paths.pending[i] = steps
		e.Path, e.Steps, e.PathNodes = nil, nil, nil
	} else {
		e.Path, e.Steps, e.PathNodes = paths.expand(steps)
	}
	for i := range e.Assumptions {
		// What the entry would be without an exclusion: the same kind of
		// depth, from the same chains with the excluded functions back.
		if x := e.Assumptions[i].WithoutExclusion; x != nil && !x.Bounded {
			x.AtLeast, _ = pl.plainLower().Bound(e.Node)
		}
	}
}

// provedLower shares the lower bounds of all entries (threads.Lower): with
// the user's exclusions, and without them, each made when first needed.
type provedLower struct {
	g           *callgraph.Graph
	lo          threads.LowerOptions
	with, plain *threads.Lower
}

func (pl *provedLower) lower() *threads.Lower {
	if pl.with == nil {
		pl.with = threads.NewLower(pl.g, pl.lo)
	}
	return pl.with
}

func (pl *provedLower) plainLower() *threads.Lower {
	if pl.plain == nil {
		plain := pl.lo
		plain.Excluded = nil
		pl.plain = threads.NewLower(pl.g, plain)
	}
	return pl.plain
}

// chainPaths turns lower-bound chains into printed paths that add up as
// a worst path does (docs/analyze.md): each step its frame, or what the
// caller kept at a tail call, and the last step its red zone.
//
// A chain is kept in two parts: what each function of it prints the same
// on every path (its name, frame, kind and source line: one template per
// function), and what is the path's own (depths, tail calls; 24 bytes a
// step). A large library's entries have a million steps (libLLVM-15), and
// written out they take 130 MB; deferred (Options.ResultOnly), they are
// written out only once the call graph, which they no longer need, is
// gone, so that the two are never in memory together.
type chainPaths struct {
	g     *callgraph.Graph
	lines *srcloc.Table
	lo    threads.LowerOptions
	// template[node]-1 indexes templates (0: none made yet).
	template  []int32
	templates []stepTemplate
	// deferred: pending holds the chains of the entries (by index) until
	// expandPending.
	deferred bool
	pending  [][]chainStep
	// buf is the lower bound's chain of the last entry, whose room the
	// next one reuses (threads.Lower.BoundInto); nodes is pathNodes'.
	buf   []threads.Step
	nodes []int
}

// stepTemplate is what a function's step of a path prints on every path.
type stepTemplate struct {
	name, kind     string
	frame, redZone int64
	file           string
	line           int
	// chainFrame is the chain's frame of the function (threads.Step.Frame:
	// the same on every chain), which the printed one replaces.
	chainFrame int64
}

// chainStep is what is a path's own in one step (threads.Step).
type chainStep struct {
	depth, kept int64
	node        int32
	tail        bool
}

// newChainPaths makes the paths of res's entries; deferred keeps them
// until expandPending.
func newChainPaths(res *Result, lo threads.LowerOptions, deferred bool) *chainPaths {
	p := &chainPaths{g: res.Graph, lines: res.Lines, lo: lo, deferred: deferred}
	if deferred {
		p.pending = make([][]chainStep, len(res.Entries))
	}
	return p
}

// compact keeps a chain as its steps' own parts, making the template of
// each function not seen before.
func (p *chainPaths) compact(chain []threads.Step) []chainStep {
	g := p.g
	if p.template == nil {
		p.template = make([]int32, len(g.Nodes))
	}
	out := make([]chainStep, len(chain))
	for i, st := range chain {
		out[i] = chainStep{depth: st.Depth, kept: st.Kept, node: int32(st.Node), tail: st.TailCall}
		if p.template[st.Node] != 0 {
			continue
		}
		n := g.Nodes[st.Node]
		t := stepTemplate{name: st.Name, kind: n.Frame.Kind.String(), frame: n.Frame.Size, redZone: n.Frame.RedZone, chainFrame: st.Frame}
		switch {
		case n.External || n.Hub:
			t.frame, t.redZone, t.kind = 0, 0, frame.Unknown.String()
		case p.lo.Overrides[st.Node] != 0:
			t.frame, t.redZone, t.kind = st.Frame, 0, frame.Static.String() // a declared frame
		}
		if n.Module == g.Modules[0] && n.Func != nil {
			if l, ok := p.lines.Func(n.Func.Addr); ok {
				t.file, t.line = l.File, l.Line
			}
		}
		p.templates = append(p.templates, t)
		p.template[st.Node] = int32(len(p.templates))
	}
	return out
}

// pathNodes are entry i's path nodes (Entry.PathNodes, which are the
// entry's own, given as have, unless its chain is deferred): a deferred
// chain's in a list reused by the next call.
func (p *chainPaths) pathNodes(i int, have []int) []int {
	if !p.deferred || p.pending[i] == nil {
		return have
	}
	p.nodes = p.nodes[:0]
	for _, st := range p.pending[i] {
		p.nodes = append(p.nodes, int(st.node))
	}
	return p.nodes
}

// expand writes a chain out as a path's names, steps and nodes.
func (p *chainPaths) expand(chain []chainStep) ([]string, []PathStep, []int) {
	names, steps, nodes := make([]string, len(chain)), make([]PathStep, len(chain)), make([]int, len(chain))
	for i, st := range chain {
		nodes[i] = int(st.node)
		t := &p.templates[p.template[st.node]-1]
		ps := PathStep{Function: t.name, Kind: t.kind, TailCall: st.tail, CallerKept: st.kept, Frame: t.frame, File: t.file, Line: t.line}
		if i == len(chain)-1 {
			ps.RedZone = t.redZone
		}
		ps.Depth = st.depth - t.chainFrame + ps.Frame + ps.RedZone
		names[i], steps[i] = t.name, ps
	}
	return names, steps, nodes
}

// expandPending writes out the deferred chains as the entries' paths. It
// reads neither the graph nor the options' closures (it lets go of them
// first): the graph may be gone.
func (p *chainPaths) expandPending(entries []Entry) {
	if !p.deferred {
		return
	}
	p.g, p.lines, p.lo = nil, nil, threads.LowerOptions{}
	// Each entry's path is its own (expand reads the templates alone):
	// chunks of entries on every core.
	const chunk = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), (len(p.pending)+chunk-1)/chunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= len(p.pending) {
					return
				}
				for i := start; i < min(start+chunk, len(p.pending)); i++ {
					if chain := p.pending[i]; chain != nil {
						entries[i].Path, entries[i].Steps, entries[i].PathNodes = p.expand(chain)
						p.pending[i] = nil
					}
				}
			}
		}()
	}
	wg.Wait()
}

// lowerOptions are the user's declarations as the lower bound takes them,
// and the error paths it leaves out: a call to a function that never
// returns (abort, __assert_fail, __stack_chk_fail, a program's own fatal
// error reporter) runs when the program is failing, not on a path a run
// takes to do its work. A program's start and end never return either but
// are every run's path: they are followed.
func lowerOptions(bo bound.Options, nr *noReturn) threads.LowerOptions {
	g := nr.g
	stop := func(id int) bool {
		n := g.Nodes[id]
		// (CName: every lifecycle name is a C name, so lifecycle[CName]
		// is lifecycle[Name] without demangling each node the walks
		// visit: 0.04 s of node's lower bounds.)
		if n.Hub || n.External || lifecycle[n.CName()] {
			return false
		}
		return nr.why(id) != ""
	}
	return threads.LowerOptions{Excluded: bo.Excluded, Overrides: bo.Overrides, Stop: stop}
}

// lifecycle are functions that never return and that every run goes
// through: the C library's start of main, the end of the program, a
// thread's end, and the non-local jumps that carry on elsewhere.
var lifecycle = map[string]bool{
	"__libc_start_main": true, "__libc_start_main_impl": true, "__libc_start_call_main": true,
	"exit": true, "_exit": true, "_Exit": true, "quick_exit": true, "pthread_exit": true,
	"longjmp": true, "_longjmp": true, "siglongjmp": true, "__longjmp_chk": true,
	"__libc_longjmp": true, "__libc_siglongjmp": true, "__longjmp": true, "__longjmp_cancel": true, "____longjmp_chk": true,
	"__cxa_throw": true, "__cxa_rethrow": true, "_Unwind_Resume": true,
}
