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
// memo nor the lower bound's tables. The walks, and so the results, are
// those of a prepass done in place.

// earlyLower is the never-returns finder, the lower bound's options and
// walker of one analysis, with the walks' prepass started early.
type earlyLower struct {
	g   *callgraph.Graph
	bo  bound.Options
	nr  *noReturn
	lo  threads.LowerOptions
	pl  *provedLower
	ids []int
	// done is closed when the prepass is over (nil: none was started).
	done chan struct{}
}

// startLowerBounds makes the lower bound's options and walker, and with
// walks (the entries' at_least will be lower bounds: provedAtLeastAll),
// starts their prepass for the entries that will be walked: those the
// bound leaves unbounded, with no part after an SP reset, in entry order.
func startLowerBounds(res *Result, specs []bound.Spec, bo bound.Options, walks bool) *earlyLower {
	g := res.Graph
	nr := newNoReturn(g, bo.Excluded)
	el := &earlyLower{g: g, bo: bo, nr: nr, lo: lowerOptions(bo, nr)}
	el.pl = &provedLower{g: g, lo: el.lo}
	if !walks || len(bo.Excluded) > 0 || res.Bounds == nil {
		return el // (with exclusions the walks go one after the other)
	}
	for _, s := range specs {
		if !res.Bounds.Bounded(s.Node) && !res.Bounds.ResetsAfter(s.Node) {
			el.ids = append(el.ids, s.Node)
		}
	}
	el.done = make(chan struct{})
	go func() {
		defer close(el.done)
		el.pl.lower().Prepare(el.ids, runtime.GOMAXPROCS(0))
	}()
	return el
}

// finish waits for the prepass and gives the never-returns finder, the
// options and the walker for the entries of res. Should the entries to
// walk not be those the prepass was for, it gives new ones, whose
// questions have not been asked yet: the prepass's order would be
// another's.
func (el *earlyLower) finish(res *Result) (*noReturn, threads.LowerOptions, *provedLower) {
	if el.done == nil {
		return el.nr, el.lo, el.pl
	}
	<-el.done
	var ids []int
	for _, e := range res.Entries {
		if !e.Bounded && e.AfterReset == nil {
			ids = append(ids, e.Node)
		}
	}
	if slices.Equal(ids, el.ids) {
		return el.nr, el.lo, el.pl
	}
	nr := newNoReturn(el.g, el.bo.Excluded)
	lo := lowerOptions(el.bo, nr)
	return nr, lo, &provedLower{g: el.g, lo: lo}
}
