package threads

import (
	"slices"
	"sync"
	"sync/atomic"
)

// BoundEach on several cores. A large library's entries each walk the
// functions that reach a cycle again (libLLVM-15: 36,000 walks, a second
// and a half on one core); the walks of different entries are
// independent but for two things they share, which a prepass settles
// first, in the order the walks one after the other would:
//
//   - Stop's answers: Stop may answer from a memo whose content depends
//     on the order it is asked in (analysis.noReturn, with cycles of tail
//     calls). The walks one after the other first ask about each function
//     in the order of one depth-first walk from every entry in turn that
//     never enters a function twice (a function walked again asks about
//     nothing new: all its calls were asked about on its first walk, and
//     they lead only to functions walked then too), which is the
//     prepass.
//   - the values of the functions that reach no cycle (clean), which the
//     prepass makes as the first walk of each does.
//
// Each worker then walks with its own colours, values and chosen edges,
// reading the answers, the clean values and the followed edges without
// writing them; the chains come back in the order of the entries.

// lowerChunk is how many entries a worker walks at a time.
const lowerChunk = 32

// BoundEach calls each with the lower bound of every node of ids
// (Bound), in the order of ids, the k-th call for ids[k]; the chain is
// valid during the call only. With workers > 1 the walks run on that
// many goroutines (each within each's goroutine, which is the caller's);
// the results, and Stop's order of questions, are those of the walks one
// after the other. It returns how many of the walks the workers did.
func (l *Lower) BoundEach(ids []int, workers int, each func(k int, depth int64, chain []Step)) (parallel int) {
	if l == nil || l.g == nil {
		for k := range ids {
			each(k, 0, nil)
		}
		return 0
	}
	pre := l.pre
	l.pre = nil
	inParallel := l.walksInParallel(ids, workers)
	if pre != nil && (!inParallel || !slices.Equal(pre.ids, ids)) {
		<-pre.done // another's prepass: over before l is walked
		pre = nil
	}
	if !inParallel {
		var buf []Step
		for k, id := range ids {
			var d int64
			d, buf = l.BoundInto(id, buf)
			each(k, d, buf)
		}
		return 0
	}
	if pre == nil {
		pre = l.newPrepass(ids)
		pre.run()
	}
	return l.boundParallel(pre, workers, each)
}

// walksInParallel says whether BoundEach(ids, workers) walks on the
// workers (after a prepass) or one entry after the other.
func (l *Lower) walksInParallel(ids []int, workers int) bool {
	if workers < 2 || len(ids) <= lowerChunk || l.clean == nil {
		return false
	}
	for _, id := range ids {
		if id < 0 || id >= len(l.g.Nodes) {
			return false // (BoundInto's answer for it: none)
		}
	}
	return true
}

// Prepare does now the serial part of a BoundEach(ids, workers) that
// follows (its prepass, when the walks go on the workers), so that a
// caller can run it beside other work of its own (on another goroutine:
// it asks Stop, and l must not be used meanwhile). Only the next
// BoundEach of the same ids skips its prepass; the results are
// BoundEach's alone.
func (l *Lower) Prepare(ids []int, workers int) {
	l.StartPrepare(ids, workers)()
}

// StartPrepare is Prepare in two steps: it readies the prepass and
// returns it, to be run (on a goroutine of its own) beside the
// BoundEach(ids, workers) that follows; that BoundEach may be called on
// another goroutine as soon as StartPrepare has returned, and its
// workers walk each chunk of entries as soon as the prepass has passed
// it, instead of waiting for the whole prepass (libLLVM-15: a fifth of a
// second with one core idle). Until that BoundEach, l is run's alone.
func (l *Lower) StartPrepare(ids []int, workers int) (run func()) {
	if l == nil || l.g == nil || !l.walksInParallel(ids, workers) {
		return func() {}
	}
	pre := l.newPrepass(ids)
	l.pre = pre
	return pre.run
}

// prepassRun is a prepass under way: it says how far it has gone, chunk
// by chunk of lowerChunk entries, and what the workers read of it then.
//
// The prepass writes the walker's shared tables (stops, shared, first
// and count, the clean functions' values and edges) only for the
// functions it walks, each once, and the walks of a chunk's entries read
// only the functions the prepass walked for those entries and the ones
// before: once ready[i] is closed, chunk i's walks read only what is
// final, while the prepass goes on writing other functions' entries.
// The followed edges (edges) and the list of clean functions
// (cleanDone) grow by append, which never writes below their length:
// each chunk gets their slice as it was when the chunk was passed.
type prepassRun struct {
	l     *Lower
	ids   []int
	ready []chan struct{}
	snaps []prepassSnap
	// done is closed when the prepass is over (Stop asked everything).
	done chan struct{}
}

// prepassSnap is what a worker reads of the prepass after a chunk.
type prepassSnap struct {
	edges     [][]followedEdge // (the arrays' headers copied: the prepass appends to the last one)
	cleanDone []int32
}

func (l *Lower) newPrepass(ids []int) *prepassRun {
	chunks := (len(ids) + lowerChunk - 1) / lowerChunk
	p := &prepassRun{l: l, ids: slices.Clone(ids), ready: make([]chan struct{}, chunks), snaps: make([]prepassSnap, chunks), done: make(chan struct{})}
	for i := range p.ready {
		p.ready[i] = make(chan struct{})
	}
	return p
}

// run asks Stop about every function the walks of ids reach, in their
// order, makes the followed edges of those that reach a cycle, and the
// values of the clean ones; one walk for all the entries: a function is
// entered once.
func (p *prepassRun) run() {
	l := p.l
	if l.base >= ^uint32(0)-4 {
		clear(l.mark)
		l.base = 0
	}
	l.base += 2
	for k, id := range p.ids {
		if l.color(id) == white {
			l.previsit(id)
		}
		if (k+1)%lowerChunk == 0 || k+1 == len(p.ids) {
			i := k / lowerChunk
			p.snaps[i] = prepassSnap{edges: slices.Clone(l.edges), cleanDone: l.cleanDone}
			close(p.ready[i])
		}
	}
	close(p.done)
}

// previsit is visit of the prepass.
func (l *Lower) previsit(v int) {
	if l.clean[v] {
		l.visit(v) // its value and edge, final (shared)
		return
	}
	l.mark[v] = l.base + 1
	if _, leaf := l.opts.Overrides[v]; !leaf {
		for _, e := range l.compactEdges(v) {
			to := int(e.to)
			if l.stop(to) {
				continue
			}
			if l.color(to) == white {
				l.previsit(to)
			}
		}
	}
	l.mark[v] = l.base + 2
}

// workerCopy is a walker beside l and its prepass: its own colours,
// values and chosen edges, and l's answers, clean values (copied as the
// prepass makes them: sync) and followed edges, read only.
func (l *Lower) workerCopy() *Lower {
	n := len(l.g.Nodes)
	return &Lower{g: l.g, opts: l.opts, ra: l.ra, mark: make([]uint32, n), val: make([]int64, n), next: make([]int32, n),
		clean: l.clean, shared: l.shared, stops: l.stops, first: l.first, count: l.count, worker: true}
}

// sync takes into worker w what the prepass of p had made when it passed
// chunk i: the followed edges, and the clean functions' values and edges
// (copied: w's own tables hold the walk's values of the others).
func (w *Lower) sync(p *prepassRun, i int) {
	s := p.snaps[i]
	w.edges = s.edges
	from := p.l
	for _, v := range s.cleanDone[w.synced:] {
		w.val[v], w.next[v] = from.val[v], from.next[v]
	}
	w.synced = len(s.cleanDone)
}

// lowerResults are a chunk's walks: entry j's chain is
// steps[ends[j-1]:ends[j]]; missed, that a walk found a function the
// prepass did not ask about.
type lowerResults struct {
	depths []int64
	ends   []int
	steps  []Step
	missed []bool
}

func (l *Lower) boundParallel(pre *prepassRun, workers int, each func(k int, depth int64, chain []Step)) (parallel int) {
	ids := pre.ids
	chunks := len(pre.ready)
	done := make([]chan *lowerResults, chunks)
	for i := range done {
		done[i] = make(chan *lowerResults, 1)
	}
	// Results lent to the workers bound how far they run ahead; a
	// worker takes one before its chunk, so the chunk waited for has one.
	free := make(chan *lowerResults, 2*workers)
	for range 2 * workers {
		free <- &lowerResults{}
	}
	// cancel stops the workers (a walk that missed an answer).
	cancel := make(chan struct{})
	// The workers take the next chunk from a shared counter (a channel
	// fed by a goroutine of its own left the workers parked until the
	// feeder got a core, some 450 times on libLLVM).
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		w := l.workerCopy()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var r *lowerResults
				select {
				case r = <-free:
				case <-cancel:
					return
				}
				i := int(next.Add(1) - 1)
				if i >= chunks {
					return
				}
				// Once the prepass has passed the chunk's entries.
				select {
				case <-pre.ready[i]:
				case <-cancel:
					return
				}
				w.sync(pre, i)
				w.walkChunk(r, ids[i*lowerChunk:min((i+1)*lowerChunk, len(ids))])
				done[i] <- r // (room for one: never waits)
			}
		}()
	}
	for i, c := range done {
		r := <-c
		start := 0
		for j, d := range r.depths {
			k := i*lowerChunk + j
			if r.missed[j] {
				// Never seen (the prepass reaches what the walks do):
				// the workers stop, and once the prepass is over the
				// rest is walked here, one entry after the other.
				close(cancel)
				wg.Wait()
				<-pre.done
				var buf []Step
				for ; k < len(ids); k++ {
					d, buf = l.BoundInto(ids[k], buf)
					each(k, d, buf)
				}
				return parallel
			}
			chain := r.steps[start:r.ends[j]]
			start = r.ends[j]
			for s := range chain {
				chain[s].Name = l.qualifiedName(chain[s].Node)
			}
			each(k, d, chain)
			parallel++
		}
		free <- r
	}
	wg.Wait()
	<-pre.done // (closed with the last chunk's ready: Stop's answers are the caller's again)
	return parallel
}

// walkChunk walks the entries ids into r.
func (l *Lower) walkChunk(r *lowerResults, ids []int) {
	r.depths, r.ends, r.steps, r.missed = r.depths[:0], r.ends[:0], r.steps[:0], r.missed[:0]
	for _, id := range ids {
		l.missed = 0
		var d int64
		d, r.steps = l.bound(id, r.steps)
		r.depths = append(r.depths, d)
		r.ends = append(r.ends, len(r.steps))
		r.missed = append(r.missed, l.missed > 0)
	}
}
