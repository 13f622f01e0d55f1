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
	// vMem: the n-byte value read from the constant address v, except
	// the bits in mask, which are those of bits: a device register being
	// read, modified and written back. A call or a store that may write
	// the address makes it unknown.
	vMem
	// vNear: v plus something not known (an index, a loop's pointer).
	// When v is an address of the Cortex-M System Control Space, a store
	// through it may write any register there.
	vNear
)

// value is what the propagation knows of a register or stack slot.
type value struct {
	k  vkind
	v  int64
	n  int64
	fn string
	// mask and bits qualify vMem; sh is how far its unchanged bits were
	// shifted left (they are in place only at 0).
	mask, bits uint32
	sh         int8
	// w is set on a stack slot written by a w-byte store (1 or 2).
	w int8
}

var unknown = value{}

func constant(v int64) value { return value{k: vConst, v: v} }

// add returns x + d.
func (x value) add(d int64) value {
	switch x.k {
	case vConst, vStack, vAlloc:
		x.v += d
		return x
	case vNear:
		x.v = int64(uint32(x.v + d))
		return x
	case vUnknown:
		// something plus a constant: kept as vNear, so that an index
		// plus 0xE000E400 (GCC adds the NVIC's address as an immediate)
		// is seen as an address of the System Control Space.
		return value{k: vNear, v: int64(uint32(d))}
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
		a.regs[i] = mergeValue(a.regs[i], b.regs[i])
	}
	if !b.spKnown || a.sp != b.sp {
		a.spKnown = false
	}
	for k, v := range a.slots {
		if m := mergeValue(v, b.slots[k]); m.k == vUnknown {
			delete(a.slots, k)
		} else {
			a.slots[k] = m
		}
	}
	return a
}

// mergeValue is what x and y, reaching one point on two paths, leave:
// the value they agree on; an address of the System Control Space on
// either side, when they differ, becomes vNear (a store through the merged
// pointer may write there); else unknown.
func mergeValue(x, y value) value {
	if x == y {
		return x
	}
	if n := y.near(); n.k == vNear {
		return n
	}
	return x.near()
}

// forgetMem makes unknown every loaded device-register value that a store
// to [lo, hi) may have changed (all of them when all is set).
func (s *state) forgetMem(all bool, lo, hi int64) {
	stale := func(v value) bool {
		return v.k == vMem && (all || v.v < hi && v.v+v.n > lo)
	}
	for i, v := range s.regs {
		if stale(v) {
			s.regs[i] = unknown
		}
	}
	for k, v := range s.slots {
		if stale(v) {
			delete(s.slots, k)
		}
	}
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
	// Thumb only (thumbOps): the bytes a store or load moves (0: a word),
	// a sign-extending load, a register offset (index << indexShift), a
	// store of several registers (stm, strd with writeback) at base.
	width      int64
	signed     bool
	index      int8
	hasIndex   bool
	indexShift uint32
	multi      bool
	// alu is a data-processing operation on constants (thumbOps).
	alu aluInst
	// cmp rn, #imm / cmp rn, rm; a conditional branch's condition code.
	hasCmp    bool
	cmpReg    int8
	cmpRm     int8
	cmpImm    uint32
	cmpUseImm bool
	hasCond   bool
	cond      int8
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
	sweepFrom(ai, insts, nil, want, onCall, at)
}

// sweepFrom is sweep with registers known at the function's entry (the
// arguments of one call of it).
func sweepFrom(ai archInfo, insts []inst, entry map[int8]value, want map[uint64]bool, onCall func(addr uint64, s *state) value, at func(addr uint64, s *state)) {
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
		end   int // the last backward jump to its head
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
		l.end = max(l.end, i)
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
	for r, v := range entry {
		cur.regs[r] = v
	}
	cur.regs[ai.sp] = value{k: vStack}
	itLeft, prevInIT := 0, false // instructions left in an IT block; the previous one was in one
	// The state at the last unconditional forward jump, and its target:
	// a loop whose body only its backward jump reaches (-O0 puts the test
	// at the bottom: b test; body: ...; test: ...; bcc body) starts from it.
	var jumped state
	jumpedTo := -1
	for i, in := range insts {
		joined := false
		if p, ok := pending[in.addr]; ok {
			cur = merge(cur, p)
			delete(pending, in.addr)
			joined = true
		}
		if l := loops[i]; l != nil && !cur.live {
			if jumpedTo >= i && jumpedTo <= l.end {
				cur = jumped.clone()
			} else {
				cur = state{live: true, slots: map[int64]value{}} // from nowhere known: nothing known
			}
		}
		if l := loops[i]; l != nil && cur.live {
			joined = true
			for r, w := range l.regs {
				if w {
					cur.regs[r] = cur.regs[r].near()
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
		taken, decided := false, false
		inIT := itLeft > 0
		if i > 0 && !joined && !inIT && !prevInIT {
			taken, decided = branchDecided(&cur, insts[i-1].m, in.m)
		}
		prevInIT = inIT
		if itLeft > 0 {
			itLeft--
		}
		if in.e.CondNext > 0 {
			itLeft = in.e.CondNext
		}
		if inIT {
			// A conditional instruction (in an IT block) may not run: what
			// it writes is merged with what was there.
			before := cur.clone()
			step(ai, &cur, in, onCall)
			cur = merge(before, cur)
		} else {
			step(ai, &cur, in, onCall)
		}
		e := in.e
		switch {
		case decided && !taken:
			// a conditional branch the constants say is not taken
		case decided && taken && e.HasTarget:
			if j, ok := index[e.Target]; ok && j > i {
				if p, ok := pending[e.Target]; ok {
					pending[e.Target] = merge(p, cur.clone())
				} else {
					pending[e.Target] = cur.clone()
				}
			}
			cur.live = false
		case e.Flow == isa.FlowJump, e.Flow == isa.FlowCondJump:
			if e.HasTarget {
				if j, ok := index[e.Target]; ok && j > i {
					if p, ok := pending[e.Target]; ok {
						pending[e.Target] = merge(p, cur.clone())
					} else {
						pending[e.Target] = cur.clone()
					}
				}
			}
			if e.Flow == isa.FlowJump && e.CondNext == 0 && !inIT {
				cur.live = false
				if j, ok := index[e.Target]; ok && j > i {
					jumped, jumpedTo = cur.clone(), j
					jumped.live = true
				}
			}
		case e.Flow == isa.FlowReturn, e.Flow == isa.FlowStop, e.Flow == isa.FlowIndirectJump:
			cur.live = inIT // a conditional return falls through when not taken
		}
		if !cur.live {
			// Next live state comes from a pending jump; keep a fresh map.
			cur = state{slots: map[int64]value{}}
		}
	}
}

// branchDecided evaluates a conditional branch right after a compare of
// constants (the flags are then certainly the compare's): at -O0 a
// function called with a constant argument takes one side of its test,
// and the other side's stores never happen.
func branchDecided(s *state, prev, br memOp) (taken, decided bool) {
	if !br.hasCond || !prev.hasCmp {
		return false, false
	}
	a, b := s.regs[prev.cmpReg], constant(int64(prev.cmpImm))
	if !prev.cmpUseImm {
		b = s.regs[prev.cmpRm]
	}
	if a.k != vConst || b.k != vConst {
		return false, false
	}
	return condHolds(br.cond, uint32(a.v), uint32(b.v)), true
}

// step applies one instruction to s.
func step(ai archInfo, s *state, in inst, onCall func(addr uint64, s *state) value) {
	e := in.e
	m := in.m
	// Memory moves (before the SP changes: x86asm addresses are relative to
	// the SP before the instruction; push stores at the new SP, below).
	// The ALU result is computed first: a load may write one of its inputs.
	aluResult := aluValue(s, m.alu)
	if m.store || m.multi {
		addr := s.address(m)
		switch {
		case addr.k == vStack && !m.multi:
			v := s.regs[m.reg]
			if m.useImm {
				v = m.imm
			}
			s.storeSlot(addr.v, m.width, v)
			if m.pair {
				s.storeSlot(addr.v+4, 4, s.regs[m.reg2])
			}
		case addr.k == vStack, addr.k == vUnknown && (m.base == ai.fp || m.base == ai.sp):
			s.slots = map[int64]value{}
		default:
			// a store through some other pointer: stack words may change
			// only when that pointer is a stack address we lost; keep them.
		}
		if addr.k == vConst && !m.multi {
			s.forgetMem(false, addr.v, addr.v+max(m.width, 4))
		} else if addr.k != vStack {
			s.forgetMem(true, 0, 0)
		}
	}
	if m.unknownMem {
		s.slots = map[int64]value{}
	}
	var loaded, loaded2 value
	if m.load {
		switch addr := s.address(m); addr.k {
		case vStack:
			loaded, loaded2 = loadSized(s.slots[addr.v], m.width, m.signed), s.slots[addr.v+4]
		case vConst:
			if !m.signed && !m.pair {
				loaded = memLoad(addr.v, int(max(m.width, 4)))
				if m.width == 0 {
					loaded.n = ai.word
				}
			}
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
		s.forgetMem(true, 0, 0) // the callee may write any device register
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
	if m.alu.op != aluNone && m.alu.rd != ai.sp {
		s.regs[m.alu.rd] = aluResult
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

// address is where a load or store of m accesses: a stack address, a
// constant, an SCS address plus an unknown index (vNear), or unknown.
func (s *state) address(m memOp) value {
	b := s.regs[m.base]
	if !m.hasIndex {
		if b.k == vNear {
			return b
		}
		return b.add(m.disp)
	}
	i := s.regs[m.index]
	if m.indexShift != 0 {
		i = apply(aluLsl, i, constant(int64(m.indexShift)))
	}
	return apply(aluAdd, b, i)
}

// storeSlot records a w-byte store (0: a word) of v at stack offset k, and
// forgets the slots it overlaps.
func (s *state) storeSlot(k, w int64, v value) {
	if w == 0 {
		w = 4
	}
	for j := k - 3; j < k+w; j++ {
		delete(s.slots, j)
	}
	if w < 4 {
		if v.k != vConst {
			return
		}
		v = constant(int64(uint32(v.v) & widthMask(w)))
		v.w = int8(w)
	}
	s.slots[k] = v
}

// aluValue is the result of a followed data-processing instruction.
func aluValue(s *state, a aluInst) value {
	if a.op == aluNone {
		return unknown
	}
	var x value
	if a.rn >= 0 {
		x = s.regs[a.rn]
	}
	y := constant(int64(a.imm))
	if a.rm >= 0 {
		y = s.regs[a.rm]
		if a.sh != aluNone && a.shAmt != 0 {
			y = apply(a.sh, y, constant(int64(a.shAmt)))
		}
	}
	return apply(a.op, x, y)
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
