package frame

import (
	"cmp"

	"github.com/stackscope/stackscope/internal/isa"
)

// What the walk follows besides SP itself, for x86-64 (a decoder that
// implements isa.RegWriter and sets isa.Effect.HasStore):
//
//   - Copies of SP in registers and stack words. GCC's DRAP realignment
//     keeps the caller's SP in a register (`lea r10,[rsp+8]; and
//     rsp,-32; ... push r10 ... pop r10; lea rsp,[r10-8]`, or r13 saved
//     and set the same way), and code that frees a VLA or alloca in a
//     loop keeps SP in a callee-saved register across calls (`mov
//     r15,rsp; call stat; sub rsp,rax; ...; mov rsp,r15`). SP set from
//     such a copy is SP at the depth the copy was taken: exact, whatever
//     happened between. A register's copy is dropped at any instruction
//     that may write it (RegWriter, a superset), at a call for the
//     caller-saved registers (callee-saved ones survive calls: SysV ABI),
//     and where two paths join with different copies. A stack word's copy
//     is dropped at any access to it that is not a load, and once SP
//     rises above it. The function's own stack words are assumed not to
//     be written through pointers (the same trust the walk puts in the
//     registers callees save and restore).
//
//   - The return address. A `ret` uses the word at SP: the caller's
//     return address only when SP is back at the entry's depth (or at a
//     local call's, see localCall) and nothing has written that word. A
//     retpoline thunk (`call 1f; ...; 1: mov [rsp],rax; ret`, GCC's
//     -mindirect-branch=thunk-inline and the out-of-line
//     __x86_indirect_thunk_rax) overwrites it with a register: that ret
//     is a jump through the register, an indirect tail call. A ret at any
//     other depth, or through a word written with something else, makes
//     the frame Unknown: control goes somewhere the walk cannot follow.

// spCopies are the registers and stack words holding a copy of SP. A
// value is immutable once in a state (copy on write): states are copied
// at every branch.
type spCopies struct {
	// reg[r] is the depth at which SP was copied into register r, when
	// valid has bit r.
	reg   [16]int64
	valid uint16
	// regKept[r] is, for a valid register, 1 + the index in the walk's
	// keptFromSP of the call at which the stack-argument rule alone kept
	// the slot its value came from (argarea.go), 0 for none.
	regKept [16]uint32
	// slots are the stack words holding such a copy: the word at
	// (caller's SP - at) holds SP at depth.
	slots []spSlot
}

// kept is 1 + the index in the walk's keptFromSP of the call at which
// the stack-argument rule alone kept the slot (argarea.go), or kept the
// slot its value was copied from; 0 for none.
type spSlot struct {
	at, depth int64
	kept      uint32
}

// retWrite records that the word at (caller's SP - depth), a return
// address the walk will return through, was written: with register reg
// when reg >= 0, with something else when -1.
type retWrite struct {
	depth int64
	reg   int8
	next  *retWrite
}

// joinState is what the walk recorded at an offset about the copies and
// overwritten return addresses of the paths through it.
type joinState struct {
	sp    *spCopies
	ovr   *retWrite
	raReg uint16
	dyn   bool
}

// callerSaved are the registers a call may change (SysV ABI): rax, rcx,
// rdx, rsi, rdi, r8-r11.
const callerSaved = 1<<0 | 1<<1 | 1<<2 | 1<<6 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11

const regSP, regFP = 4, 5

func (c *spCopies) clone() *spCopies {
	if c == nil {
		return &spCopies{}
	}
	n := *c
	n.slots = append([]spSlot(nil), c.slots...)
	return &n
}

func (c *spCopies) empty() bool { return c == nil || c.valid == 0 && len(c.slots) == 0 }

func (c *spCopies) regValue(r int8) (int64, bool) {
	if c == nil || r < 0 || r >= 16 || c.valid&(1<<uint(r)) == 0 {
		return 0, false
	}
	return c.reg[r], true
}

func (c *spCopies) slotValue(at int64) (int64, bool) {
	if c == nil {
		return 0, false
	}
	for _, s := range c.slots {
		if s.at == at {
			return s.depth, true
		}
	}
	return 0, false
}

// slotKept is the slot at at's spSlot.kept (0 too when there is none).
func (c *spCopies) slotKept(at int64) uint32 {
	if c == nil {
		return 0
	}
	for _, s := range c.slots {
		if s.at == at {
			return s.kept
		}
	}
	return 0
}

func meetCopies(a, b *spCopies) *spCopies {
	if a == nil || b == nil {
		return nil
	}
	var m spCopies
	for r := 0; r < 16; r++ {
		bit := uint16(1) << uint(r)
		if a.valid&b.valid&bit != 0 && a.reg[r] == b.reg[r] {
			m.valid |= bit
			m.reg[r] = a.reg[r]
			m.regKept[r] = cmp.Or(a.regKept[r], b.regKept[r]) // (kept by the rule on either path)
		}
	}
	for _, s := range a.slots {
		if d, ok := b.slotValue(s.at); ok && d == s.depth {
			s.kept = cmp.Or(s.kept, b.slotKept(s.at))
			m.slots = append(m.slots, s)
		}
	}
	if m.empty() {
		return nil
	}
	return &m
}

func sameCopies(a, b *spCopies) bool {
	if a.empty() || b.empty() {
		return a.empty() && b.empty()
	}
	if a.valid != b.valid || len(a.slots) != len(b.slots) {
		return false
	}
	for r := 0; r < 16; r++ {
		if a.valid&(1<<uint(r)) != 0 && (a.reg[r] != b.reg[r] || (a.regKept[r] == 0) != (b.regKept[r] == 0)) {
			return false
		}
	}
	for _, s := range a.slots {
		if d, ok := b.slotValue(s.at); !ok || d != s.depth || (s.kept == 0) != (b.slotKept(s.at) == 0) {
			return false
		}
	}
	return true
}

func (o *retWrite) find(depth int64) (*retWrite, bool) {
	for ; o != nil; o = o.next {
		if o.depth == depth {
			return o, true
		}
	}
	return nil, false
}

// unionWrites is every write of a and b; two writes of the same word with
// different registers are a write of something unknown.
func unionWrites(a, b *retWrite) *retWrite {
	out := a
	for ; b != nil; b = b.next {
		if w, ok := out.find(b.depth); ok {
			if w.reg != b.reg && w.reg >= 0 {
				out = setWrite(out, b.depth, -1)
			}
			continue
		}
		out = &retWrite{depth: b.depth, reg: b.reg, next: out}
	}
	return out
}

// setWrite is o with the word at depth written with reg: one record per
// word, so that two lists with the same writes compare equal.
func setWrite(o *retWrite, depth int64, reg int8) *retWrite {
	if w, ok := o.find(depth); ok && w.reg == reg {
		return o
	}
	return &retWrite{depth: depth, reg: reg, next: dropWrite(o, depth)}
}

func sameWrites(a, b *retWrite) bool {
	for o := a; o != nil; o = o.next {
		if w, ok := b.find(o.depth); !ok || w.reg != o.reg {
			return false
		}
	}
	for o := b; o != nil; o = o.next {
		if w, ok := a.find(o.depth); !ok || w.reg != o.reg {
			return false
		}
	}
	return true
}

// tracksRegs says whether the walk follows SP copies and return-address
// writes (x86-64).
func (w *walker) tracksRegs() bool {
	_, ok := w.in.Decoder.(isa.RegWriter)
	return ok && w.ra > 0
}

// joinAgain merges st's copies and writes into what the walk recorded at
// off (seen: the offset was walked before) and says whether the code from
// off must be walked again: the merge lost a copy or added a write that
// the earlier walks did not have.
func (w *walker) joinAgain(off int, st *state, seen bool) bool {
	plain := st.plain()
	if !w.joins.on && plain {
		return false
	}
	if !seen {
		if !plain {
			w.joins.set(off, len(w.code), joinState{sp: st.sp, ovr: st.ovr, raReg: st.raReg, dyn: st.dyn})
		}
		return false
	}
	rec, ok := w.joins.get(off)
	if !ok && plain {
		return false
	}
	// Walked before: an absent record is a walk without copies or writes.
	// (dyn: a path on which SP-relative addresses are exact walks again,
	// so that the frame addresses it takes are seen: spslot.go.)
	m := joinState{sp: meetCopies(rec.sp, st.sp), ovr: unionWrites(rec.ovr, st.ovr), raReg: rec.raReg & st.raReg, dyn: rec.dyn && st.dyn}
	st.sp, st.ovr, st.raReg, st.dyn = m.sp, m.ovr, m.raReg, m.dyn
	if sameCopies(m.sp, rec.sp) && sameWrites(m.ovr, rec.ovr) && m.raReg == rec.raReg && m.dyn == rec.dyn {
		return false
	}
	w.joins.set(off, len(w.code), m)
	return true
}

// plain says the state has no SP copy, no return-address write, no
// register holding the return address and no run-time SP move: what
// joinAgain need not record.
func (st *state) plain() bool {
	return st.sp == nil && st.ovr == nil && st.raReg == 0 && !st.dyn
}

// spRestore gives the depth an SP write (isa.SPUnknown) sets, when it
// sets SP from a register holding a copy of SP: mov rsp,r15 and lea
// rsp,[r10-8]. (addr: e's address; a copy that rests on the
// stack-argument rule is recorded, argarea.go.)
func (w *walker) spRestore(e *isa.Effect, st *state, addr uint64) (int64, bool) {
	if e.DefReg != regSP {
		return 0, false
	}
	switch {
	case e.DefKind == isa.DefCopy && e.DefValue == 0, e.DefKind == isa.DefAddImm:
		d, ok := st.sp.regValue(e.DefSrc)
		if !ok {
			return 0, false
		}
		if k := st.sp.regKept[e.DefSrc]; k != 0 {
			w.noteStackArg(k, addr)
		}
		if e.DefKind == isa.DefAddImm {
			d -= e.DefValue
		}
		return d, true
	}
	return 0, false
}

// mayWrite is the RegWriter mask of the instruction at off, which the
// walk decoded: asked of the decoder once and kept in the instruction's
// entry (a map by offset cost a map per function and an insertion per
// instruction asked).
func (w *walker) mayWrite(off int) uint32 {
	in := &w.insts[w.index[off]-1]
	if in.hasWrites {
		return in.writes
	}
	rw := w.in.Decoder.(isa.RegWriter)
	m := rw.MayWrite(w.code[off:w.segEnd(off)], w.addr(off))
	in.writes, in.hasWrites = m, true
	return m
}

// accessAt is the depth of the lowest byte an SP- or FP-relative access
// reaches (the byte at caller's SP - depth), with pre the state before
// the instruction.
func accessAt(e *isa.Effect, pre *state) (int64, bool) {
	switch {
	case e.Access == isa.BaseSP:
		return pre.depth - e.AccessOff, true
	case e.Access == isa.BaseFP && pre.fpOK:
		return pre.fpDepth - e.AccessOff, true
	}
	return 0, false
}

// overlaps says whether the word at depth at and the size bytes from
// depth a share a byte.
func overlaps(at, a, size int64) bool {
	if size <= 0 {
		size = 1
	}
	return -at < -a+size && -a < -at+8
}

// regsQuiet says whether trackRegs would change nothing but clear
// st.topReg for the instruction e (pre: the state before it; lost:
// len(walker.argLost)): no SP copy is tracked and no register holds the
// return address, and e moves no SP, writes no stack word, defines no
// register from SP or a frame address, and reads no frame slot that could
// hold a copy of SP. Most instructions are such (an ALU operation, a load
// through a pointer or from a frame slot), and trackRegs' full test of
// them was half its cost. The test follows trackRegs step by step: keep
// the two together.
func regsQuiet(e *isa.Effect, pre, st *state, lost int) bool {
	if pre.sp != nil || st.sp != nil || st.raReg != 0 || e.SP != isa.SPNone || e.HasStore || e.UsesFP && pre.fpOK {
		return false
	}
	switch e.DefKind {
	case isa.DefNone, isa.DefOther:
		// (DefOther sets a copy only for a pop, which moves SP.)
		return e.Access == isa.BaseNone
	case isa.DefLoad:
		// A load writes no stack word; the word it reads holds no copy
		// (pre.sp is nil), and with no copy lost at a call it notes
		// nothing (noteLostLoad).
		return lost == 0
	}
	return false
}

// quietCheck, when not nil (tests), is called where regsQuiet or run's
// shortcut (quietFlags) spares trackRegs, with the states before
// st.topReg is cleared; noQuiet turns both off (TestRegsQuiet,
// TestRegsQuietFrames).
var (
	quietCheck func(w *walker, off int, e *isa.Effect, pre, st state)
	noQuiet    bool
)

// trackRegs updates st's SP copies and return-address writes after the
// instruction e at off (pre: the state before it).
func (w *walker) trackRegs(off int, e *isa.Effect, pre, st *state) {
	isLoad := e.DefKind == isa.DefLoad || e.SP == isa.SPAdd && e.SPDelta > 0 && e.Access == isa.BaseNone
	if e.DefKind == isa.DefAddImm || e.DefKind == isa.DefCopy || e.UsesFP && pre.fpOK {
		w.noteFrameAddr(e, w.addr(off), pre)
	}
	// The word an instruction writes on the stack, when it is not a load:
	// its memory operand, or the word a push stores.
	wAt, wSize, writes := int64(0), int64(0), false
	if e.Access != isa.BaseNone && !isLoad {
		// (rbp not set from SP is a pointer like any other: see above.)
		if a, ok := accessAt(e, pre); ok {
			wAt, wSize, writes = a, e.AccessSize, true
		}
	} else if e.SP == isa.SPAdd && e.SPDelta < 0 && e.HasStore {
		wAt, wSize, writes = st.depth, -e.SPDelta, true
	}
	// Return addresses: the entry's (at w.ra) and the innermost local
	// call's (at pre.retAt).
	st.topReg = 0
	if writes {
		if e.HasStore && wAt == st.depth && wSize == 8 {
			st.topReg = e.StoreSrc + 1
		}
		for _, ra := range []int64{w.ra, pre.retAt} {
			if !overlaps(ra, wAt, wSize) {
				continue
			}
			reg := int8(-1)
			if e.HasStore && wAt == ra && wSize == 8 {
				reg = e.StoreSrc
			}
			if ra == w.ra && reg >= 0 && pre.raReg&(1<<uint(reg)) != 0 {
				// The entry's return address put back (vfork's pop rdi;
				// syscall; push rdi; ret).
				st.ovr = dropWrite(st.ovr, ra)
				continue
			}
			st.ovr = setWrite(st.ovr, ra, reg)
		}
	}
	// Registers holding the entry's return address: popped into them.
	if st.raReg != 0 {
		kill := uint16(w.mayWrite(off))
		if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
			kill |= callerSaved
		}
		st.raReg &^= kill
	}
	if e.SP == isa.SPAdd && e.SPDelta == 8 && e.DefKind == isa.DefOther && e.Access == isa.BaseNone && pre.depth == w.ra && e.DefReg >= 0 && e.DefReg < 16 {
		if _, written := pre.ovr.find(w.ra); !written {
			st.raReg |= 1 << uint(e.DefReg)
		}
	}

	// SP copies.
	var setReg int8 = -1
	var setVal int64
	var setKept uint32 // (spCopies.regKept)
	if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 && e.DefReg != regSP && e.DefReg != regFP {
		switch e.DefKind {
		case isa.DefCopy:
			if e.DefValue == 0 {
				if e.DefSrc == regSP {
					setReg, setVal = e.DefReg, pre.depth
				} else if v, ok := pre.sp.regValue(e.DefSrc); ok {
					setReg, setVal, setKept = e.DefReg, v, pre.sp.regKept[e.DefSrc]
				}
			}
		case isa.DefAddImm:
			if e.DefSrc == regSP {
				// Only the caller's SP (DRAP: lea r10,[rsp+8], lea
				// r13,[rsp+16]): addresses of locals (lea rdi,[rsp+16])
				// are everywhere and never restored into SP; following
				// them all would cost a full decode of every
				// instruction after them.
				if pre.depth-e.DefValue == 0 {
					setReg, setVal = e.DefReg, 0
				}
			} else if v, ok := pre.sp.regValue(e.DefSrc); ok {
				setReg, setVal, setKept = e.DefReg, v-e.DefValue, pre.sp.regKept[e.DefSrc]
			}
		case isa.DefLoad:
			if e.MemIndex < 0 && (e.MemBase == regSP || e.MemBase == regFP && pre.fpOK) {
				at := pre.depth - e.MemDisp
				if e.MemBase == regFP {
					at = pre.fpDepth - e.MemDisp
				}
				if v, ok := pre.sp.slotValue(at); ok {
					setReg, setVal, setKept = e.DefReg, v, pre.sp.slotKept(at)
				} else if len(w.argLost) > 0 {
					w.noteLostLoad(e.DefReg, at, off)
				}
			}
		case isa.DefOther:
			if e.SP == isa.SPAdd && e.SPDelta == 8 { // pop r
				if v, ok := pre.sp.slotValue(pre.depth); ok {
					setReg, setVal, setKept = e.DefReg, v, pre.sp.slotKept(pre.depth)
				}
			}
		}
	}
	var storeVal int64
	var storeKept uint32
	storeOK := false
	if e.HasStore && writes && wSize == 8 {
		storeVal, storeOK = pre.sp.regValue(e.StoreSrc)
		if storeOK {
			storeKept = pre.sp.regKept[e.StoreSrc]
		}
		if e.StoreSrc == regSP {
			// SP itself stored in a frame slot (spslot.go), at a depth
			// the walk knows: not through rsp after a run-time move.
			storeVal, storeOK, storeKept = pre.depth, e.Access == isa.BaseFP || !pre.dyn, 0
		}
	}
	if storeOK {
		w.slotStored = true
	}
	if pre.sp.empty() && setReg < 0 && !storeOK {
		return
	}
	// Copy on write: most instructions change nothing.
	var kill uint16
	if st.sp != nil && st.sp.valid != 0 {
		kill = uint16(w.mayWrite(off))
		if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
			kill |= callerSaved
		}
		kill &= st.sp.valid
	}
	slotsChange := false
	if writes && !e.HasStore && st.sp != nil && len(st.sp.slots) > 0 {
		writes = w.slotWritten(off, st.sp.slots, wAt, wSize)
	}
	if st.sp != nil && (writes || e.SP != isa.SPNone) {
		for _, sl := range st.sp.slots {
			if writes && overlaps(sl.at, wAt, wSize) || sl.at > st.depth {
				slotsChange = true
				break
			}
		}
	}
	if kill == 0 && setReg < 0 && !storeOK && !slotsChange {
		return
	}
	c := st.sp.clone()
	c.valid &^= kill
	if setReg >= 0 {
		c.valid |= 1 << uint(setReg)
		c.reg[setReg], c.regKept[setReg] = setVal, setKept
	}
	if writes || e.SP != isa.SPNone {
		kept := c.slots[:0]
		for _, s := range c.slots {
			if writes && overlaps(s.at, wAt, wSize) || s.at > st.depth {
				continue
			}
			kept = append(kept, s)
		}
		c.slots = kept
	}
	if storeOK {
		c.slots = append(c.slots, spSlot{at: wAt, depth: storeVal, kept: storeKept})
	}
	if c.empty() {
		st.sp = nil
		return
	}
	st.sp = c
}

// retThrough decides what a ret at off does on x86-64: a return (nil
// site), a jump through a register the code stored over the return
// address (an indirect tail call), or something the walk cannot follow
// (ok false: the frame is Unknown with why).
func (w *walker) retThrough(st *state) (reg int8, jump bool, why string, ok bool) {
	switch {
	case st.depth == st.retAt, st.depth == w.ra:
	case st.topReg > 0:
		// push rax; ret: a jump through rax.
		return st.topReg - 1, true, "", true
	default:
		// SP elsewhere with a word the walk did not see written: a path
		// that runs on past a call that does not return (the callee's
		// never returning not proved), taken for a return as before.
		return 0, false, "", true
	}
	o, written := st.ovr.find(st.depth)
	if !written {
		return 0, false, "", true
	}
	if o.reg < 0 {
		return 0, false, "the return address was overwritten", false
	}
	return o.reg, true, "", true
}

// Thunk is a retpoline thunk (see Input.Thunk): a call to one is an
// indirect call through Reg, a jump to one an indirect tail call through
// it; a jump to a return thunk is a return.
type Thunk struct {
	Reg    int8
	Return bool
}

// thunkCall records, for a call or jump to a retpoline thunk, the call
// site through its register and says whether it was one. tail: a jump.
func (w *walker) thunkCall(addr uint64, off int, e *isa.Effect, st state, tail bool) (Thunk, bool) {
	if w.in.Thunk == nil || !e.HasTarget {
		return Thunk{}, false
	}
	if _, inside := w.offset(e.Target); inside {
		return Thunk{}, false
	}
	t, ok := w.thunk(e.Target)
	if !ok || t.Return {
		return t, ok
	}
	ind := *e
	ind.HasTarget, ind.Target = false, 0
	kind := IndirectCall
	if tail {
		kind = IndirectTailCall
	}
	w.call(kind, addr, &ind, st)
	w.regSite(addr, off, t.Reg)
	return t, true
}

// regSite notes that the indirect call at addr goes through register reg
// as it is at the instruction at off (traceTargets slices back from
// there).
func (w *walker) regSite(addr uint64, off int, reg int8) {
	if w.regSites == nil {
		w.regSites = map[uint64]regSite{}
	}
	w.regSites[addr] = regSite{off: off, reg: reg}
}

type regSite struct {
	off int
	reg int8
}

// MatchThunk says whether code (at addr) is a retpoline thunk: `call 1f`
// to a label after it, and at the label `mov [rsp], reg; ret` (a jump
// through reg: GCC's __x86_indirect_thunk_<reg>, LLVM's
// __llvm_retpoline_<reg>) or `lea rsp, [rsp+8]; ret` / `add rsp, 8; ret`
// (a return: __x86_return_thunk). What lies between the call and the
// label (the speculation trap, `pause; lfence; jmp`) never runs. An
// endbr64 may come first.
func MatchThunk(dec isa.Decoder, code []byte, addr uint64) (Thunk, bool) {
	decode := func(off int) (isa.Effect, bool) {
		if off < 0 || off >= len(code) {
			return isa.Effect{}, false
		}
		e, err := dec.Decode(code[off:], addr+uint64(off))
		return e, err == nil && e.Len > 0
	}
	off := 0
	if len(code) >= 4 && code[0] == 0xF3 && code[1] == 0x0F && code[2] == 0x1E && code[3] == 0xFA {
		off = 4 // endbr64
	}
	e, ok := decode(off)
	if !ok || e.Flow != isa.FlowCall || !e.HasTarget || e.Target <= addr+uint64(off) || e.Target >= addr+uint64(len(code)) {
		return Thunk{}, false
	}
	label := int(e.Target - addr)
	first, ok := decode(label)
	if !ok {
		return Thunk{}, false
	}
	ret, ok := decode(label + first.Len)
	if !ok || ret.Flow != isa.FlowReturn || ret.SP != isa.SPNone || ret.Len != 1 {
		return Thunk{}, false
	}
	switch {
	case first.HasStore && first.Access == isa.BaseSP && first.AccessOff == 0 && first.AccessSize == 8 && first.SP == isa.SPNone:
		return Thunk{Reg: first.StoreSrc}, true
	case first.SP == isa.SPAdd && first.SPDelta == 8 && first.Flow == isa.FlowNext && first.Access == isa.BaseNone:
		// (pop rX too: it takes the thunk's own return address off.)
		return Thunk{Return: true}, true
	}
	return Thunk{}, false
}

// retCheck is retThrough for a jump to a return thunk, which returns
// through the word at SP as a ret does.
func (w *walker) retCheck(st *state) (string, bool) {
	if !w.regs {
		return "", true
	}
	_, jump, why, ok := w.retThrough(st)
	if ok && jump {
		return "the return address was overwritten", false
	}
	return why, ok
}

// dropWrite is o without its write of the word at depth.
func dropWrite(o *retWrite, depth int64) *retWrite {
	if _, ok := o.find(depth); !ok {
		return o
	}
	var out *retWrite
	for ; o != nil; o = o.next {
		if o.depth != depth {
			out = &retWrite{depth: o.depth, reg: o.reg, next: out}
		}
	}
	return out
}

// drapRealign is the depth after `and rsp,-align` while a register holds
// a copy of SP taken before it: GCC's DRAP, which GCC uses where it does
// not trust the incoming alignment. GCC's .su then assumes SP only 8-byte
// aligned (a push or the return address away from anything), so that the
// realignment can add align-8 bytes; the walk assumes the same, never
// less than .su (sqlite3ExprCodeTarget at -march=x86-64-v3: push r13
// before the `and rsp,-32` makes it 24 bytes, where the ABI's 16-byte
// alignment would give 16).
func drapRealign(depth, align int64) int64 {
	if align <= 8 || align&(align-1) != 0 {
		return depth
	}
	return roundUp(depth, 8) + align - 8
}
