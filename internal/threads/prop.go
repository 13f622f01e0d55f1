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
	// vParam: the value of the function's parameter n at its entry, plus v
	// (only while summarizing a callee: see summarize).
	vParam
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

// value is what the propagation knows of a register or stack slot. An
// unknown value may say where it came from: fn names the callee whose call
// at address v may have written it (see unknownAfter).
type value struct {
	k  vkind
	v  int64
	n  int64
	fn string
	// mask and bits qualify vMem; sh is how far its unchanged bits were
	// shifted left (they are in place only at 0).
	mask, bits uint32
	sh         int8
	// w is set on a stack slot written by a w-byte store (1 or 2; 4 on a
	// 64-bit target).
	w int8
}

var unknown = value{}

func constant(v int64) value { return value{k: vConst, v: v} }

// unknownAfter is a value a call to callee at addr may have changed.
func unknownAfter(callee string, addr uint64) value {
	return value{k: vUnknown, fn: callee, v: int64(addr)}
}

// add returns x + d.
func (x value) add(d int64) value {
	switch x.k {
	case vConst, vStack, vAlloc, vParam:
		x.v += d
		return x
	case vNear:
		x.v = int64(uint32(x.v + d))
		return x
	case vUnknown:
		// something plus an address of the System Control Space: kept as
		// vNear, so that an index plus 0xE000E400 (GCC adds the NVIC's
		// address as an immediate) is seen as one.
		if inSCS(int64(uint32(d))) {
			return value{k: vNear, v: int64(uint32(d))}
		}
	}
	return unknown
}

// state is the propagation state at one instruction.
type state struct {
	live    bool
	regs    [numRegs]value
	spKnown bool
	sp      int64           // SP - SP_entry
	slots   map[int64]value // stack words by SP_entry-relative offset
	// escaped: the address of some stack word has left SP- and FP-relative
	// addressing (computed into a register, stored, passed): from then on
	// any call may write any stack word, and does (see callEffects).
	escaped bool
	// out (only while summarizing a callee) holds the words the function
	// has certainly stored through its pointer parameters on this path;
	// facts, shared by all paths, what it may have written on any.
	out   map[outKey]value
	facts *writeFacts
	// attrs are the pthread attribute objects this path set up (attrs.go);
	// alog, while summarizing a helper's effect on them, what it may do.
	attrs map[attrKey]attrInfo
	alog  *attrLog
}

// writeFacts are what a summarized function may write on any path: the
// words through its parameters (touched), and whether it may also write
// somewhere not known (through a pointer of unknown origin, or in a
// callee: then partial is set).
type writeFacts struct {
	touched map[outKey]bool
	partial bool
}

// outKey is a word at parameter param + off.
type outKey struct{ param, off int64 }

func (s *state) clone() state {
	c := *s
	c.slots = make(map[int64]value, len(s.slots))
	for k, v := range s.slots {
		c.slots[k] = v
	}
	if s.out != nil {
		c.out = make(map[outKey]value, len(s.out))
		for k, v := range s.out {
			c.out[k] = v
		}
	}
	c.attrs = copyAttrs(s.attrs)
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
	a.escaped = a.escaped || b.escaped
	a.out = agree(a.out, b.out)
	a.attrs = mergeAttrs(a.attrs, b.attrs)
	return a
}

// agree keeps the entries a and b share (a is modified; nil stays nil).
func agree(a, b map[outKey]value) map[outKey]value {
	if a == nil || b == nil {
		return a
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			delete(a, k)
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
	arch     archKind
}

var x86Info = archInfo{sp: 4, fp: 5, ret: 0, args: []int8{7, 6, 2, 1, 8, 9}, clobber: []int8{0, 1, 2, 6, 7, 8, 9, 10, 11}, word: 8}
var thumbInfo = archInfo{sp: 13, fp: 7, ret: 0, args: []int8{0, 1, 2, 3}, clobber: []int8{0, 1, 2, 3, 12, 14}, word: 4, thumb: true}

// arm64Info: AAPCS64, x0-x7 arguments, x0 the result, x0-x18 and x30 (LR)
// not preserved by a call; SP is 31, the frame pointer x29.
var arm64Info = archInfo{sp: 31, fp: 29, ret: 0, args: []int8{0, 1, 2, 3, 4, 5, 6, 7},
	clobber: []int8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30}, word: 8, arch: archARM64}

// riscv64Info: the RISC-V LP64 calling convention, a0-a7 (x10-x17)
// arguments, a0 the result, ra, t0-t6 and a0-a7 not preserved; sp is x2,
// the frame pointer s0 (x8).
var riscv64Info = archInfo{sp: 2, fp: 8, ret: 10, args: []int8{10, 11, 12, 13, 14, 15, 16, 17},
	clobber: []int8{1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31}, word: 8, arch: archRISCV64}

// riscv32Info: the RISC-V ILP32 calling convention, the registers of
// LP64 with 4-byte words (RV32 firmware: FreeRTOS's RISC-V port).
var riscv32Info = archInfo{sp: 2, fp: 8, ret: 10, args: []int8{10, 11, 12, 13, 14, 15, 16, 17},
	clobber: []int8{1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31}, word: 4, arch: archRISCV32}

// archKind tells the targets whose instructions are re-decoded apart
// (decodeAll) when the thumb flag does not.
type archKind uint8

const (
	archOther archKind = iota // x86-64 and Thumb (see thumb)
	archARM64
	archRISCV64
	archRISCV32
)

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
	pair        bool // strd/ldrd, stp/ldp: reg2 goes to or comes from disp+pairStride()
	reg2        int8
	clobbers    []int8 // registers written besides Effect.Def
	unknownMem  bool   // a store to the stack we cannot place
	// wr is every memory write of the instruction (the stores above
	// included), for summaries: a callee's writes through its parameters.
	wr memWrite
	// addRegs: rd = rn + rm (Thumb adds rd,rn,rm and add rdn,rm, which
	// ARMv6-M -O0 code uses to take a local's address: movs r3,#12;
	// adds r3,r7,r3).
	addRegs    bool
	rd, rn, rm int8
	// spRead: the instruction computes a register from SP or the frame
	// pointer in a way the Def fields do not describe; the result may be
	// a stack address, so the stack counts as escaped.
	spRead bool
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

// pairStride is where a pair's second register goes: the width of each
// (AArch64 stp/ldp of X or W registers), 4 when the width is a word's
// (Thumb strd/ldrd).
func (m memOp) pairStride() int64 {
	if m.width > 0 {
		return m.width
	}
	return 4
}

// numRegs is how many general-purpose registers the propagation follows:
// enough for AArch64 (x0-x30 and SP as 31) and RISC-V (x0-x31); x86-64
// and Thumb use the first 16.
const numRegs = 32

// memWrite describes where an instruction writes memory: at base + disp,
// size bytes, when hasDisp; somewhere relative to base otherwise (an
// index register, a writeback, several words); anywhere when base < 0
// and not fixed.
// Pushes and calls, which write below SP, are not writes here.
type memWrite struct {
	any     bool
	base    int8
	disp    int64
	hasDisp bool
	size    int64
	fixed   bool // at a fixed address (x86 rip-relative): a global
}

// inst is one decoded instruction of the sweep; bad marks an address
// that did not decode.
type inst struct {
	addr uint64
	e    isa.Effect
	m    memOp
	bad  bool
	// dispatch: a call to a case helper, made an indirect jump (see
	// decodeAll) whose targets, when known, are these.
	dispatch bool
	targets  []uint64
}

// callEffect is what the sweep learns of a call from its caller's hook:
// the callee's name, its return value, and its summary (nil when none).
type callEffect struct {
	callee string
	ret    value
	writes *summary
	// attrsDone: the hook applied the call's effect on pthread attribute
	// objects; otherwise the call may have changed them all.
	attrsDone bool
	// regArgs: the callee's prototype is known and passes every argument
	// in registers, so it owns none of the caller's stack words.
	regArgs bool
}

// hooks are the sweep's questions and reports: at is called at every
// address in want with the state before the instruction; onCall is asked
// about each call; onExit (summaries) sees the state at each return.
type hooks struct {
	want   map[uint64]bool
	onCall func(addr uint64, s *state) callEffect
	at     func(addr uint64, s *state)
	onExit func(s *state)
	// attrSafe says the call at addr cannot change a pthread attribute
	// object, whatever its arguments (a loop calling it keeps them); nil:
	// no call is.
	attrSafe func(addr uint64) bool
	// tailCall, when set, is offered a jump out of the function first
	// (with the state at the jump); true: it handled it as a call that
	// returns to this function's caller, and lost is not called.
	tailCall func(addr uint64, s *state) bool
	// lost is called when control leaves the function in a way the sweep
	// does not follow (an indirect jump, a jump out of the function).
	lost func(addr uint64)
	// orphanLoops: a loop head no path reaches (a switch's case entered
	// by an indirect jump, a branch the constants decided against), and
	// any code no branch of the function leads to (a case only a jump
	// table reaches), is swept from a state where nothing is known rather
	// than skipped, so that the stores in it are still seen (the priority
	// scan; not for summaries, which must see every path's writes from
	// their entry).
	orphanLoops bool
}

// loopInfo is what a loop's body (from its head to its last backward
// jump) may change: these registers, stack words, and whether a stack
// address may escape in it.
type loopInfo struct {
	head, end int
	regs      [numRegs]bool
	slots     bool
	escapes   bool
	// attrCalls: the body calls something that may change a pthread
	// attribute object; writes are its memory writes (see forgetAttrs).
	attrCalls bool
	writes    []inst
}

// findLoops returns, for each backward jump target, what its loop's body
// may change.
func findLoops(ai archInfo, insts []inst, index map[uint64]int) map[int]*loopInfo {
	loops := map[int]*loopInfo{}
	for i, in := range insts {
		for _, t := range successors(in) {
			j, ok := index[t]
			if !ok || j > i {
				continue
			}
			l := loops[j]
			if l == nil {
				l = &loopInfo{head: j, end: i}
				loops[j] = l
			}
			l.end = max(l.end, i)
			for k := j; k <= i; k++ {
				noteLoopBody(ai, l, insts[k])
			}
		}
	}
	return loops
}

// successors are the addresses a branch of in goes to (not the next
// instruction): its target, or a case table's targets.
func successors(in inst) []uint64 {
	if in.dispatch {
		return in.targets
	}
	if in.e.HasTarget && (in.e.Flow == isa.FlowJump || in.e.Flow == isa.FlowCondJump) {
		return []uint64{in.e.Target}
	}
	return nil
}

func noteLoopBody(ai archInfo, l *loopInfo, b inst) {
	if b.e.DefKind != isa.DefNone && b.e.DefReg >= 0 && b.e.DefReg < numRegs {
		l.regs[b.e.DefReg] = true
		if (b.e.DefKind == isa.DefAddImm || b.e.DefKind == isa.DefCopy) && (b.e.DefSrc == ai.sp || b.e.DefSrc == ai.fp) {
			l.escapes = true
		}
	}
	for _, r := range b.m.clobbers {
		l.regs[r] = true
	}
	if b.m.alu.op != aluNone && b.m.alu.rd >= 0 && b.m.alu.rd < numRegs {
		l.regs[b.m.alu.rd] = true
	}
	if b.m.addRegs && b.m.rd >= 0 && b.m.rd < numRegs {
		l.regs[b.m.rd] = true
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
		l.slots = true // a call may write the stack words whose address escaped
	}
	if b.m.store || b.m.unknownMem || b.m.push || b.m.wr.any {
		l.slots = true
	}
	if b.e.SP != isa.SPNone {
		l.regs[ai.sp] = true
	}
}

// reachability returns a function that says whether index b can be
// reached from index a inside the function (answers are cached per a).
func reachability(insts []inst, index map[uint64]int) func(a, b int) bool {
	succ := make([][]int, len(insts))
	condLeft := 0
	for i, in := range insts {
		conditional := condLeft > 0
		if conditional {
			condLeft--
		}
		e := in.e
		falls := conditional
		switch e.Flow {
		case isa.FlowJump:
		case isa.FlowReturn, isa.FlowStop, isa.FlowIndirectJump:
		default:
			falls = true
		}
		if falls && i+1 < len(insts) {
			succ[i] = append(succ[i], i+1)
		}
		for _, t := range successors(in) {
			if j, ok := index[t]; ok {
				succ[i] = append(succ[i], j)
			}
		}
		if e.CondNext > 0 {
			condLeft = e.CondNext
		}
	}
	cache := map[int][]bool{}
	return func(a, b int) bool {
		seen, ok := cache[a]
		if !ok {
			seen = make([]bool, len(insts))
			work := []int{a}
			seen[a] = true
			for len(work) > 0 {
				x := work[len(work)-1]
				work = work[:len(work)-1]
				for _, y := range succ[x] {
					if !seen[y] {
						seen[y] = true
						work = append(work, y)
					}
				}
			}
			cache[a] = seen
		}
		return seen[b]
	}
}

// forget applies what the loop's body may change to s.
func (l *loopInfo) forget(ai archInfo, s *state) {
	l.forgetAttrs(ai, s)
	for r, w := range l.regs {
		if w {
			// an SCS address a loop steps through stays one (vNear)
			s.regs[r] = s.regs[r].near()
		}
	}
	if l.regs[ai.sp] {
		s.spKnown = false
	}
	if l.slots {
		// the body stores or calls: a device register read before the
		// loop may have changed on a later iteration
		s.forgetMem(true, 0, 0)
		s.slots = map[int64]value{}
		if s.out != nil {
			s.out = map[outKey]value{}
		}
	}
	if l.escapes {
		s.escaped = true
	}
}

// sweep runs the propagation over insts (in address order), one pass
// forward. A loop's head forgets what its body may change; a jump that
// enters a loop past its head (GCC's -O0 "jump to the condition") does
// the same, and also makes the head reachable with that state, so that
// the body is swept too.
func sweep(ai archInfo, insts []inst, h hooks, init func(s *state)) {
	if len(insts) == 0 {
		return
	}
	index := make(map[uint64]int, len(insts))
	for i, in := range insts {
		index[in.addr] = i
	}
	loops := findLoops(ai, insts, index)
	noteLoopAttrs(loops, insts, h.attrSafe)
	pending := map[uint64]state{}
	addPending := func(at uint64, s state) {
		if p, ok := pending[at]; ok {
			pending[at] = merge(p, s)
		} else {
			pending[at] = s
		}
	}
	reach := reachability(insts, index)
	// entered are the loops a forward jump from i to j enters past their
	// head: j lies on a cycle through the head.
	entered := func(i, j int) []*loopInfo {
		var out []*loopInfo
		for _, l := range loops {
			if l.head > i && l.head < j && j <= l.end && reach(l.head, j) && reach(j, l.head) {
				out = append(out, l)
			}
		}
		return out
	}
	// jumpTo records a forward jump from index i to index j.
	jumpTo := func(i, j int, s *state) {
		st := s.clone()
		in := entered(i, j)
		for _, l := range in {
			l.forget(ai, &st)
		}
		for _, l := range in {
			addPending(insts[l.head].addr, st.clone())
		}
		addPending(insts[j].addr, st)
	}
	cur := state{live: true, spKnown: true, slots: map[int64]value{}}
	cur.regs[ai.sp] = value{k: vStack}
	if init != nil {
		init(&cur)
	}
	var tableState state // what the indirect jumps so far agree on
	condLeft := 0        // instructions left in a Thumb IT block
	prevCond := false    // the previous instruction was in one
	for i, in := range insts {
		// joined: the state may come from elsewhere than the previous
		// instruction, whose flags then need not be the ones here.
		joined := false
		if p, ok := pending[in.addr]; ok {
			cur = merge(cur, p)
			delete(pending, in.addr)
			joined = true
		}
		if !cur.live && h.orphanLoops && !in.e.Nop && (loops[i] != nil || !reach(0, i)) {
			// Code no path reaches: a loop head, or a switch's case that
			// only a jump table leads to (no branch of the function's own
			// goes there; code the constants decided against stays
			// skipped). A case starts with what the indirect jumps before
			// it agree on (the NVIC's address loaded before the dispatch),
			// other code with nothing known, so that its stores are seen.
			cur = state{live: true, slots: map[int64]value{}}
			if tableState.live && loops[i] == nil {
				cur = tableState.clone()
			}
		}
		if l := loops[i]; l != nil && cur.live {
			l.forget(ai, &cur)
			joined = true
		}
		if !cur.live {
			condLeft, prevCond = 0, false
			continue
		}
		if h.want[in.addr] && h.at != nil {
			h.at(in.addr, &cur)
		}
		conditional := condLeft > 0
		if conditional {
			condLeft--
		}
		taken, decided := false, false
		if i > 0 && !joined && !conditional && !prevCond {
			taken, decided = branchDecided(&cur, insts[i-1].m, in.m)
		}
		prevCond = conditional
		var before state
		if conditional {
			before = cur.clone()
		}
		step(ai, &cur, in, h.onCall)
		e := in.e
		switch e.Flow {
		case isa.FlowJump, isa.FlowCondJump:
			if decided && !taken {
				break // a conditional branch the constants say is not taken
			}
			if e.HasTarget {
				j, ok := index[e.Target]
				switch {
				case !ok:
					if h.tailCall != nil && h.tailCall(in.addr, &cur) {
						break
					}
					if h.lost != nil {
						h.lost(in.addr) // a tail call or a jump out of the function
					}
				case j > i:
					jumpTo(i, j, &cur)
				}
			} else if h.lost != nil {
				h.lost(in.addr)
			}
			if e.Flow == isa.FlowJump && !conditional || decided {
				cur.live = false
			}
		case isa.FlowReturn:
			if h.onExit != nil {
				h.onExit(&cur)
			}
			if !conditional {
				cur.live = false
			}
		case isa.FlowIndirectJump:
			if in.dispatch && len(in.targets) > 0 {
				// A case table the frame walk read: each case
				// starts with the state at the call (the helper
				// changes no register it tracks); a case before
				// the call is a loop's head (findLoops).
				for _, t := range in.targets {
					if j, ok := index[t]; !ok {
						if h.lost != nil {
							h.lost(in.addr)
						}
					} else if j > i {
						jumpTo(i, j, &cur)
					}
				}
				if !conditional {
					cur.live = false
				}
				break
			}
			if h.lost != nil {
				h.lost(in.addr)
			}
			// A jump table's cases start with the state at the jump.
			if tableState.live {
				tableState = merge(tableState, cur.clone())
			} else {
				tableState = cur.clone()
			}
			if !conditional {
				cur.live = false
			}
		case isa.FlowStop:
			if !conditional {
				cur.live = false
			}
		}
		if conditional && cur.live {
			// The instruction may not have run: keep what both agree on.
			cur = merge(cur, before)
		}
		if e.CondNext > 0 {
			condLeft = e.CondNext
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
func step(ai archInfo, s *state, in inst, onCall func(addr uint64, s *state) callEffect) {
	e := in.e
	m := in.m
	if s.out != nil && m.wr.any {
		noteOutWrite(ai, s, in)
	}
	attrStore(ai, s, in)
	// The ALU result is computed first: a load may write one of its inputs.
	aluResult := aluValue(s, m.alu)
	if m.alu.op != aluNone && aluResult.k != vStack && aluReadsStack(s, m.alu) {
		s.escaped = true // a stack address turned into something not followed
	}
	// Memory moves (before the SP changes: x86asm addresses are relative to
	// the SP before the instruction; push stores at the new SP, below).
	if m.store || m.multi {
		if m.store {
			v := s.regs[m.reg]
			if m.useImm {
				v = m.imm
			}
			if v.k == vStack || m.pair && s.regs[m.reg2].k == vStack {
				s.escaped = true // a stack address stored to memory
			}
		}
		addr := s.address(m)
		switch {
		case addr.k == vStack && !m.multi:
			v := s.regs[m.reg]
			if m.useImm {
				v = m.imm
			}
			s.storeSlot(addr.v, m.width, ai.word, v)
			if m.pair {
				s.storeSlot(addr.v+m.pairStride(), m.pairStride(), ai.word, s.regs[m.reg2])
			}
		case addr.k == vStack, m.base == ai.fp, m.base == ai.sp,
			s.regs[m.base].k == vStack, m.hasIndex && s.regs[m.index].k == vStack:
			// somewhere on the stack that cannot be placed (several
			// words, or a stack address plus an offset not known)
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
			loaded, loaded2 = loadAt(s.slots[addr.v], m.width, ai.word, m.signed), loadAt(s.slots[addr.v+m.pairStride()], m.pairStride(), ai.word, m.signed)
		case vConst:
			if !m.signed && !m.pair {
				loaded = memLoad(addr.v, int(max(m.width, 4)))
				if m.width == 0 {
					loaded.n = ai.word
				}
			}
		}
	}
	var sum value
	if m.addRegs {
		a, b := s.regs[m.rn], s.regs[m.rm]
		sum = apply(aluAdd, a, b)
		if (a.k == vStack || b.k == vStack) && sum.k != vStack {
			s.escaped = true
		}
	}
	if m.spRead {
		s.escaped = true
	}
	pushed := unknown
	if m.push {
		pushed = s.regs[m.reg]
		if m.useImm {
			pushed = m.imm
		}
		if pushed.k == vStack {
			s.escaped = true
		}
	}
	// Calls.
	if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
		var ce callEffect
		if onCall != nil {
			ce = onCall(in.addr, s)
		}
		s.forgetMem(true, 0, 0) // the callee may write any device register
		callEffects(ai, s, in.addr, ce)
		return
	}
	// The register definition.
	if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < numRegs && e.DefReg != ai.sp {
		r := e.DefReg
		switch e.DefKind {
		case isa.DefConst, isa.DefAddr:
			v := e.DefValue
			if ai.thumb {
				v = int64(uint32(v))
			}
			s.regs[r] = constant(v)
		case isa.DefCopy:
			src := s.regs[e.DefSrc&(numRegs-1)]
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
			s.regs[r] = s.regs[e.DefSrc&(numRegs-1)].add(e.DefValue)
			if ai.thumb && s.regs[r].k == vConst {
				s.regs[r].v = int64(uint32(s.regs[r].v))
			}
		case isa.DefShl:
			if c := s.regs[e.DefSrc&(numRegs-1)]; c.k == vConst && e.DefValue >= 0 && e.DefValue < 64 {
				v := c.v << uint(e.DefValue)
				if ai.thumb {
					v = int64(uint32(v))
				}
				s.regs[r] = constant(v)
			} else {
				s.regs[r] = unknown
			}
		case isa.DefInsert16:
			// AArch64 movk: 16 bits of a constant replaced
			if c := s.regs[r]; c.k == vConst && e.DefIndex >= 0 && e.DefIndex <= 48 {
				mask := int64(0xFFFF) << uint(e.DefIndex)
				s.regs[r] = constant(c.v&^mask | e.DefValue&mask)
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
	if m.addRegs && m.rd != ai.sp {
		s.regs[m.rd] = sum
	}
	noteEscape(ai, s, in)
	// The frame pointer and the stack pointer.
	switch e.SP {
	case isa.SPNone:
	case isa.SPAdd:
		s.sp += e.SPDelta
	case isa.SPFromFP:
		if fp := s.regs[ai.fp]; fp.k == vStack && !e.HasSPReg {
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

// noteEscape marks the state escaped when the instruction put a stack
// address into a register other than SP (and the frame pointer it sets
// up as such): from there it can reach memory or a callee.
func noteEscape(ai archInfo, s *state, in inst) {
	e := in.e
	written := func(r int8) bool {
		if r < 0 || r >= numRegs || r == ai.sp || s.regs[r].k != vStack {
			return false
		}
		return r != ai.fp || !e.SetsFP && !e.AdjustsFP
	}
	if e.DefKind != isa.DefNone && written(e.DefReg) {
		s.escaped = true
	}
	if in.m.load && (written(in.m.reg) || in.m.pair && written(in.m.reg2)) {
		s.escaped = true
	}
	if in.m.addRegs && written(in.m.rd) || in.m.alu.op != aluNone && written(in.m.alu.rd) {
		s.escaped = true
	}
}

// callEffects applies a call to the caller's state. The callee may write
// its stack arguments, and, once a stack address has escaped, any stack
// word: those become unknown (saying which call). Then the callee's
// summary, when it has one, gives back the words it certainly stores
// through the pointers it was passed. Argument registers and the other
// caller-saved ones are clobbered; the return register gets ce.ret.
func callEffects(ai archInfo, s *state, addr uint64, ce callEffect) {
	args := make([]value, len(ai.args))
	for i := range args {
		args[i] = ai.arg(s, i)
	}
	if s.out != nil {
		// Summarizing: what the callee of a callee writes is not followed.
		s.out = map[outKey]value{}
		s.facts.partial = true
	}
	lost := unknownAfter(ce.callee, addr)
	if s.spKnown && !ce.regArgs {
		for k := range s.slots {
			if k >= s.sp+ai.stackArg && k < s.sp+ai.stackArg+maxStackArgs*ai.word {
				s.slots[k] = lost
			}
		}
	}
	if s.escaped || !s.spKnown {
		if !forgetTouched(ai, s, ce.writes, args, lost) {
			for k := range s.slots {
				s.slots[k] = lost
			}
		}
		applySummary(s, ce, args, lost)
	}
	for _, r := range ai.clobber {
		s.regs[r] = unknown
	}
	s.regs[ai.ret] = ce.ret
	if ce.ret.k == vStack {
		s.escaped = true
	}
	if !ce.attrsDone {
		s.forgetAttrs(ce.callee, addr)
	}
}

// forgetTouched makes unknown the caller's stack words a callee may write
// when its summary says exactly which those are (all through pointer
// arguments that are stack addresses or globals). It returns false when
// the callee may write others: then every stack word is forgotten.
func forgetTouched(ai archInfo, s *state, sum *summary, args []value, lost value) bool {
	if sum == nil || sum.partial || !s.spKnown {
		return false
	}
	var words []int64
	for k := range sum.touched {
		if k.param < 0 || int(k.param) >= len(args) {
			return false
		}
		switch p := args[k.param]; p.k {
		case vStack:
			words = append(words, p.v+k.off)
		case vConst, vAlloc:
			// a global or a heap block: not a stack word
		default:
			return false // a pointer that may be a stack address
		}
	}
	// A slot overlapping a written word changes too (a 4-byte write into
	// an 8-byte slot).
	for k := range s.slots {
		for _, w := range words {
			if k > w-ai.word && k < w+ai.word {
				s.slots[k] = lost
			}
		}
	}
	return true
}

// maxStackArgs is how many stack-passed arguments a callee is assumed to
// be able to overwrite (it owns that area during the call).
const maxStackArgs = 8

// applySummary stores into the caller's stack words what the callee
// certainly stores through its pointer parameters. Two parameters that
// point at the same word and disagree leave it unknown.
func applySummary(s *state, ce callEffect, args []value, lost value) {
	if ce.writes == nil {
		return
	}
	set := map[int64]bool{}
	for _, w := range ce.writes.sortedWrites() {
		if w.key.param < 0 || int(w.key.param) >= len(args) {
			continue
		}
		p := args[w.key.param]
		if p.k != vStack {
			continue // a global or heap object: not tracked
		}
		k := p.v + w.key.off
		v := translate(w.val, args, lost)
		if set[k] && s.slots[k] != v {
			v = lost
		}
		s.slots[k], set[k] = v, true
	}
}

// translate turns a value the callee stored into the caller's terms: a
// parameter becomes the argument passed; the callee's own stack addresses
// and what it did not know are unknown.
func translate(v value, args []value, lost value) value {
	switch v.k {
	case vConst, vAlloc:
		return v
	case vParam:
		if v.n >= 0 && int(v.n) < len(args) && args[v.n].k != vUnknown {
			return args[v.n].add(v.v)
		}
	}
	return lost
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
// forgets the slots (word bytes each) it overlaps.
func (s *state) storeSlot(k, w, word int64, v value) {
	if w == 0 {
		w = word
	}
	for j := k - word + 1; j < k+w; j++ {
		delete(s.slots, j)
	}
	if w == 4 && word == 8 {
		// a 32-bit store on a 64-bit target: only a 32-bit load gives it
		// back (loadSized); a 64-bit one also reads the next 4 bytes
		if v.k == vConst {
			v = constant(int64(uint32(v.v)))
		} else {
			v = unknown
		}
		v.w = 4
		s.slots[k] = v
		return
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

// aluReadsStack reports an operand of a that holds a stack address.
func aluReadsStack(s *state, a aluInst) bool {
	return a.rn >= 0 && s.regs[a.rn].k == vStack || a.rm >= 0 && s.regs[a.rm].k == vStack
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
