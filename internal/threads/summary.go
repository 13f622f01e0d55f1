package threads

import "sort"

// summary is what a function certainly stores through its pointer
// parameters before it returns, on every path: the words a caller gets
// back through out-parameters (FreeRTOS's vApplicationGetIdleTaskMemory
// and vApplicationGetTimerTaskMemory hand a task's stack buffer and size
// back that way).
type summary struct {
	writes map[outKey]value
	// touched are the words it may write through its parameters on some
	// path; partial says it may write elsewhere too (see writeFacts).
	touched map[outKey]bool
	partial bool
}

type outWrite struct {
	key outKey
	val value
}

// sortedWrites returns the writes in a fixed order.
func (s *summary) sortedWrites() []outWrite {
	out := make([]outWrite, 0, len(s.writes))
	for k, v := range s.writes {
		out = append(out, outWrite{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].key, out[j].key
		return a.param < b.param || a.param == b.param && a.off < b.off
	})
	return out
}

// summarize sweeps a function with its parameters symbolic and returns
// its summary, or nil when some of its code is out of sight: an
// instruction that did not decode or that the sweep never reached, an
// indirect jump, a jump or tail call out of the function, or no return.
// A summary may be empty, which still says something: the caller's
// words it does not list are unknown after the call (see callEffects).
func summarize(ai archInfo, insts []inst) *summary {
	var exits []map[outKey]value
	lostControl := false
	visited := map[uint64]bool{}
	h := hooks{
		want:   map[uint64]bool{},
		onExit: func(s *state) { exits = append(exits, copyOut(s.out)) },
		lost:   func(uint64) { lostControl = true },
	}
	for _, in := range insts {
		h.want[in.addr] = true
	}
	h.at = func(addr uint64, _ *state) { visited[addr] = true }
	facts := &writeFacts{touched: map[outKey]bool{}}
	sweep(ai, insts, h, func(s *state) {
		for i, r := range ai.args {
			s.regs[r] = value{k: vParam, n: int64(i)}
		}
		s.out = map[outKey]value{}
		s.facts = facts
	})
	if lostControl || len(exits) == 0 {
		return nil
	}
	for _, in := range insts {
		if in.bad || !visited[in.addr] && !in.e.Nop {
			return nil
		}
	}
	all := exits[0]
	for _, e := range exits[1:] {
		all = agree(all, e)
	}
	return &summary{writes: all, touched: facts.touched, partial: facts.partial}
}

func copyOut(m map[outKey]value) map[outKey]value {
	c := make(map[outKey]value, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// noteOutWrite records a memory write while summarizing. Through a
// parameter at a known offset: the word's new value (unknown unless it is
// a modelled word store). To the function's own stack or to a fixed
// address (a global): nothing a caller's stack word can see. Anywhere
// else (through a pointer of unknown origin, or a parameter at an offset
// that is not known): every word recorded so far may be overwritten.
func noteOutWrite(ai archInfo, s *state, in inst) {
	w := in.m.wr
	base := unknown
	if w.base >= 0 && w.base < 16 {
		base = s.regs[w.base]
	}
	switch {
	case w.fixed || base.k == vStack || base.k == vConst && w.hasDisp:
		return
	case base.k == vParam && w.hasDisp:
		off := base.v + w.disp
		if wordStore(ai, in.m, w) {
			v := s.regs[in.m.reg]
			if in.m.useImm {
				v = in.m.imm
			}
			s.out[outKey{base.n, off}] = v
			s.facts.touched[outKey{base.n, off}] = true
			if in.m.pair {
				s.out[outKey{base.n, off + in.m.pairStride()}] = s.regs[in.m.reg2]
				s.facts.touched[outKey{base.n, off + in.m.pairStride()}] = true
			}
			return
		}
		size := w.size
		if size <= 0 {
			size = 16
		}
		// Every word the write touches: the ones at the aligned offsets
		// and, for a write that straddles, the ones at the write's offset.
		for a := off &^ (ai.word - 1); a < off+size; a += ai.word {
			s.out[outKey{base.n, a}] = unknown
			s.facts.touched[outKey{base.n, a}] = true
		}
		for a := off; a < off+size; a += ai.word {
			s.out[outKey{base.n, a}] = unknown
			s.facts.touched[outKey{base.n, a}] = true
		}
	default:
		s.out = map[outKey]value{}
		s.facts.partial = true
	}
}

// wordStore reports a store whose value the propagation knows as a whole
// word (or strd's two) at the write's own offset: a byte or halfword
// store, a register offset or several registers only touch words.
func wordStore(ai archInfo, m memOp, w memWrite) bool {
	if !m.store || m.hasIndex || m.multi || m.disp != w.disp {
		return false
	}
	if m.width != 0 && m.width != ai.word {
		return false
	}
	return w.size == ai.word || m.pair && w.size == 2*ai.word
}
