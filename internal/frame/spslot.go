package frame

import "github.com/stackscope/stackscope/internal/isa"

// SP saved in a stack word of the function's own frame and restored from
// it (x86-64). GCC frees a VLA at the end of its scope (a loop body, a
// block) by saving SP when the scope starts and loading it back when it
// ends; where no callee-saved register is free for it (x86regs.go follows
// those), the copy goes to a frame slot:
//
//	mov [rbp-0x48],rsp ... sub rsp,rax ... mov rsp,[rbp-0x48]
//
// (ld.so's _dl_fini, _dl_sort_maps, open_path; libc's __check_pf). The
// slot is known by its depth below the caller's SP (the CFA minus the
// return address), addressed from rsp, or from rbp while rbp is SP plus a
// known offset; its value is SP at the depth of the store (spCopies'
// slots, which also follow a register holding a copy of SP stored there).
// SP loaded from the slot is SP at that depth: exact, whatever the VLA
// did in between. The frame stays Dynamic for the VLA itself.
//
// What may change the slot, and what the walk does about it:
//   - a store (any access that is not a pointer-sized load) through rsp,
//     or through rbp while it is SP-derived, that overlaps the slot's
//     bytes: the slot is dropped (trackRegs). So is a slot SP rises above.
//   - a store through a pointer to the slot: the walk records every
//     address of the frame the function computes from rsp or an
//     SP-derived rbp (lea, mov, add), on any path; a restore from a slot
//     one of them points into makes the frame Unknown (checkSlotRestores),
//     since a callee or a store through any register may then write it.
//   - rbp itself leaving for another register or memory while it is
//     SP-derived (`mov %rbp,%rax`, `push %rbp` after the prologue, an
//     indexed `lea (%rbp,%rcx),%rax`, `xchg %rbp,%rcx`): that pointer is
//     to no object of the frame (the saved rbp is there), and any
//     displacement from it reaches any slot, so it counts as an address
//     of every slot (wholeFrame): a restore from a slot makes the frame
//     Unknown (found by a red-team fixture, internal/analysis
//     redteam_frames_test.go: the slot rewritten through such a copy
//     with a deeper SP, and SP sinking on every round of a loop).
//   - a store through any other pointer: not followed. The slot is a
//     temporary of the compiler whose address the code never takes (the
//     check above proves that for the function's own code); reaching it
//     through a pointer to another object is an out-of-bounds write,
//     which would also reach the return address and the callee-saved
//     registers the walk trusts in the same frame.
//   - two paths joining with different values in the slot: dropped
//     (meetCopies).
//   - a call whose stack-argument area may cover the slot (the callee
//     owns its incoming stack arguments under the ABI and may write
//     them): dropped at the call (argarea.go says which words that area
//     takes in, what it assumes of the caller, and how a restore that
//     rests on that is recorded, Frame.StackArgs). Found by a red-team
//     fixture (internal/analysis/testdata/x86/redteam_argslot.S): `mov
//     %rsp,(%rsp); call f; mov (%rsp),%rsp` with f storing a deeper SP
//     to its first stack argument was a frame of 48 B where the run
//     sank 256 B a round. GCC's VLA scopes keep the copy among the
//     locals, above any call's arguments, and stay proved.
//
// A restore from a slot that was dropped or never written stays "SP
// written in a way not modelled" (or names the call whose argument area
// dropped it).

// frameAddr is an address of the frame the function computes: the byte
// at (caller's SP - depth), by the instruction at addr.
type frameAddr struct {
	depth int64
	addr  uint64
}

// wholeFrame is the depth of a frameAddr that may point at any byte of
// the frame: a copy of rbp (see above).
const wholeFrame = int64(-1 << 62)

// slotRestore is an SP load from a slot the walk took (at: the slot's
// depth).
type slotRestore struct {
	at   int64
	addr uint64
}

// slotRestoreDepth gives the depth SP is loaded with at e when e loads SP
// from a slot holding a copy of SP (mov rsp,[rbp-0x48]).
func (w *walker) slotRestoreDepth(e *isa.Effect, st *state, addr uint64) (int64, bool) {
	if e.DefKind != isa.DefLoad || e.DefReg != regSP || !e.HasMem || e.MemIndex >= 0 {
		return 0, false
	}
	at, ok := slotLoadAt(e, st)
	if !ok {
		return 0, false
	}
	d, ok := st.sp.slotValue(at)
	if !ok {
		return 0, false
	}
	w.slotRestores = append(w.slotRestores, slotRestore{at: at, addr: addr})
	if k := st.sp.slotKept(at); k != 0 {
		w.noteStackArg(k, addr)
	}
	return d, true
}

// slotLoadAt is the depth of the stack word e loads from, when it is
// one the walk can name: addressed from rsp at a known depth, or from an
// SP-derived rbp.
func slotLoadAt(e *isa.Effect, st *state) (int64, bool) {
	switch {
	case e.MemBase == regSP && !st.dyn:
		return st.depth - e.MemDisp, true
	case e.MemBase == regFP && st.fpOK:
		return st.fpDepth - e.MemDisp, true
	}
	return 0, false
}

// noteFrameAddr records the frame address e computes, if it computes one
// from rsp or an SP-derived rbp into a register (pre: the state before
// e).
func (w *walker) noteFrameAddr(e *isa.Effect, addr uint64, pre *state) {
	if pre.fpOK && fpLeaves(e) {
		w.frameAddrs = append(w.frameAddrs, frameAddr{depth: wholeFrame, addr: addr})
		return
	}
	if e.DefReg < 0 || e.DefReg == regSP || e.DefReg == regFP {
		return
	}
	var off int64
	switch {
	case e.DefKind == isa.DefCopy && e.DefValue == 0:
	case e.DefKind == isa.DefAddImm:
		off = e.DefValue
	default:
		return
	}
	switch {
	case e.DefSrc == regSP && !pre.dyn:
		// (After a run-time move of SP, an address from rsp is in what
		// that move allocated, below every slot the walk follows: the
		// compiler cannot reach its fixed slots from rsp then, not
		// knowing the amount; a pointer into a VLA that reaches a slot
		// is an out-of-bounds write, as above.)
		w.frameAddrs = append(w.frameAddrs, frameAddr{depth: pre.depth - off, addr: addr})
	case e.DefSrc == regFP && pre.fpOK:
		w.frameAddrs = append(w.frameAddrs, frameAddr{depth: pre.fpDepth - off, addr: addr})
	}
}

// fpLeaves says whether e copies rbp (the frame pointer) somewhere other
// than SP or rbp: a plain copy, a store of it (push included), a value
// computed from it that the decoder does not model (an indexed lea), an
// exchange (the other register gets it; rbp is clobbered).
func fpLeaves(e *isa.Effect) bool {
	switch {
	case e.HasStore && e.StoreSrc == regFP:
		return true
	case e.DefReg == regSP || e.DefReg == regFP || e.SP != isa.SPNone || e.SetsFP:
		return false
	case e.DefKind == isa.DefCopy && e.DefSrc == regFP && e.DefValue == 0:
		return true
	case e.UsesFP && e.Access == isa.BaseNone && (e.DefKind == isa.DefOther || e.DefKind == isa.DefNone && e.ClobbersFP):
		return true
	}
	return false
}

// checkSlotRestores makes the frame Unknown when SP was loaded from a
// slot whose address the function computes somewhere.
func (w *walker) checkSlotRestores() {
	for _, r := range w.slotRestores {
		for _, a := range w.frameAddrs {
			// The pointer is to a byte of the slot's word.
			if a.depth == wholeFrame || a.depth <= r.at && a.depth > r.at-8 {
				w.setKind(Unknown, r.addr, "SP restored at %#x from a stack word whose address the code takes at %#x: a write through that pointer is not followed", r.addr, a.addr)
				return
			}
		}
	}
}

// slotWritten says whether the access at off, which reaches the bytes
// from depth wAt (wSize of them), may change one of the slots: it
// overlaps one and the decoder does not prove it a read (isa.MemWriter;
// Effect.Access alone does not tell `movsx ebx,[rsp]` from a store).
func (w *walker) slotWritten(off int, slots []spSlot, wAt, wSize int64) bool {
	hit := false
	for _, sl := range slots {
		if overlaps(sl.at, wAt, wSize) {
			hit = true
			break
		}
	}
	if !hit {
		return true // (no slot to keep: the caller's answer as before)
	}
	mw, ok := w.in.Decoder.(isa.MemWriter)
	return !ok || mw.MayWriteMemory(w.code[off:w.segEnd(off)], w.addr(off))
}
