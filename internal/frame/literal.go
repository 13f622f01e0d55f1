package frame

import (
	"sort"

	"github.com/stackscope/stackscope/internal/isa"
)

// LiteralRead is a literal-pool word (or a few bytes of one) that the
// function's code reads with a PC-relative load.
type LiteralRead struct {
	Addr uint64
	Size uint8
	// Branch: the load only feeds the indirect jump right after it
	// (ldr r3, =f; bx r3), which the call graph links to the constant's
	// function (a direct tail call): the word is a branch target, not a
	// function pointer that escapes. Reg is the register it branches
	// through: the callee receives its own address there when that is one
	// of its parameter registers (see callgraph.branchOnlyWords).
	Branch bool
	Reg    int8
}

// branchLiterals finds the literal loads whose value only a branch uses,
// records every literal read of the walked code (Frame.LiteralReads) and
// adds the addresses movw/movt pairs build to Refs.
//
// A load is a branch literal when the very next instruction is the
// function's indirect jump through the loaded register, reached only from
// the load (no other path joins, neither instruction is conditional), and
// that jump is a call site whose target the slice proved to be that
// constant (CallSite.From): the call graph then links it to the function
// at the constant. Nothing but the jump reads the register in between, so
// the address is not stored anywhere: only a bx, not a blx, after which
// the register (callee-saved ones keep it) could still be stored. Such a
// load's value is also left out of Refs, unless another instruction
// computes the same address.
func (w *walker) branchLiterals() {
	if !w.literals {
		// No literal read and no movt (every x86-64 function): no
		// branch literal (it is a 4-byte literal read), nothing to
		// record, and Refs stays as it is. The loop below costs a pass
		// over the whole instruction table.
		return
	}
	var branch map[int]bool
	var s *slicer
	for _, cs := range w.fr.Calls {
		if cs.Kind != IndirectTailCall || cs.HasSlot || cs.From == nil || cs.From.Kind != ValueConst || cs.From.Indexed {
			continue
		}
		off, ok := w.offset(cs.Addr)
		if !ok || w.index[off] == 0 || w.condAt(off) {
			continue
		}
		e := &w.insts[w.index[off]-1].eff
		if e.Flow != isa.FlowIndirectJump || !e.HasCallReg {
			continue
		}
		if s == nil {
			s = w.newSlicer()
		}
		p, pe, ok := s.before(off)
		if !ok || pe.LiteralSize != 4 || pe.DefKind != isa.DefConst || pe.DefReg != e.CallReg || pe.DefAlso != 0 ||
			pe.DefValue != cs.From.Off {
			continue
		}
		if branch == nil {
			branch = map[int]bool{}
		}
		branch[p] = true
	}
	reads := map[LiteralRead]bool{}
	var refs, movt []uint64
	for i := range w.insts {
		in := &w.insts[i]
		if in.failed() || !w.walked(in.off) {
			continue
		}
		if in.eff.LiteralSize > 0 {
			lr := LiteralRead{Addr: in.eff.Literal, Size: in.eff.LiteralSize}
			if branch[in.off] {
				lr.Branch, lr.Reg = true, in.eff.DefReg
			}
			reads[lr] = true
		}
		if in.eff.HasRef && !branch[in.off] {
			refs = append(refs, in.eff.Ref)
		}
		if in.eff.DefKind == isa.DefHigh16 {
			// movw rX, #:lower16:f; movt rX, #:upper16:f computes an
			// address as a literal load does (-mpure-code, hand-written
			// assembly): a reference too, with the Thumb bit cleared
			// so that a function pointer names the function's entry.
			if s == nil {
				s = w.newSlicer()
			}
			budget := maxSlice
			if low := s.reg(in.off, in.eff.DefReg, &budget); low.Kind == ValueConst && !low.Indexed {
				movt = append(movt, uint64(uint32(low.Off&0xFFFF|(in.eff.DefValue&0xFFFF)<<16)&^1))
			}
		}
	}
	if len(branch) > 0 {
		w.fr.Refs = refs
	}
	w.fr.Refs = append(w.fr.Refs, movt...)
	if len(reads) == 0 {
		return
	}
	rare := w.rare()
	for r := range reads {
		rare.LiteralReads = append(rare.LiteralReads, r)
	}
	sort.Slice(rare.LiteralReads, func(i, j int) bool {
		a, b := rare.LiteralReads[i], rare.LiteralReads[j]
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		return !a.Branch && b.Branch
	})
}

// walked says whether the walk ran the instruction at off (before or
// after a reset), not only decoded it.
func (w *walker) walked(off int) bool {
	return w.seen[off] >= 0 || (w.resetSeen != nil && w.resetSeen[off] >= 0)
}
