package frame

import (
	"math/bits"

	"github.com/stackscope/stackscope/internal/isa"
)

// ValueKind says what a Value is rooted at.
type ValueKind uint8

const (
	// ValueReg: the content of register Reg at address At, which the
	// straight-line code before the call does not explain further.
	ValueReg ValueKind = iota
	// ValueConst: the constant Off (an address the code computes).
	ValueConst
	// ValueLoad: the pointer-sized word read from the address *Addr, plus Off.
	ValueLoad
)

// Value is what the straight-line code before an indirect call shows about
// the call's target or an address it is read from: a root (a register, a
// constant, a word loaded from memory) plus a constant offset, plus an
// unknown index when Indexed. `mov rax,[rdi]; call [rax+16]` gives the
// target Load(Load(rdi)+16): slot 16 of the table rdi's first word points
// to, the shape of a C++ virtual call.
//
// The one-byte fields are last, together: a value is then 32 bytes, not
// 40 (Go's size class 48), and the call sites of a large library keep
// hundreds of thousands (libLLVM-15: 20 MB of them).
type Value struct {
	At   uint64
	Addr *Value
	Off  int64
	Kind ValueKind
	Reg  int8
	// Indexed: an index register (of unknown value) is added, scaled.
	Indexed bool
}

// maxSlice bounds how many instructions the slice walks back from a call:
// a vtable or table load sits a few instructions before it.
const maxSlice = 12

// slicer walks back from an indirect call over straight-line code.
type slicer struct {
	w *walker
	// prev: end offset of an instruction -> 1 + its index in insts (0:
	// none); entries: offsets where another path joins. Both are indexed
	// by code offset (0 to len(code) as it was when the slicer was made):
	// maps of them were most of the cost of making a slicer on a large
	// program.
	prev    []int32
	entries []bool
	// contiguous: the value must be computed by the instructions right
	// before its use, each one defining the register the next one reads.
	// An instruction whose writes the decoder does not describe fully
	// (ldm lists, writeback) could sit in between otherwise; that is good
	// enough for a hint about an indirect call's target, not for SP.
	contiguous bool
}

// traceTargets gives each indirect call site the Value of its target.
func (w *walker) traceTargets() {
	var s *slicer
	for i := range w.fr.Calls {
		cs := &w.fr.Calls[i]
		if !cs.Kind.Indirect() || cs.HasSlot {
			continue
		}
		off, ok := w.offset(cs.Addr)
		if !ok || w.index[off] == 0 {
			continue
		}
		if s == nil {
			s = w.newSlicer()
		}
		e := &w.insts[w.index[off]-1].eff
		budget := maxSlice
		if rs, ok := w.regSites[cs.Addr]; ok {
			// Through a retpoline: the thunk's register (x86regs.go).
			cs.From = s.reg(rs.off, rs.reg, &budget)
			continue
		}
		switch {
		case e.HasMem:
			cs.From = &Value{Kind: ValueLoad, Addr: s.mem(off, e, &budget)}
		case e.HasCallReg:
			cs.From = s.reg(off, e.CallReg, &budget)
		}
	}
}

// slicerTables keeps a walker's slicer tables: the last ones built, and
// the key they were built for (prev and entries are read-only once
// built, and depend only on the code, the instructions decoded and the
// jump-table targets, which only grow); and, for the first build of
// each function, storage reused from function to function (a slicer
// does not outlive its walker's Analyze).
type slicerTables struct {
	key       slicerKey
	last      *slicer
	prev      []int32
	entries   []bool
	storeUsed bool
}

type slicerKey struct{ code, insts, tableTargets int }

func (t *slicerTables) reset() {
	t.last, t.storeUsed = nil, false
}

func (w *walker) newSlicer() *slicer {
	n := len(w.code) + 1
	key := slicerKey{len(w.code), len(w.insts), len(w.tableTargets)}
	t := w.slicers
	// Case-helper tables are read late and may grow: not memoised.
	memo := t != nil && len(w.dispatches) == 0
	if memo && t.last != nil && t.key == key {
		return &slicer{w: w, prev: t.last.prev, entries: t.last.entries}
	}
	s := &slicer{w: w}
	if memo && !t.storeUsed {
		t.storeUsed = true
		if cap(t.prev) < n {
			t.prev, t.entries = make([]int32, n), make([]bool, n)
		}
		s.prev, s.entries = t.prev[:n], t.entries[:n]
		clear(s.prev)
		clear(s.entries)
	} else {
		s.prev, s.entries = make([]int32, n), make([]bool, n)
	}
	defer func() {
		if memo {
			t.key, t.last = key, &slicer{prev: s.prev, entries: s.entries}
		}
	}()
	for i := range w.insts {
		in := &w.insts[i]
		if in.failed() {
			continue
		}
		if end := in.off + in.eff.Len; end >= 0 && end < n {
			s.prev[end] = int32(i + 1)
		}
		switch in.eff.Flow {
		case isa.FlowJump, isa.FlowCondJump, isa.FlowCall:
			if t, ok := w.offset(in.eff.Target); ok && in.eff.HasTarget {
				s.setEntry(t)
			}
		}
	}
	for _, off := range w.tableTargets {
		s.setEntry(off)
	}
	for _, d := range w.dispatches {
		for _, t := range d.table.Targets {
			if off, ok := w.offset(t); ok {
				s.setEntry(off)
			}
		}
	}
	return s
}

// setEntry marks code offset off as a join point.
func (s *slicer) setEntry(off int) {
	if off >= 0 && off < len(s.entries) {
		s.entries[off] = true
	}
}

// prevOf is the index in insts of the instruction that ends at off.
func (s *slicer) prevOf(off int) (int, bool) {
	if off < 0 || off >= len(s.prev) || s.prev[off] == 0 {
		return 0, false
	}
	return int(s.prev[off]) - 1, true
}

// before returns the instruction that falls through into off, when no
// other path joins there.
func (s *slicer) before(off int) (int, *isa.Effect, bool) {
	if off >= 0 && off < len(s.entries) && s.entries[off] {
		return 0, nil, false
	}
	i, ok := s.prevOf(off)
	if !ok {
		return 0, nil, false
	}
	in := &s.w.insts[i]
	// A conditional branch falls through into off: the path is still
	// straight-line from there.
	falls := in.eff.Flow == isa.FlowNext || in.eff.Flow == isa.FlowCondJump
	if s.w.segmentOf(in.off).start != s.w.segmentOf(off).start || !falls || in.eff.CondNext > 0 || s.w.condAt(in.off) {
		return 0, nil, false
	}
	return in.off, &in.eff, true
}

// reg is the value of register r just before the instruction at off.
func (s *slicer) reg(off int, r int8, budget *int) *Value {
	// The register where the slice stops (made only if it does: most
	// calls return another value, and this was 200,000 allocations of
	// libLLVM-15's walk).
	opaqueAt := s.w.addr(off)
	for *budget > 0 {
		*budget--
		p, e, ok := s.before(off)
		if !ok {
			return &Value{Kind: ValueReg, Reg: r, At: opaqueAt}
		}
		if e.HasLdm && (e.LdmList&(1<<uint(r)) != 0 || e.LdmBase == r && e.DefAlso&(1<<uint(r)) != 0) {
			return s.ldm(p, e, r, budget)
		}
		if e.DefAlso&(1<<uint(r)) != 0 {
			// Written by another load of several registers (pop, ldrd)
			// or a writeback: a value the slice does not follow.
			return &Value{Kind: ValueReg, Reg: r, At: s.w.addr(off)}
		}
		if e.DefKind == isa.DefNone || e.DefReg != r {
			if s.contiguous {
				return &Value{Kind: ValueReg, Reg: r, At: opaqueAt}
			}
			off = p
			opaqueAt = s.w.addr(off)
			continue
		}
		switch e.DefKind {
		case isa.DefConst, isa.DefAddr:
			return &Value{Kind: ValueConst, Off: e.DefValue}
		case isa.DefCopy:
			if e.DefValue == 32 {
				return &Value{Kind: ValueReg, Reg: r, At: s.w.addr(off)}
			}
			return s.reg(p, e.DefSrc, budget)
		case isa.DefAddImm:
			v := *s.reg(p, e.DefSrc, budget)
			v.Off += e.DefValue
			return &v
		case isa.DefLoad:
			if !e.HasMem {
				break
			}
			return &Value{Kind: ValueLoad, Addr: s.mem(p, e, budget)}
		case isa.DefHigh16:
			// movt after movw: the constant's high half.
			if low := s.reg(p, r, budget); low.Kind == ValueConst && !low.Indexed {
				return &Value{Kind: ValueConst, Off: low.Off&0xFFFF | (e.DefValue&0xFFFF)<<16}
			}
		case isa.DefAddIndex:
			return s.indexed(p, e, budget)
		case isa.DefInsert16:
			// movk after movz/movn: 16 bits of the constant replaced.
			if v := s.reg(p, r, budget); v.Kind == ValueConst && !v.Indexed && e.DefIndex >= 0 && e.DefIndex <= 48 {
				mask := int64(0xFFFF) << uint(e.DefIndex)
				return &Value{Kind: ValueConst, Off: v.Off&^mask | e.DefValue&mask}
			}
		case isa.DefShl:
			// movs r3, #129; lsls r3, r3, #3: ARMv6-M builds constants
			// over 255 this way. (Kept in 64 bits: right modulo 2^32 for
			// Thumb, and x86's 64-bit shl.) An index scaled by a shift
			// is not a constant: the budget spent finding that out is
			// given back, for the rest of the slice (a table's base).
			b := *budget
			if v := s.reg(p, e.DefSrc, &b); v.Kind == ValueConst && !v.Indexed && e.DefValue >= 0 && e.DefValue < 64 {
				*budget = b
				return &Value{Kind: ValueConst, Off: v.Off << uint(e.DefValue)}
			}
		}
		return &Value{Kind: ValueReg, Reg: r, At: s.w.addr(off)}
	}
	return &Value{Kind: ValueReg, Reg: r, At: opaqueAt}
}

// ldm is the value of register r just after the ldm e at off: the word
// it loaded into r (the lowest register from the lowest address), or, for
// the base register written back, the base moved past the words.
func (s *slicer) ldm(off int, e *isa.Effect, r int8, budget *int) *Value {
	base := *s.reg(off, e.LdmBase, budget)
	n := int64(bits.OnesCount16(e.LdmList)) * 4
	if e.LdmList&(1<<uint(r)) == 0 {
		if e.LdmDown {
			base.Off -= n
		} else {
			base.Off += n
		}
		return &base
	}
	if e.LdmDown {
		base.Off -= n
	}
	base.Off += int64(bits.OnesCount16(e.LdmList&(1<<uint(r)-1))) * 4
	return &Value{Kind: ValueLoad, Addr: &base}
}

// indexed is the value of rd = rn + (rm << shift) just after e at off:
// a table's address plus an index of unknown value (`add.w r0, r3, r0,
// lsl #4` with r3 = &table), or a register's pointer plus one.
func (s *slicer) indexed(off int, e *isa.Effect, budget *int) *Value {
	base, idx := s.reg(off, e.DefSrc, budget), s.reg(off, e.DefIndex, budget)
	if base.Kind == ValueConst && idx.Kind == ValueConst && !base.Indexed && !idx.Indexed && e.DefValue < 32 {
		return &Value{Kind: ValueConst, Off: base.Off + idx.Off<<uint(e.DefValue)}
	}
	if base.Kind != ValueConst && idx.Kind == ValueConst && e.DefValue == 0 {
		base = idx // add r3, r2 with r2 = &table: the table indexed by r3.
	}
	v := *base
	v.Indexed = true
	return &v
}

// mem is the address of e's memory operand, as a Value.
func (s *slicer) mem(off int, e *isa.Effect, budget *int) *Value {
	var v Value
	if e.MemBase < 0 {
		v = Value{Kind: ValueConst}
	} else {
		v = *s.reg(off, e.MemBase, budget)
	}
	v.Off += e.MemDisp
	if e.MemIndex >= 0 {
		idx := s.reg(off, e.MemIndex, budget)
		if v.Kind != ValueConst && idx.Kind == ValueConst && e.MemScale == 1 {
			// [rdx+rax] with rax = &table: the table indexed by rdx.
			v = Value{Kind: ValueConst, Off: idx.Off + e.MemDisp}
		}
		v.Indexed = true
	}
	return &v
}

// condAt says whether the instruction at off is conditional (inside a
// Thumb IT block): its write may not happen.
func (w *walker) condAt(off int) bool {
	for back := 1; back <= 18 && off-back >= 0; back++ {
		if i := w.index[off-back]; i != 0 && w.insts[i-1].eff.CondNext > 0 && w.inBlock(off-back, off) {
			return true
		}
	}
	return false
}

// inBlock says whether the IT instruction at it covers the instruction at
// off: one of the CondNext instructions after it (an instruction that was
// not decoded counts as covered).
func (w *walker) inBlock(it, off int) bool {
	in := &w.insts[w.index[it]-1]
	pos := it + in.eff.Len
	for k := 0; k < in.eff.CondNext; k++ {
		if pos == off {
			return true
		}
		i := w.index[pos]
		if i == 0 || w.insts[i-1].eff.Len <= 0 {
			return true
		}
		pos += w.insts[i-1].eff.Len
	}
	return false
}
