package analysis

import (
	"runtime"
	"slices"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/threads"
)

// The lower bounds' walks on every core (provedAtLeastAll,
// threads.Lower.BoundEach) begin with a serial prepass, which asks the
// never-returns questions in the order of the walks one after the other
// (libLLVM-15: a third of a second, with one core idle). It needs only
// which entries the walks are for, which the bound says as soon as it is
// made: so it runs on its own goroutine while RunFile writes out the
// entries (the "entries" phase), which reads neither the never-returns
// memo nor the lower bound's tables, and goes on beside the walks, which
// take each chunk of entries once the prepass has passed it
// (threads.Lower.StartPrepare); the walker's tables are made on that
// goroutine before, while the bound is made. The walks, and so the
// results, are those of a prepass done in place.

// earlyLower is the never-returns finder, the lower bound's options and
// walker of one analysis, with the walks' prepass started early.
type earlyLower struct {
	g   *callgraph.Graph
	bo  bound.Options
	nr  *noReturn
	lo  threads.LowerOptions
	pl  *provedLower
	ids []int
	// entries takes the ids to the goroutine; started is closed once the
	// prepass is ready to be walked beside (StartPrepare) or there is
	// none, done when the goroutine is over (all nil: none was started).
	entries chan []int
	started chan struct{}
	done    chan struct{}
}

// startLowerBounds makes the lower bound's options and, with walks (the
// entries' at_least will be lower bounds: provedAtLeastAll), starts
// making its walker (threads.NewLower) on another goroutine, which then
// waits for the entries (forEntries) to begin their prepass.
func startLowerBounds(g *callgraph.Graph, bo bound.Options, walks bool) *earlyLower {
	nr := newNoReturn(g, bo.Excluded)
	el := &earlyLower{g: g, bo: bo, nr: nr, lo: lowerOptions(bo, nr)}
	el.pl = &provedLower{g: g, lo: el.lo}
	if !walks || len(bo.Excluded) > 0 {
		return el // (with exclusions the walks go one after the other)
	}
	// bound.New, which runs beside the walker's making, resolves what
	// the graph still has pending first: done here, before, it leaves
	// the graph as bound.New would, and unchanged while both read it.
	g.Resolve()
	el.entries = make(chan []int, 1)
	el.started, el.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(el.done)
		run := func() {}
		defer func() { run() }() // (after started, whatever happens)
		defer close(el.started)
		l := el.pl.lower()
		if ids, ok := <-el.entries; ok {
			run = l.StartPrepare(ids, runtime.GOMAXPROCS(0))
		}
	}()
	return el
}

// forEntries gives the prepass the entries the walks will be for: those
// the bound leaves unbounded, with no part after an SP reset, in entry
// order.
func (el *earlyLower) forEntries(res *Result, specs []bound.Spec) {
	if el.entries == nil {
		return
	}
	if res.Bounds != nil {
		for _, s := range specs {
			if !res.Bounds.Bounded(s.Node) && !res.Bounds.ResetsAfter(s.Node) {
				el.ids = append(el.ids, s.Node)
			}
		}
		el.entries <- el.ids
	}
	close(el.entries)
}

// finish waits for the prepass to start and gives the never-returns
// finder, the options and the walker for the entries of res: the
// walker's BoundEach of those entries waits for the prepass where it
// must, and until it returns the finder is the prepass's. Should the
// entries to walk not be those the prepass was for, it waits for the
// prepass to end and gives new ones, whose questions have not been asked
// yet: the prepass's order would be another's.
func (el *earlyLower) finish(res *Result) (*noReturn, threads.LowerOptions, *provedLower) {
	if el.done == nil {
		return el.nr, el.lo, el.pl
	}
	<-el.started
	var ids []int
	for _, e := range res.Entries {
		if !e.Bounded && e.AfterReset == nil {
			ids = append(ids, e.Node)
		}
	}
	if slices.Equal(ids, el.ids) {
		return el.nr, el.lo, el.pl
	}
	<-el.done
	nr := newNoReturn(el.g, el.bo.Excluded)
	lo := lowerOptions(el.bo, nr)
	return nr, lo, &provedLower{g: el.g, lo: lo}
}
