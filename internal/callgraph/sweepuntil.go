package callgraph

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// Sweeps that need not finish. Several models ask a sweep of a module's
// whole code a question whose answer is settled before the sweep ends: a
// byte that does not decode makes escapingImports keep every name of the
// module (its answer for any incomplete sweep), and one foreign operand
// settles scanStores and tsdKeysConfined. node's code does not decode in
// full (OpenSSL's assembly keeps its tables in .text, 66% of the way in):
// its GOT sweep decoded 26 MiB, 0.5 s of CPU, to give the answer the
// first undecoded byte gives (issue 19). Such a sweep ends as soon as the
// answer is settled, and sweeps first the code around the largest
// stretches no function covers, where data in code lies, so that an
// incomplete sweep learns it early. The answers are the same: only the
// order of the parts and how much of the code is decoded change.

// sweepHalt ends a parallel sweep (sweepFlowUntil) early. A visit calls
// end when its findings settle the caller's answer; onIncomplete says
// that an incomplete sweep settles it too (a byte that does not decode,
// an instruction the visit refuses). A sweep that ended is incomplete:
// the caller must not read completeness, nor findings beyond the one
// that ended it, from it.
type sweepHalt struct {
	ended        atomic.Bool
	onIncomplete bool
}

// end ends the sweep.
func (h *sweepHalt) end() {
	if h != nil {
		h.ended.Store(true)
	}
}

// incomplete notes that the sweep is incomplete: it ends when that
// settles the answer.
func (h *sweepHalt) incomplete() {
	if h != nil && h.onIncomplete {
		h.ended.Store(true)
	}
}

// sweepFlowUntil is sweepFlowParallel ending early on halt (when not
// nil): it returns false when the sweep ended. With a halt, the code
// around the largest gaps between functions is swept first (gapsFirst).
func (g *Graph) sweepFlowUntil(m *Module, workers int, halt *sweepHalt, visitFor func(w int) func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	plan := g.planSweep(m, workers)
	order := make([]int, len(plan.parts))
	for i := range order {
		order[i] = i
	}
	if halt != nil {
		plan, order = gapsFirst(m, plan, workers)
	}
	workers = max(min(workers, len(plan.parts)), 1)
	ok := make([]bool, len(plan.parts))
	var wg sync.WaitGroup
	next := make(chan int, len(plan.parts))
	for _, i := range order {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			visit := visitFor(w)
			var e isa.Effect
			for i := range next {
				p := plan.parts[i]
				ok[i] = plan.sections[p.sec].sweep(g.Decoder, isa.DecodeSweep, p.from, p.to, visit, &e, halt)
			}
		}()
	}
	wg.Wait()
	complete := plan.complete && (halt == nil || !halt.ended.Load())
	for _, o := range ok {
		complete = complete && o
	}
	return complete
}

// gapsFirst cuts plan's parts again around the largest stretches of
// code that no function's symbol covers (from the start of the function
// whose decode runs into one to the start after it), and returns the
// new plan with the order to sweep its parts in: those around a gap
// first, the largest gap first, then the others in order. Each part
// still starts at a function's start (or its section's), so it decodes
// what the whole sweep decodes there.
func gapsFirst(m *Module, plan sweepPlan, workers int) (sweepPlan, []int) {
	type gap struct {
		sec    int
		lo, hi int // offsets in the section
	}
	// The largest gaps, a few per worker; padding between functions is
	// a few bytes of no-ops, which decode.
	const minGap = 64
	var gaps []gap
	fns := m.File.Functions // sorted by address
	for si, s := range plan.sections {
		end := uint64(len(s.code))
		i, _ := slices.BinarySearchFunc(fns, s.addr, func(fn binfile.Function, a uint64) int { return cmp.Compare(fn.Addr, a) })
		covered := 0
		for ; i < len(fns) && fns[i].Addr < s.addr+end; i++ {
			fn := &fns[i]
			if lo := int(fn.Addr - s.addr); lo-covered >= minGap {
				gaps = append(gaps, gap{si, covered, lo})
			}
			covered = max(covered, int(min(fn.Addr-s.addr+fn.Size, end)))
		}
		if len(s.code)-covered >= minGap {
			gaps = append(gaps, gap{si, covered, len(s.code)})
		}
	}
	slices.SortStableFunc(gaps, func(a, b gap) int { return cmp.Compare(b.hi-b.lo, a.hi-a.lo) })
	gaps = gaps[:min(len(gaps), 4*workers)]
	if len(gaps) == 0 {
		order := make([]int, len(plan.parts))
		for i := range order {
			order[i] = i
		}
		return plan, order
	}
	// The cuts: the plan's, and around each gap.
	cuts := make([][]int, len(plan.sections))
	for _, p := range plan.parts {
		cuts[p.sec] = append(cuts[p.sec], p.from, p.to)
	}
	for _, gp := range gaps {
		s := plan.sections[gp.sec]
		from := 0
		if i, _ := slices.BinarySearch(s.starts, s.addr+uint64(gp.lo)+1); i > 0 {
			from = int(s.starts[i-1] - s.addr) // the last start at or before the gap
		}
		cuts[gp.sec] = append(cuts[gp.sec], from, gp.hi)
	}
	out := sweepPlan{sections: plan.sections, complete: plan.complete}
	for si := range plan.sections {
		c := cuts[si]
		slices.Sort(c)
		c = slices.Compact(c)
		for k := 0; k+1 < len(c); k++ {
			out.parts = append(out.parts, sweepPart{si, c[k], c[k+1]})
		}
	}
	// A part's rank: the size of the largest gap it overlaps.
	rank := make([]int, len(out.parts))
	for i, p := range out.parts {
		for _, gp := range gaps {
			if gp.sec == p.sec && gp.lo < p.to && gp.hi > p.from {
				rank[i] = max(rank[i], gp.hi-gp.lo)
			}
		}
	}
	order := make([]int, len(out.parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rank[b], rank[a]) })
	return out, order
}
