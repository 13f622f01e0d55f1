package threads

import (
	"sort"

	"github.com/stackscope/stackscope/internal/isa"
)

// vkind says what a tracked register or stack slot holds.
type vkind uint8

const (
	vUnknown vkind = iota
	// vConst: the constant v (a number or an address).
	vConst
	// vStack: the address SP_entry + v (SP at the function's entry).
	vStack
	// vAlloc: the value an allocator (fn) returned for n bytes (n < 0:
	// not a constant), plus v.
	vAlloc
)

// value is what the propagation knows of a register or stack slot.
type value struct {
	k  vkind
	v  int64
	n  int64
	fn string
}

var unknown = value{}

func constant(v int64) value { return value{k: vConst, v: v} }

// add returns x + d.
func (x value) add(d int64) value {
	switch x.k {
	case vConst, vStack, vAlloc:
		x.v += d
		return x
	}
	return unknown
}

// state is the propagation state at one instruction.
type state struct {
	live    bool
	regs    [16]value
	spKnown bool
	sp      int64           // SP - SP_entry
	slots   map[int64]value // stack words by SP_entry-relative offset
}

func (s *state) clone() state {
	c := *s
	c.slots = make(map[int64]value, len(s.slots))
	for k, v := range s.slots {
		c.slots[k] = v
	}
	return c
}

// merge keeps what both states agree on.
func merge(a, b state) state {
	if !a.live {
		return b.clone()
	}
	if !b.live {
		return a
	}
	for i := range a.regs {
		if a.regs[i] != b.regs[i] {
			a.regs[i] = unknown
		}
	}
	if !b.spKnown || a.sp != b.sp {
		a.spKnown = false
	}
	for k, v := range a.slots {
		if w, ok := b.slots[k]; !ok || w != v {
			delete(a.slots, k)
		}
	}
	return a
}

// archInfo is what the propagation needs to know of the calling convention.
type archInfo struct {
	sp, fp   int8
	ret      int8
	args     []int8 // argument registers in order
	clobber  []int8 // caller-saved registers a call writes
	word     int64  // stack slot size
	thumb    bool
	stackArg int64 // offset from SP at the call of the first stack argument
}

var x86Info = archInfo{sp: 4, fp: 5, ret: 0, args: []int8{7, 6, 2, 1, 8, 9}, clobber: []int8{0, 1, 2, 6, 7, 8, 9, 10, 11}, word: 8}
var thumbInfo = archInfo{sp: 13, fp: 7, ret: 0, args: []int8{0, 1, 2, 3}, clobber: []int8{0, 1, 2, 3, 12, 14}, word: 4, thumb: true}

// memOp is a move between a register (or constant) and a stack word that
// the decoder's Effect does not describe; the arch-specific re-decoders
// find them.
type memOp struct {
	store, load bool
	base        int8 // sp or fp register
	disp        int64
	reg         int8 // register stored or loaded
	imm         value
	useImm      bool
	push        bool // store at the new SP (x86 push)
	pair        bool // strd/ldrd: reg2 goes to or comes from disp+4
	reg2        int8
	clobbers    []int8 // registers written besides Effect.Def
	unknownMem  bool   // a store to the stack we cannot place
}

// inst is one decoded instruction of the sweep.
type inst struct {
	addr uint64
	e    isa.Effect
	m    memOp
}

// callInfo describes a call inside the sweep: the callee's name ("" when
// unknown) and whether it is one of the sites asked about.
type callHook func(addr uint64, s *state) (ret value, ok bool)

// sweep runs the propagation over insts (in address order) and calls
// at(addr, state) at every address in want. onCall is asked for the
// return value of each call.
func sweep(ai archInfo, insts []inst, want map[uint64]bool, onCall func(addr uint64, s *state) value, at func(addr uint64, s *state)) {
	if len(insts) == 0 {
		return
	}
	index := make(map[uint64]int, len(insts))
	for i, in := range insts {
		index[in.addr] = i
	}
	// Loops: for each backward jump target, the registers and slots
	// written anywhere in the loop body lose their values at the head.
	type loop struct {
		regs  [16]bool
		slots bool
	}
	loops := map[int]*loop{}
	for i, in := range insts {
		if !in.e.HasTarget || (in.e.Flow != isa.FlowJump && in.e.Flow != isa.FlowCondJump) {
			continue
		}
		j, ok := index[in.e.Target]
		if !ok || j > i {
			continue
		}
		l := loops[j]
		if l == nil {
			l = &loop{}
			loops[j] = l
		}
		for k := j; k <= i; k++ {
			b := insts[k]
			if b.e.DefKind != isa.DefNone && b.e.DefReg >= 0 && b.e.DefReg < 16 {
				l.regs[b.e.DefReg] = true
			}
			for _, r := range b.m.clobbers {
				l.regs[r] = true
			}
			if b.m.load {
				l.regs[b.m.reg] = true
				if b.m.pair {
					l.regs[b.m.reg2] = true
				}
			}
			if b.e.Flow == isa.FlowCall || b.e.Flow == isa.FlowIndirectCall {
				for _, r := range ai.clobber {
					l.regs[r] = true
				}
			}
			if b.m.store || b.m.unknownMem || b.m.push {
				l.slots = true
			}
			if b.e.SP != isa.SPNone {
				l.regs[ai.sp] = true
			}
		}
	}
	pending := map[uint64]state{}
	cur := state{live: true, spKnown: true, slots: map[int64]value{}}
	cur.regs[ai.sp] = value{k: vStack}
	for i, in := range insts {
		if p, ok := pending[in.addr]; ok {
			cur = merge(cur, p)
			delete(pending, in.addr)
		}
		if l := loops[i]; l != nil && cur.live {
			for r, w := range l.regs {
				if w {
					cur.regs[r] = unknown
				}
			}
			if l.regs[ai.sp] {
				cur.spKnown = false
			}
			if l.slots {
				cur.slots = map[int64]value{}
			}
		}
		if !cur.live {
			continue
		}
		if want[in.addr] {
			at(in.addr, &cur)
		}
		step(ai, &cur, in, onCall)
		e := in.e
		switch e.Flow {
		case isa.FlowJump, isa.FlowCondJump:
			if e.HasTarget {
				if j, ok := index[e.Target]; ok && j > i {
					if p, ok := pending[e.Target]; ok {
						pending[e.Target] = merge(p, cur.clone())
					} else {
						pending[e.Target] = cur.clone()
					}
				}
			}
			if e.Flow == isa.FlowJump && e.CondNext == 0 {
				cur.live = false
			}
		case isa.FlowReturn, isa.FlowStop, isa.FlowIndirectJump:
			cur.live = false
		}
		if !cur.live {
			// Next live state comes from a pending jump; keep a fresh map.
			cur = state{slots: map[int64]value{}}
		}
	}
}

// step applies one instruction to s.
func step(ai archInfo, s *state, in inst, onCall func(addr uint64, s *state) value) {
	e := in.e
	m := in.m
	slotKey := func(base int8, disp int64) (int64, bool) {
		b := s.regs[base]
		if b.k != vStack {
			return 0, false
		}
		return b.v + disp, true
	}
	// Memory moves (before the SP changes: x86asm addresses are relative to
	// the SP before the instruction; push stores at the new SP, below).
	if m.store {
		if k, ok := slotKey(m.base, m.disp); ok {
			v := s.regs[m.reg]
			if m.useImm {
				v = m.imm
			}
			s.slots[k] = v
			if m.pair {
				s.slots[k+4] = s.regs[m.reg2]
			}
		} else if m.base != ai.fp && m.base != ai.sp {
			// a store through some other pointer: stack words may change
			// only when that pointer is a stack address we lost; keep them.
		} else {
			s.slots = map[int64]value{}
		}
	}
	if m.unknownMem {
		s.slots = map[int64]value{}
	}
	var loaded, loaded2 value
	if m.load {
		if k, ok := slotKey(m.base, m.disp); ok {
			loaded, loaded2 = s.slots[k], s.slots[k+4]
		}
	}
	pushed := unknown
	if m.push {
		pushed = s.regs[m.reg]
		if m.useImm {
			pushed = m.imm
		}
	}
	// Calls.
	if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
		var ret value
		if onCall != nil {
			ret = onCall(in.addr, s)
		}
		for _, r := range ai.clobber {
			s.regs[r] = unknown
		}
		s.regs[ai.ret] = ret
		return
	}
	// The register definition.
	if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 && e.DefReg != ai.sp {
		r := e.DefReg
		switch e.DefKind {
		case isa.DefConst, isa.DefAddr:
			v := e.DefValue
			if ai.thumb {
				v = int64(uint32(v))
			}
			s.regs[r] = constant(v)
		case isa.DefCopy:
			src := s.regs[e.DefSrc&15]
			if e.DefValue == 32 {
				if src.k == vConst && src.v >= 0 && src.v <= 0xFFFFFFFF {
					s.regs[r] = src
				} else {
					s.regs[r] = unknown
				}
			} else {
				s.regs[r] = src
			}
		case isa.DefAddImm:
			s.regs[r] = s.regs[e.DefSrc&15].add(e.DefValue)
			if ai.thumb && s.regs[r].k == vConst {
				s.regs[r].v = int64(uint32(s.regs[r].v))
			}
		case isa.DefShl:
			if c := s.regs[e.DefSrc&15]; c.k == vConst && e.DefValue >= 0 && e.DefValue < 64 {
				v := c.v << uint(e.DefValue)
				if ai.thumb {
					v = int64(uint32(v))
				}
				s.regs[r] = constant(v)
			} else {
				s.regs[r] = unknown
			}
		case isa.DefHigh16:
			if c := s.regs[r]; c.k == vConst {
				s.regs[r] = constant(c.v&0xFFFF | (e.DefValue&0xFFFF)<<16)
			} else {
				s.regs[r] = unknown
			}
		default:
			s.regs[r] = unknown
		}
	}
	if m.load {
		s.regs[m.reg] = loaded
		if m.pair {
			s.regs[m.reg2] = loaded2
		}
	}
	for _, r := range m.clobbers {
		s.regs[r] = unknown
	}
	// The frame pointer and the stack pointer.
	switch e.SP {
	case isa.SPNone:
	case isa.SPAdd:
		s.sp += e.SPDelta
	case isa.SPFromFP:
		if fp := s.regs[ai.fp]; fp.k == vStack {
			s.sp, s.spKnown = fp.v+e.SPDelta, true
		} else {
			s.spKnown = false
		}
	default:
		s.spKnown = false
	}
	if s.spKnown {
		s.regs[ai.sp] = value{k: vStack, v: s.sp}
	} else {
		s.regs[ai.sp] = unknown
	}
	if m.push && s.spKnown {
		s.slots[s.sp] = pushed
	}
	if e.SetsFP {
		if s.spKnown {
			s.regs[ai.fp] = value{k: vStack, v: s.sp + e.FPOffset}
		} else {
			s.regs[ai.fp] = unknown
		}
	} else if e.AdjustsFP {
		s.regs[ai.fp] = s.regs[ai.fp].add(e.FPDelta)
	} else if e.ClobbersFP && e.DefReg != ai.fp {
		s.regs[ai.fp] = unknown
	}
}

// arg returns argument i (0-based) at a call with state s.
func (ai archInfo) arg(s *state, i int) value {
	if i < len(ai.args) {
		return s.regs[ai.args[i]]
	}
	if !s.spKnown {
		return unknown
	}
	k := s.sp + ai.stackArg + int64(i-len(ai.args))*ai.word
	return s.slots[k]
}

// sortedAddrs returns the keys of m in order (deterministic output).
func sortedAddrs(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
