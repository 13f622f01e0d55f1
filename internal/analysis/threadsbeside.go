package analysis

import (
	"maps"
	"sync"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// Finding the threads beside the bounds. findThreads (threads.Find, and a
// bound of the threads' entries of its own) used to run after everything
// else, on one core, while the other idled: /usr/bin/node, 0.4 s of the
// "functions" phase. Once the graph is final (after the stack checks), it
// reads only the graph, the file and the source lines, none of which a
// later phase changes, so it runs on a goroutine of its own beside the
// entries' bound, the lower bounds and the function list, and its result
// is taken where it was made before (RunFile): the same threads, in the
// same place of the result.
//
// Except where it would change the graph or read what is not final yet;
// then it runs in its place, as before:
//   - threads.StartThread creates glibc's start_thread's node, and
//     resolves it, when the graph has none yet; threads.Find creates the
//     node of an entry that has none (each program function has one from
//     the build), and bound.New resolves what is pending;
//   - on RISC-V it reads the trap handlers' entries (riscvTrapContext),
//     made after the bound.

// threadsAhead is a findThreads under way on its own goroutine.
type threadsAhead = beside.Result[[]Thread]

// functionsAhead is the function list made on a goroutine of its own.
type functionsAhead = beside.Result[[]Function]

// startThreads starts findThreads on a goroutine when it will only read
// what no later phase of RunFile writes (see above), and returns nil when
// it has to run in its place. g is res.Graph, final.
func startThreads(res *Result, g *callgraph.Graph, opts Options, entries *entriesBound) *threadsAhead {
	if res.File.Arch.IsRISCV() || !threadsOnlyRead(g) {
		return nil
	}
	res.threadsBeside = true
	return beside.Start(func() []Thread { return findThreadsWith(res, opts, entries) })
}

// entriesBound is the entries' bound (Result.Bounds) as the threads found
// beside it see it: once made, the threads' entries take their bounds from
// it when it covers them as their own bound.New would
// (bound.Analysis.CoversAsOwn): on /usr/bin/node every thread entry and
// every call start_thread makes after one is among the entries' nodes,
// and a second bound of them was 0.19 s of CPU. Only beside: there the
// graph is final, as it was when the entries' bound was made (in place,
// findThreads may add start_thread's node and resolve it).
type entriesBound struct {
	opts bound.Options // the options it is made with
	done chan struct{} // closed once a is made, or will not be
	once sync.Once
	a    *bound.Analysis
}

func newEntriesBound(opts bound.Options) *entriesBound {
	return &entriesBound{opts: opts, done: make(chan struct{})}
}

// make makes the entries' bound and hands it to the threads' goroutine.
func (b *entriesBound) make(mk func() *bound.Analysis) *bound.Analysis {
	defer b.settle()
	b.a = mk()
	return b.a
}

// settle lets the threads' goroutine go on, with the bound or (a panic
// before it was made: RunFile's deferred call) without it.
func (b *entriesBound) settle() { b.once.Do(func() { close(b.done) }) }

// forRoots waits for the entries' bound and returns it when it gives each
// of roots what bound.New(g, roots, opts) would; else nil. (The options
// are compared, not only their source: the entries' were made before
// threadsOnlyRead's Resolve, which may add nodes they name.)
func (b *entriesBound) forRoots(opts bound.Options, roots []int) *bound.Analysis {
	if b == nil || !sameOptions(opts, b.opts) {
		return nil
	}
	<-b.done
	if b.a == nil || !b.a.CoversAsOwn(roots) {
		return nil
	}
	return b.a
}

// threadsOnlyRead says whether findThreads will only read g: nothing is
// pending, every function of the program has its node, and so has every
// library's start_thread (threads.StartThread takes one of them).
func threadsOnlyRead(g *callgraph.Graph) bool {
	g.Resolve() // (bound.New's first step, done here: then every later one only reads)
	if !g.Settled() {
		return false
	}
	main := g.Modules[0]
	for fi := range main.File.Functions {
		if !g.HasNode(main, fi) {
			return false
		}
	}
	for _, m := range g.Modules {
		if m == nil || m.File == nil {
			continue
		}
		fn, ok := m.File.Lookup("start_thread")
		if !ok {
			continue
		}
		if fi, ok := m.File.FunctionIndex(fn.Addr); ok && !g.HasNode(m, fi) {
			return false
		}
	}
	return true
}

// threadsAndFunctions gives the threads (found ahead, or now) and the list
// of functions (made ahead, listAhead, or now). With release
// (Options.ResultOnly), a list made now lets go of each node as it reads
// it (functions); while the threads are still being found, which read
// the nodes too, or once the list was made ahead, the nodes are let go
// after both: the same list, the graph's memory kept a little longer.
func threadsAndFunctions(res *Result, ahead *threadsAhead, listAhead *functionsAhead, opts Options) ([]Thread, []Function) {
	g, lines, release := res.Graph, res.Lines, opts.ResultOnly
	if listAhead == nil && (ahead == nil || ahead.Finished()) {
		if ahead != nil {
			return ahead.Wait(), functions(g, lines, release, res.namesOnDemand)
		}
		found := findThreads(res, opts)
		return found, functions(g, lines, release, res.namesOnDemand)
	}
	var list []Function
	if listAhead != nil {
		list = listAhead.Wait()
	} else {
		list = functions(g, lines, false, res.namesOnDemand)
	}
	found := ahead.Wait()
	if release {
		for _, n := range g.Nodes {
			releaseNode(n)
		}
	}
	return found, list
}

// startFunctions starts the function list beside actionable, which, like
// it, only reads the graph (libLLVM-15: 0.26 and 0.21 s, each on one
// core), when nothing can add a node to the graph before the list would
// have been made in its place: the threads are found beside (ahead:
// findThreads adds no node), and no firmware's interrupts are analysed.
// With ResultOnly the nodes are let go once the list is made, not as it
// reads them (threadsAndFunctions): the graph's memory is kept until
// then, below the peak of the build and the bound.
func startFunctions(res *Result, ahead *threadsAhead, interrupts bool) *functionsAhead {
	if ahead == nil || interrupts {
		return nil
	}
	return beside.Start(func() []Function { return functions(res.Graph, res.Lines, false, res.namesOnDemand) })
}

// fewEntryPoints is the most entries for which the function list starts
// beside the lower bounds (fewEntries).
const fewEntryPoints = 16

// fewEntries says whether the function list starts once the entries are
// written out, beside the lower bounds, rather than after them, beside
// actionable. With a program's few entries (main, _start) there is one
// walk of the lower bounds, on one core, and actionable takes no time:
// the list made after the walk ran alone at the end while the other core
// idled, and so did the walk (/usr/bin/node). With many (a library's
// exports: libLLVM-15's 28,000) the lower bounds' walks keep both cores
// busy, and actionable takes one core for as long as the list takes the
// other: the list stays beside actionable. Both places read the same
// final graph, so the list is the same.
func fewEntries(specs []bound.Spec) bool { return len(specs) <= fewEntryPoints }

// sameOptions says whether two bounds' options are equal.
func sameOptions(x, y bound.Options) bool {
	return maps.Equal(x.Overrides, y.Overrides) && maps.Equal(x.Depths, y.Depths) && maps.Equal(x.Excluded, y.Excluded)
}
