package frame

// The walk asks Input.Thunk of nearly every call and of every jump out
// of the function, Input.NoReturn and Input.Continue of most calls. The
// answers are the caller's (callgraph's fileCalls: maps behind locks
// shared by every worker), and asking cost more than the walk's own
// step at a call: node's walk spent 0.035 s of CPU a run on the locks
// and the maps' cache misses of Thunk alone (9 CPU profiles), the same
// callees (operator new, memcpy, V8's helpers) asked again and again. A
// caller whose answers depend only on the address says so with
// Input.CalleeKey, and each pooled scratch (so, in effect, each worker)
// keeps the answers it was given in calleeCache: a small direct-mapped
// table, in the worker's own cache lines, with no lock.

// calleeBits sets calleeCache's size: 4096 slots of 16 bytes (64 KiB,
// in a core's L2) answer 90% of the Thunk questions of node's walk
// (16,384 slots: 91%; 1,024: 88%).
const (
	calleeBits  = 12
	calleeSlots = 1 << calleeBits
)

// calleeCache holds a worker's Thunk and NoReturn answers for the
// inputs with one CalleeKey.
type calleeCache struct {
	// key is the CalleeKey the slots of generation gen hold answers
	// for. A walk with another key starts a new generation: the older
	// slots no longer match.
	key   any
	gen   uint32
	slots [calleeSlots]calleeSlot
}

// calleeSlot is one address's answers (16 bytes).
type calleeSlot struct {
	addr  uint64
	gen   uint32
	thunk Thunk
	known uint8 // calleeThunk, calleeThunkOK, calleeNever, calleeNeverYes, calleeNoContinue
}

// Bits of calleeSlot.known.
const (
	calleeThunk    = 1 << iota // thunk and calleeThunkOK are Thunk's answer
	calleeThunkOK              // Thunk's ok
	calleeNever                // calleeNeverYes is NoReturn's answer
	calleeNeverYes             // NoReturn's answer
	// calleeNoContinue: Continue answers no (a function's entry: most
	// call targets, asked at each call by localCall).
	calleeNoContinue
)

// use makes c hold the answers for key (nil: no caching).
func (c *calleeCache) use(key any) {
	if key == nil || key == c.key {
		return
	}
	c.key = key
	c.gen++
	if c.gen == 0 {
		// (wrapped: the zero generation is that of slots never filled)
		c.slots = [calleeSlots]calleeSlot{}
		c.gen = 1
	}
}

// slot is addr's slot, and whether it holds addr's answers (some).
func (c *calleeCache) slot(addr uint64) (*calleeSlot, bool) {
	s := &c.slots[(addr*0x9e3779b97f4a7c15)>>(64-calleeBits)]
	return s, s.addr == addr && s.gen == c.gen
}

// thunk is w.in.Thunk(addr), from the cache when the input has a key.
func (w *walker) thunk(addr uint64) (Thunk, bool) {
	c := w.callees
	if c == nil {
		return w.in.Thunk(addr)
	}
	s, ok := c.slot(addr)
	if ok && s.known&calleeThunk != 0 {
		return s.thunk, s.known&calleeThunkOK != 0
	}
	t, tok := w.in.Thunk(addr)
	if !ok {
		*s = calleeSlot{addr: addr, gen: c.gen}
	}
	s.thunk = t
	s.known |= calleeThunk
	if tok {
		s.known |= calleeThunkOK
	}
	return t, tok
}

// noReturn is w.in.NoReturn(addr), from the cache when the input has a
// key.
func (w *walker) noReturn(addr uint64) bool {
	c := w.callees
	if c == nil {
		return w.in.NoReturn(addr)
	}
	s, ok := c.slot(addr)
	if ok && s.known&calleeNever != 0 {
		return s.known&calleeNeverYes != 0
	}
	v := w.in.NoReturn(addr)
	if !ok {
		*s = calleeSlot{addr: addr, gen: c.gen}
	}
	s.known |= calleeNever
	if v {
		s.known |= calleeNeverYes
	}
	return v
}

// continueAt is w.in.Continue(addr), its noes from the cache when the
// input has a key (a yes gives code, which the cache does not keep).
func (w *walker) continueAt(addr uint64) ([]byte, bool) {
	c := w.callees
	if c == nil {
		return w.in.Continue(addr)
	}
	s, ok := c.slot(addr)
	if ok && s.known&calleeNoContinue != 0 {
		return nil, false
	}
	code, yes := w.in.Continue(addr)
	if !yes || len(code) == 0 {
		if !ok {
			*s = calleeSlot{addr: addr, gen: c.gen}
		}
		s.known |= calleeNoContinue
	}
	return code, yes
}
