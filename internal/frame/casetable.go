package frame

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/stackscope/stackscope/internal/isa"
)

// ARMv6-M (Cortex-M0/M0+/M1) and ARMv8-M Baseline (Cortex-M23) have no
// tbb/tbh. GCC compiles a dense switch there, at -Os or with -fpic, into a
// bounds check, a call to one of libgcc's case helpers and the table itself,
// inline, right after the call:
//
//	cmp   r0, #6
//	bhi.n default
//	bl    __gnu_thumb1_case_uqi
//	.byte (case0-table)/2, ... (then alignment)
//	case0: ...
//
// The helper never returns to the instruction after the call: it reads the
// table at its return address, indexed by r0, and returns into the case.
// What each helper does (read from libgcc's lib1funcs.S, the
// thumb/v6-m/nofp build disassembled; ret is the return address without
// the Thumb bit, the bl's address + 4):
//
//	_uqi  byte ret[r0], unsigned           -> ret + 2*entry
//	_sqi  byte ret[r0], signed             -> ret + 2*entry
//	_uhi  halfword at ret + 2*r0, unsigned -> ret + 2*entry
//	_shi  halfword at ret + 2*r0, signed   -> ret + 2*entry
//	_si   word at base + 4*r0, where base is ret rounded up to 4 (the
//	      helper computes ((lr + 2) >> 2) << 2 from lr = ret|1): a byte
//	      offset from base, signed (added modulo 2^32), and it returns
//	      with `mov pc, lr`, which ignores bit 0 -> (base + entry) &^ 1
//
// The helpers save and restore the registers they use except LR: r0-r12
// are the same in the case as at the call. Their push (4 or 8 bytes) is
// on the caller's stack at the call: the call stays a call edge, so the
// helper's frame counts at that depth.
//
// The number of entries is never in the table: it comes from the bounds
// check before the call (caseBound). Without one the table's end, and so
// which bytes are code, are not known, and the frame is unknown.

// CaseHelper is one of libgcc's switch helpers.
type CaseHelper uint8

const (
	CaseNone CaseHelper = iota
	CaseUQI
	CaseSQI
	CaseUHI
	CaseSHI
	CaseSI
)

// CaseHelperNames are the helpers' symbols.
var CaseHelperNames = map[string]CaseHelper{
	"__gnu_thumb1_case_uqi": CaseUQI,
	"__gnu_thumb1_case_sqi": CaseSQI,
	"__gnu_thumb1_case_uhi": CaseUHI,
	"__gnu_thumb1_case_shi": CaseSHI,
	"__gnu_thumb1_case_si":  CaseSI,
}

func (h CaseHelper) String() string {
	for name, k := range CaseHelperNames {
		if k == h {
			return name
		}
	}
	return "no case helper"
}

// entry is the size of one table entry and whether it is signed.
func (h CaseHelper) entry() (int, bool) {
	switch h {
	case CaseUQI:
		return 1, false
	case CaseSQI:
		return 1, true
	case CaseUHI:
		return 2, false
	case CaseSHI:
		return 2, true
	}
	return 4, true
}

// CaseTable is a jump-table dispatch through a case helper.
type CaseTable struct {
	// Call is the address of the bl to the helper.
	Call   uint64
	Helper CaseHelper
	// Entries is the number of entries the bounds check allows; 0 when the
	// table could not be read (no bounds check found, a target outside the
	// function): the frame is then Unknown, Data and Targets are empty,
	// and the bytes after the call are neither code nor known data.
	Entries int
	// Data holds the table, with the alignment before (_si) and after it:
	// data, never code.
	Data Range
	// Targets are the cases, without duplicates, in address order.
	Targets []uint64
}

// maxCaseSlice bounds how many instructions the search for a bounds check
// walks back from the call: GCC puts it right before, with at most a move
// into r0 and, for a far default, a branch around a literal pool between.
const maxCaseSlice = 16

// maxCaseEntries bounds a table's size: the walk reads that many entries.
const maxCaseEntries = 1 << 16

// caseIndex is the register the helpers read the index from.
const caseIndex = 0

// dispatch is a call to a case helper the walk reached.
type dispatch struct {
	off     int
	helper  CaseHelper
	st      state // the deepest state the call was reached with
	pending bool  // st changed since its targets were last walked
	done    bool  // its table was read (ok or not)
	ok      bool
	table   CaseTable
}

// caseHelper says whether a call goes to a case helper.
func (w *walker) caseHelper(e *isa.Effect) (CaseHelper, bool) {
	if !e.HasTarget || len(w.in.CaseHelpers) == 0 {
		return CaseNone, false
	}
	h, ok := w.in.CaseHelpers[e.Target]
	return h, ok && h != CaseNone
}

// noteDispatch records a call to a case helper at off, reached with st.
// The walk does not go on after it: control goes to the table's targets
// (resolveDispatches), never to the bytes after the call.
func (w *walker) noteDispatch(off int, h CaseHelper, st state) {
	st.condLeft = 0
	if w.lr >= 0 {
		st.ra &^= 1 << uint(w.lr) // the helper returns through the LR it changed
	}
	if d, ok := w.dispatchAt[off]; ok {
		if ra := d.st.ra & st.ra; st.depth > d.st.depth || ra != d.st.ra {
			if st.depth > d.st.depth {
				d.st = st
			}
			d.st.ra = ra
			d.pending = true
		}
		return
	}
	if w.dispatchAt == nil {
		w.dispatchAt = map[int]*dispatch{}
	}
	d := &dispatch{off: off, helper: h, st: st, pending: true}
	w.dispatchAt[off] = d
	w.dispatches = append(w.dispatches, d)
}

// resolveDispatches reads the table of every dispatch reached and walks its
// targets with the state at the call, until no walk reaches a new one.
func (w *walker) resolveDispatches() {
	for {
		var todo []*dispatch
		for _, d := range w.dispatches {
			if d.pending {
				todo = append(todo, d)
			}
		}
		if len(todo) == 0 {
			return
		}
		for _, d := range todo {
			d.pending = false
			if !d.done {
				d.done = true
				d.table, d.ok = w.readTable(d, w.predecessors())
				if !d.ok {
					continue
				}
				w.caseData = append(w.caseData, d.table.Data)
				sort.Slice(w.caseData, func(i, j int) bool { return w.caseData[i].Begin < w.caseData[j].Begin })
				w.fr.JumpTables++
			}
			if !d.ok {
				continue
			}
			for _, t := range d.table.Targets {
				off, _ := w.offset(t)
				w.walk(off, d.st)
			}
		}
	}
}

// checkDispatches reads every table's bounds check again once the whole
// function is known: a path found later that joins between the check and
// the call (or changes r0 there) makes the check prove nothing.
func (w *walker) checkDispatches() {
	if len(w.dispatches) == 0 {
		return
	}
	preds := w.predecessors()
	for _, d := range w.dispatches {
		if !d.ok {
			w.fr.CaseTables = append(w.fr.CaseTables, CaseTable{Call: w.addr(d.off), Helper: d.helper})
			continue
		}
		if t, ok := w.readTable(d, preds); !ok || t.Entries != d.table.Entries {
			if ok {
				w.setKind(Unknown, t.Call, "jump table through %s at %#x: its size is not known (its bounds check allowed %d entries, then %d once the whole function was walked)",
					d.helper, t.Call, d.table.Entries, t.Entries)
			}
			d.ok = false
			w.fr.CaseTables = append(w.fr.CaseTables, CaseTable{Call: w.addr(d.off), Helper: d.helper})
			continue
		}
		w.fr.CaseTables = append(w.fr.CaseTables, d.table)
	}
	sort.Slice(w.fr.CaseTables, func(i, j int) bool { return w.fr.CaseTables[i].Call < w.fr.CaseTables[j].Call })
}

// readTable finds the bounds check of the dispatch and reads its table.
// When it cannot, the frame is Unknown with the reason.
func (w *walker) readTable(d *dispatch, preds map[int][]pred) (CaseTable, bool) {
	call := w.addr(d.off)
	t := CaseTable{Call: call, Helper: d.helper}
	fail := func(format string, args ...any) (CaseTable, bool) {
		w.setKind(Unknown, call, "jump table through %s at %#x: %s", d.helper, call, fmt.Sprintf(format, args...))
		return CaseTable{Call: call, Helper: d.helper}, false
	}
	n, why := w.caseBound(d.off, preds)
	if why != "" {
		return fail("its size is not known (%s)", why)
	}
	if n <= 0 || n > maxCaseEntries {
		return fail("its bounds check allows %d entries", n)
	}
	ret := call + 4
	size, signed := d.helper.entry()
	start := ret
	if d.helper == CaseSI {
		start = (ret + 3) &^ 3
	}
	end := start + uint64(n*size)
	t.Entries = n
	t.Data = Range{Begin: ret, End: (end + 1) &^ 1}
	sg := w.segmentOf(d.off)
	sgEnd := sg.addr + uint64(sg.end-sg.start)
	if end > sgEnd {
		return fail("its %d entries run past the end of the function", n)
	}
	seen := map[uint64]bool{}
	for i := 0; i < n; i++ {
		at := int(start-sg.addr) + sg.start + i*size
		b := w.code[at : at+size]
		var v int64
		switch {
		case size == 1 && signed:
			v = int64(int8(b[0]))
		case size == 1:
			v = int64(b[0])
		case size == 2 && signed:
			v = int64(int16(binary.LittleEndian.Uint16(b)))
		case size == 2:
			v = int64(binary.LittleEndian.Uint16(b))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		}
		var target uint64
		if d.helper == CaseSI {
			target = uint64(uint32(int64(start)+v)) &^ 1
		} else {
			target = uint64(uint32(int64(ret) + 2*v))
		}
		if target >= t.Data.Begin && target < t.Data.End {
			return fail("entry %d points into the table, at %#x", i, target)
		}
		if _, inside := w.offset(target); !inside {
			return fail("entry %d goes to %#x, outside the function", i, target)
		}
		if !seen[target] {
			seen[target] = true
			t.Targets = append(t.Targets, target)
		}
	}
	sort.Slice(t.Targets, func(i, j int) bool { return t.Targets[i] < t.Targets[j] })
	return t, true
}

// pred is one way into an instruction: from the instruction insts[from],
// by its branch (taken) or by falling through; from < 0 is a way the
// function's code does not show (its entry, a jump table's target).
type pred struct {
	from  int
	taken bool
}

// predecessors lists, for each offset the walk reached, every way into it.
func (w *walker) predecessors() map[int][]pred {
	preds := map[int][]pred{0: {{from: -1}}}
	walked := func(off int) bool {
		return off >= 0 && off < len(w.seen) && (w.seen[off] >= 0 || w.resetSeen != nil && w.resetSeen[off] >= 0)
	}
	for i := range w.insts {
		in := &w.insts[i]
		if in.failed() || !walked(in.off) {
			continue
		}
		e := &in.eff
		next := in.off + e.Len
		falls := false
		switch e.Flow {
		case isa.FlowNext, isa.FlowCondJump, isa.FlowIndirectCall:
			falls = true
		case isa.FlowCall:
			_, dispatch := w.dispatchAt[in.off]
			falls = !dispatch
			if t, local := w.localCall(e); local && !dispatch {
				preds[t] = append(preds[t], pred{from: -1})
			}
		}
		if w.condAt(in.off) {
			falls = true // an IT block's instruction may not run
		}
		if falls && next < w.segEnd(in.off) {
			preds[next] = append(preds[next], pred{from: i})
		}
		if (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) && e.HasTarget {
			if t, ok := w.offset(e.Target); ok {
				preds[t] = append(preds[t], pred{from: i, taken: true})
			}
		}
	}
	for _, off := range w.tableTargets {
		preds[off] = append(preds[off], pred{from: -1})
	}
	for _, d := range w.dispatches {
		for _, t := range d.table.Targets {
			if off, ok := w.offset(t); ok {
				preds[off] = append(preds[off], pred{from: -1})
			}
		}
	}
	for _, sg := range w.segs[1:] {
		preds[sg.start] = append(preds[sg.start], pred{from: -1})
	}
	return preds
}

// regs is a set of registers r0-r15.
type regs uint16

func (s regs) has(r int8) bool { return r >= 0 && r < 16 && s&(1<<uint(r)) != 0 }

// back is the set of registers that, before the instruction e, hold the
// value the registers of s hold after it: a register e writes leaves the
// set, and a copy's source joins it in its place.
func back(s regs, e *isa.Effect) regs {
	if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 && s.has(e.DefReg) {
		s &^= 1 << uint(e.DefReg)
		copied := e.DefKind == isa.DefCopy && e.DefValue == 0 ||
			e.DefKind == isa.DefAddImm && e.DefValue == 0
		if copied && e.DefSrc >= 0 && e.DefSrc < 13 {
			s |= 1 << uint(e.DefSrc)
		}
	}
	s &^= regs(e.DefAlso)
	return s
}

// caseBound finds the bounds check that every path to the call at off
// passes, and returns the number of table entries it allows, or why it
// found none. Walking back from the call, each instruction must have one
// way in (so the path is the only one), none may be a call, and the first
// conditional branch met must be taken only when the compare right before
// it, `cmp rN, #K` or `cmp rN, rM` with rM a constant, found rN unsigned
// above K (bhi on the way past it, bls to the call) -- K+1 entries -- or
// at least K (bcs, bcc) -- K entries; rN must hold the value r0 has at
// the call (directly, or through register copies).
func (w *walker) caseBound(off int, preds map[int][]pred) (int, string) {
	s := regs(1 << caseIndex) // the registers holding r0's value at the call
	cur := off
	for step := 0; step < maxCaseSlice; step++ {
		p, e, taken, ok := w.onlyWayIn(cur, preds)
		if !ok {
			return 0, fmt.Sprintf("%#x is reached by more than one path", w.addr(cur))
		}
		if e.Flow == isa.FlowCondJump {
			return w.checkBranch(p, e, taken, s, preds)
		}
		if e.Flow != isa.FlowNext && e.Flow != isa.FlowJump {
			return 0, fmt.Sprintf("no bounds check before the %s at %#x", e.Flow, w.addr(p))
		}
		if s = back(s, e); s == 0 {
			return 0, fmt.Sprintf("the index r%d is set at %#x, and no bounds check follows", caseIndex, w.addr(p))
		}
		cur = p
	}
	return 0, "no bounds check right before the call"
}

// onlyWayIn returns the instruction through which alone control reaches
// off, and whether by its branch.
func (w *walker) onlyWayIn(off int, preds map[int][]pred) (int, *isa.Effect, bool, bool) {
	ps := preds[off]
	if len(ps) != 1 || ps[0].from < 0 {
		return 0, nil, false, false
	}
	in := &w.insts[ps[0].from]
	if w.condAt(in.off) {
		return 0, nil, false, false
	}
	return in.off, &in.eff, ps[0].taken, true
}

// checkBranch reads the bounds check at the conditional branch at p: s is
// the set of registers that hold the call's r0 right after the branch.
func (w *walker) checkBranch(p int, e *isa.Effect, taken bool, s regs, preds map[int][]pred) (int, string) {
	holds := e.Cond
	if !taken {
		holds = negate(holds)
	}
	var extra int
	switch holds {
	case isa.CondLS: // index <= K
		extra = 1
	case isa.CondCC: // index < K
	default:
		return 0, fmt.Sprintf("the branch at %#x (%v, taken: %v) does not bound the index unsigned", w.addr(p), e.Cond, taken)
	}
	c, ce, _, ok := w.onlyWayIn(p, preds)
	if !ok || !ce.Cmp || ce.Flow != isa.FlowNext {
		return 0, fmt.Sprintf("the branch at %#x does not follow a compare", w.addr(p))
	}
	k := int64(ce.CmpImm)
	if ce.CmpRm >= 0 {
		v, ok := w.constBefore(c, ce.CmpRm, preds)
		if !ok {
			return 0, fmt.Sprintf("the compare at %#x is with r%d, whose value is not known", w.addr(c), ce.CmpRm)
		}
		k = int64(uint32(v))
	}
	if !w.sameValue(c, s, ce.CmpReg, preds) {
		return 0, fmt.Sprintf("the compare at %#x is of r%d, not of the index r%d", w.addr(c), ce.CmpReg, caseIndex)
	}
	return int(min(k+int64(extra), maxCaseEntries+1)), ""
}

// negate is the condition that holds when a branch on c is not taken.
func negate(c isa.Cond) isa.Cond {
	switch c {
	case isa.CondNone:
		return isa.CondNone
	case isa.CondEQ, isa.CondCS, isa.CondMI, isa.CondVS, isa.CondHI, isa.CondGE, isa.CondGT:
		return c + 1
	}
	return c - 1
}

// sameValue says whether register r, just before the instruction at off,
// holds the value the registers of s hold there (s as seen before off):
// it follows both sets back until they meet.
func (w *walker) sameValue(off int, s regs, r int8, preds map[int][]pred) bool {
	t := regs(1) << uint(r)
	if r < 0 || r >= 13 {
		return false
	}
	for step := 0; step < maxCaseSlice; step++ {
		if s&t != 0 {
			return true
		}
		p, e, _, ok := w.onlyWayIn(off, preds)
		if !ok || e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall || e.Flow == isa.FlowIndirectJump {
			return false
		}
		if s, t = back(s, e), back(t, e); s == 0 || t == 0 {
			return false
		}
		off = p
	}
	return false
}

// constBefore is the constant register r holds just before the instruction
// at off, when the one path into it sets it to one (movs, a literal, adds
// and lsls of constants, copies).
func (w *walker) constBefore(off int, r int8, preds map[int][]pred) (int64, bool) {
	budget := maxCaseSlice
	return w.constAt(off, r, preds, &budget)
}

func (w *walker) constAt(off int, r int8, preds map[int][]pred, budget *int) (int64, bool) {
	for ; *budget > 0; *budget-- {
		p, e, _, ok := w.onlyWayIn(off, preds)
		if !ok || e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall || e.Flow == isa.FlowIndirectJump {
			return 0, false
		}
		if r < 0 || r >= 16 || e.DefAlso&(1<<uint(r)) != 0 {
			return 0, false
		}
		if e.DefKind == isa.DefNone || e.DefReg != r {
			off = p
			continue
		}
		*budget--
		switch e.DefKind {
		case isa.DefConst:
			return e.DefValue, true
		case isa.DefCopy:
			if e.DefValue != 0 {
				return 0, false
			}
			return w.constAt(p, e.DefSrc, preds, budget)
		case isa.DefAddImm:
			v, ok := w.constAt(p, e.DefSrc, preds, budget)
			return v + e.DefValue, ok
		case isa.DefShl:
			v, ok := w.constAt(p, e.DefSrc, preds, budget)
			return v << uint(e.DefValue&31), ok
		}
		return 0, false
	}
	return 0, false
}
