package callgraph

import (
	"slices"
	"sync"

	"github.com/stackscope/stackscope/internal/frame"
)

// The libraries' frames walked ahead, on a core the resolution leaves
// idle (issue 19). Build's resolution (resolvePending) runs on the
// analysis' goroutine alone, one node after the other; meanwhile it
// creates the nodes of the libraries' functions, one at a time as calls
// reach them (nodeFor) and then all of a library's at once when its
// address-taken set is first needed (completeModule: libLLVM-15's 14
// libraries, 59,000 functions). Those walks kept the resolution waiting.
// Here, once the resolution first reaches a library, a goroutine walks
// that library's functions in order, into a table the resolution takes
// its frames from; a function the resolution needs before the goroutine
// reaches it is walked by the resolution itself, as before.
//
// The frames are the same whoever walks them: a function's walk depends on
// its file alone (the per-file answers it asks, fileCalls, are behind a
// mutex and depend on the code alone), and the nodes are made in the same
// order by the resolution, which alone touches the graph. A library's
// frames go once all its functions have nodes; the frames of a library
// whose address-taken set the resolution did not need stay for the nodes
// made after Build (the glibc models'): libm's and libffi's, for
// libLLVM-15, 900 small functions of its libraries' 60,000.

// aheadState is where the walk of one function of a library stands.
type aheadState uint8

const (
	aheadFree    aheadState = iota // nobody walks it yet
	aheadWalking                   // the goroutine walks it
	aheadDone                      // the goroutine's frame is in the table
	aheadTaken                     // the resolution has (or makes) its node
)

// walkAhead is the table of one library's frames walked ahead.
type walkAhead struct {
	mu     sync.Mutex
	walked *sync.Cond // broadcast when a walk ends (under mu)
	state  []aheadState
	// frames holds the frames walked and not taken yet: a pointer each,
	// so that the table of a library the goroutine has not reached far
	// into is small (libz3's 42,933 frame structs were 15 MB, scanned by
	// every collection while the table lived).
	frames []*frame.Frame
	// left counts the functions not yet aheadTaken; at 0 the frames'
	// slice goes (it would otherwise stay as long as the graph).
	left int
}

// aheadWalker is the goroutine that walks the libraries ahead, and the
// libraries queued for it, in the order the resolution first reached them.
type aheadWalker struct {
	mu     sync.Mutex
	queue  []*Module
	wake   chan struct{} // a module was queued, or stop
	stop   bool
	done   chan any // the goroutine's panic, or nil, when it ends
	tables map[*Module]*walkAhead
}

// startWalkingAhead starts the goroutine; Build stops it with
// stopWalkingAhead when the resolution is over. Only when the graph follows
// the libraries, and there are two cores at least (with one, the goroutine
// would only take turns with the resolution).
func (g *Graph) startWalkingAhead(workers int) {
	if !walkAheadOn || !g.opts.FollowLibraries || workers < 2 {
		return
	}
	a := &aheadWalker{wake: make(chan struct{}, 1), done: make(chan any, 1), tables: map[*Module]*walkAhead{}}
	g.ahead = a
	go func() {
		defer func() { a.done <- recover() }()
		for {
			m, t, ok := a.next()
			if !ok {
				return
			}
			g.walkModuleAhead(a, m, t)
		}
	}()
}

// next waits for the next queued module, or stop.
func (a *aheadWalker) next() (*Module, *walkAhead, bool) {
	for {
		a.mu.Lock()
		if a.stop {
			a.mu.Unlock()
			return nil, nil, false
		}
		if len(a.queue) > 0 {
			m := a.queue[0]
			a.queue = a.queue[1:]
			t := a.tables[m]
			a.mu.Unlock()
			return m, t, true
		}
		a.mu.Unlock()
		<-a.wake
	}
}

func (a *aheadWalker) stopped() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stop
}

// walkModuleAhead walks m's functions that nobody has claimed, in order,
// until all are walked or the walker is stopped, then indexes its
// address-taken words. A walk that panics gives
// its function back (aheadFree) before the panic goes on: the resolution
// then walks it itself, as it would have without the goroutine.
func (g *Graph) walkModuleAhead(a *aheadWalker, m *Module, t *walkAhead) {
	for fi := range t.state {
		if a.stopped() {
			return
		}
		t.mu.Lock()
		if t.state[fi] != aheadFree {
			t.mu.Unlock()
			continue
		}
		t.state[fi] = aheadWalking
		t.mu.Unlock()
		fr := g.walkAheadOne(m, t, fi)
		t.mu.Lock()
		t.frames[fi], t.state[fi] = &fr, aheadDone
		t.walked.Broadcast()
		t.mu.Unlock()
	}
	// The words of its data that hold function addresses, which its
	// address-taken set reads next (takenHub; behind a sync.Once, the
	// same index: libLLVM-15's libraries', 0.1 s of the resolution).
	m.File.AddressTaken()
}

// walkAheadOne is analyzeFunction of function fi of m; a panic gives the
// function back before it goes on.
func (g *Graph) walkAheadOne(m *Module, t *walkAhead, fi int) frame.Frame {
	ok := false
	defer func() {
		if !ok {
			t.mu.Lock()
			t.state[fi] = aheadFree
			t.walked.Broadcast()
			t.mu.Unlock()
		}
	}()
	fr := g.analyzeFunction(m.File, &m.File.Functions[fi])
	ok = true
	return fr
}

// queueAhead queues library m for the goroutine, the first time the
// resolution reaches it. The functions that already have nodes are the
// resolution's. (On the analysis' goroutine: it reads m.nodes.)
func (g *Graph) queueAhead(m *Module) {
	a := g.ahead
	if a == nil || m == g.Modules[0] {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop || a.tables[m] != nil {
		return
	}
	n := len(m.File.Functions)
	t := &walkAhead{state: make([]aheadState, n), frames: make([]*frame.Frame, n)}
	t.walked = sync.NewCond(&t.mu)
	t.left = n
	for fi := range t.state {
		if m.nodes.has(fi) {
			t.state[fi] = aheadTaken
			t.left--
		}
	}
	a.tables[m] = t
	a.queue = append(a.queue, m)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// takeAhead claims functions fns of m for the resolution: it copies fns[i]'s
// frame to frameAt(i) when the goroutine walked it (or waits for the walk
// under way), and walk lists the indexes into fns the caller must walk
// itself.
func (g *Graph) takeAhead(m *Module, fns []int, frameAt func(i int) *frame.Frame) (walk []int) {
	a := g.ahead
	if a == nil {
		return nil
	}
	a.mu.Lock()
	t := a.tables[m]
	a.mu.Unlock()
	if t == nil {
		return nil
	}
	walk = make([]int, 0, len(fns))
	var waiting []int
	t.mu.Lock()
	// (Stopped, nothing is walked any more: stopWalkingAhead runs on the
	// resolution's goroutine, this one, so it cannot come while it waits.)
	for waitAhead && !a.stopped() && slices.ContainsFunc(t.state, func(s aheadState) bool { return s == aheadFree || s == aheadWalking }) {
		t.walked.Wait()
	}
	for i, fi := range fns {
		if t.state[fi] != aheadTaken {
			t.left--
		}
		switch t.state[fi] {
		case aheadDone:
			*frameAt(i) = *t.frames[fi]
			t.frames[fi] = nil
		case aheadWalking:
			waiting = append(waiting, i)
			continue
		default:
			walk = append(walk, i)
		}
		t.state[fi] = aheadTaken
	}
	for _, i := range waiting {
		fi := fns[i]
		for t.state[fi] == aheadWalking {
			t.walked.Wait()
		}
		if t.state[fi] == aheadDone {
			*frameAt(i) = *t.frames[fi]
			t.frames[fi] = nil
		} else {
			walk = append(walk, i) // (its walk panicked: the resolution's own walk panics too)
		}
		t.state[fi] = aheadTaken
	}
	if t.left == 0 {
		t.frames = nil // (no walk of the module is under way: none is left to walk)
	}
	t.mu.Unlock()
	g.aheadTook += len(fns) - len(walk)
	return walk
}

// waitAhead makes the resolution wait, before it takes frames of a
// library, until the goroutine has walked all the library's functions it
// has not taken: only in a test, which then knows the frames it compares
// are the goroutine's.
var waitAhead = false

// walkAheadOn is false only in a test, which compares the graph built
// with and without the walk ahead.
var walkAheadOn = true

// stopWalkingAhead stops the goroutine and waits for it; a panic of the
// goroutine is raised again here, on the analysis' goroutine. The frames
// walked and not taken yet stay for the nodes made after Build (a library
// the glibc models complete: libm, for node, whose 780 frames would be
// walked twice); no library is queued any more.
func (g *Graph) stopWalkingAhead() {
	a := g.ahead
	if a == nil {
		return
	}
	a.mu.Lock()
	a.stop = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	fault := <-a.done
	if fault != nil {
		panic(fault)
	}
}
