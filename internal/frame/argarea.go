package frame

import (
	"fmt"
	"math"
	"slices"

	"github.com/stackscope/stackscope/internal/isa"
)

// A call's stack-argument area (x86-64), which the callee may write.
//
// Under the System V ABI a callee owns its incoming stack arguments: the
// words from the caller's SP at the call upward, [rsp, rsp+8n) with n
// the stack words its prototype takes (plus any memory whose address
// escaped, which spslot.go follows separately). It may store to them
// (C code assigning to a parameter, or using its slot as scratch). So a
// stack word the walk trusts to hold a copy of SP (spslot.go, the
// `mov %rsp,(%rsp); call f; mov (%rsp),%rsp` of a red-team fixture
// whose f stored a deeper SP to its first stack argument: a frame of
// 48 B while a run sank 256 B a round) is no longer trusted after a call
// whose argument area may cover it.
//
// How far the area reaches is not known without the callee's
// prototype. Dropping every word at or above SP at each call would be
// sound but would lose GCC's VLA scopes, whose saved SP sits among the
// locals a few words above SP while a call runs (ld.so's _dl_fini:
// `mov %rsp,-0x48(%rbp)` 8 bytes above SP, then `call
// _dl_audit_activity_nsid`). What bounds the area is how the caller sets
// it up: compiled code writes a call's stack arguments through rsp (a
// store into the outgoing area at the bottom of the frame, or pushes
// right before the call), after SP last moved down other than by a push
// (the frame's `sub`, an alloca, the alignment pad before pushed
// arguments, `and rsp,-16`), and after the previous call (whose callee may have
// clobbered its own). So the walk takes the area to be every word from
// SP at the call up to the shallowest byte written through rsp or by a
// push since then (state.args), and drops the SP copies kept there. The
// area includes words the caller did not write (an argument left
// undefined) as long as one it wrote lies above them.
//
// What that assumes, and so does not cover: a caller that passes as a
// stack argument a word it wrote before SP last moved down (or before
// the previous call) and none after, or one it wrote through rbp or
// another register rather than rsp (GCC's and Clang's outgoing
// arguments are always addressed from rsp, since their place from rbp
// moves with any alloca). The calls' argument areas are walked only in
// functions that store SP or a copy of it to a stack word (a second
// walk, see Analyze): no other function has a word to drop.
//
// Since that is an assumption, not a proof, the walk records where it
// rests on it (Frame.StackArgs): an SP copy in a stack word at or above
// SP at a call (so within reach of a callee that takes enough stack
// arguments), kept there only because nothing was written through rsp
// up to it, and SP later loaded from it with that value. The call graph
// lists each as the premise `stack-args` on every entry reaching the
// function. Input.StrictArgs (--strict) turns the rule off: every SP
// copy in a stack word is dropped at a call, and SP loaded from one is
// unknown, naming the call. A copy kept in a callee-saved register is
// no stack argument and needs neither.
//
// After a run-time move of SP, SP-relative depths are in the walk's
// frame, not at the true depth (state.dyn): the true SP is at least as
// deep (an alloca, a counted move), or at most slack bytes shallower (a
// move by a bounded amount, which the walk counts at its bound), so each
// write is recorded slack bytes shallower, which only widens the area.
// Paths that join keep the widest area (joinArgs).

// argArea is the stack-argument area a path has set up since SP last
// moved down and since the last call: on when something was written, top
// the depth of its shallowest byte (the area runs from SP up to it).
// slack: how much shallower than the walk's depth SP may be after a
// run-time move by a bounded amount.
type argArea struct {
	on    bool
	top   int64
	slack int64
}

// argLoss is an SP copy dropped from the word at depth at by the call
// at call (strict: only because the rule is off).
type argLoss struct {
	at     int64
	call   uint64
	strict bool
}

// StackArg is an SP restore that rests on the stack-argument rule: SP
// set at Restore from the stack word at CFA-Slot (the caller's SP minus
// Slot), or from a register or another word its value was copied to,
// when that word held a copy of SP across the call at Call, at or above
// SP there, and outside the area the rule gave that call.
// FromSP is the word's offset from SP at the call (-1 when SP had moved
// by a run-time amount: the word is then above that allocation).
type StackArg struct {
	Call, Restore uint64
	Slot, FromSP  int64
}

// joinArgs merges st's area into what the walk recorded at off (seen:
// walked before) and says whether the merge widened it, so that the code
// from off must be walked again.
func (w *walker) joinArgs(off int, st *state, seen bool) bool {
	rec, _ := w.argSeen.get(off) // (absent: walked with no area)
	m := widerArgs(rec, st.args)
	st.args = m
	if m == rec {
		return false
	}
	w.argSeen.set(off, len(w.code), m)
	return seen
}

// widerArgs is the area that covers both a and b.
func widerArgs(a, b argArea) argArea {
	m := argArea{on: a.on || b.on, slack: max(a.slack, b.slack)}
	switch {
	case a.on && b.on:
		m.top = min(a.top, b.top)
	case a.on:
		m.top = a.top
	case b.on:
		m.top = b.top
	}
	return m
}

// widen adds the bytes from depth top down to the area.
func (a *argArea) widen(top int64) {
	top -= a.slack
	if top > math.MaxInt64/2 || top < math.MinInt64/2 {
		top = math.MinInt64 / 2 // (nonsense depths: every word)
	}
	if !a.on || top < a.top {
		a.on, a.top = true, top
	}
}

// trackArgs updates st's argument area after e (at addr; pre: the state
// before it), and at a call drops the SP copies in the area.
func (w *walker) trackArgs(off int, addr uint64, e *isa.Effect, pre, st *state) {
	if !st.dyn {
		st.args.slack = 0
	}
	if (e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall) && !e.AltLink {
		w.dropArgSlots(addr, st)
		st.args = argArea{slack: st.args.slack}
		return
	}
	push := e.SP == isa.SPAdd && e.SPDelta < 0 && e.HasStore
	switch {
	case push:
	case e.SP == isa.SPAdd && e.SPDelta < 0, e.SP == isa.SPAlign, e.SP == isa.SPDynamic:
		// SP moved down (a run-time amount too: the walk takes every
		// such move for an alloca): what lies above was written for
		// no call yet to come (see above).
		st.args.on = false
	}
	if push {
		st.args.widen(st.depth + e.SPDelta + 1)
	}
	isLoad := e.DefKind == isa.DefLoad || e.SP == isa.SPAdd && e.SPDelta > 0 && e.Access == isa.BaseNone
	if e.Access == isa.BaseSP && !isLoad && w.mayWriteMemory(off) {
		// (A read-modify-write counts; a read the decoder proves one,
		// `movsx ebx,[rsp]` of GCC's VLA code, does not.)
		size := e.AccessSize
		if size <= 0 {
			size = 1
		}
		st.args.widen(pre.depth - e.AccessOff - size + 1)
	}
}

// mayWriteMemory says whether the instruction at off may write memory
// (isa.MemWriter; true when the decoder does not say).
func (w *walker) mayWriteMemory(off int) bool {
	mw, ok := w.in.Decoder.(isa.MemWriter)
	return !ok || mw.MayWriteMemory(w.code[off:w.segEnd(off)], w.addr(off))
}

// dropArgSlots drops, at the call at addr, the SP copies kept in the
// words of its stack-argument area (every word under Input.StrictArgs),
// and marks the others as kept by the rule alone.
func (w *walker) dropArgSlots(addr uint64, st *state) {
	if st.sp == nil || len(st.sp.slots) == 0 {
		return
	}
	inArea := func(sl spSlot) bool { return st.args.on && sl.at >= st.args.top }
	change := false
	for _, sl := range st.sp.slots {
		if w.in.StrictArgs || inArea(sl) || sl.kept == 0 {
			change = true
			break
		}
	}
	if !change {
		return
	}
	c := st.sp.clone()
	kept := c.slots[:0]
	for _, sl := range c.slots {
		if w.in.StrictArgs || inArea(sl) {
			w.argLost = append(w.argLost, argLoss{at: sl.at, call: addr, strict: !inArea(sl)})
			continue
		}
		if sl.kept == 0 {
			// (Every slot left is at or above SP: trackRegs drops one SP
			// rises above.)
			w.keptFromSP = append(w.keptFromSP, keptAt{call: addr, at: sl.at, fromSP: fromSP(st, sl.at)})
			sl.kept = uint32(len(w.keptFromSP))
		}
		kept = append(kept, sl)
	}
	c.slots = kept
	if c.empty() {
		c = nil
	}
	st.sp = c
}

// keptAt is where a call left the slot at at, by the rule alone: fromSP
// bytes above SP (see StackArg.FromSP).
type keptAt struct {
	call   uint64
	at     int64
	fromSP int64
}

// fromSP is the offset from SP of the word at depth at (-1 after a
// run-time move of SP).
func fromSP(st *state, at int64) int64 {
	if st.dyn {
		return -1
	}
	return st.depth - at
}

// noteStackArg records that SP was set at addr from a copy that rests on
// the rule: kept (spSlot.kept) names the call and the slot.
func (w *walker) noteStackArg(kept uint32, addr uint64) {
	k := w.keptFromSP[kept-1]
	sa := StackArg{Call: k.call, Restore: addr, Slot: k.at, FromSP: k.fromSP}
	if !slices.Contains(w.fr.StackArgs, sa) {
		w.fr.StackArgs = append(w.fr.StackArgs, sa)
	}
}

// lostLoad is a load into register reg, at load, from the stack word at
// depth at after a call dropped the SP copy there (any path: it serves
// only to say why SP set from reg is not known).
type lostLoad struct {
	reg  int8
	at   int64
	load uint64
}

// noteLostLoad records a lostLoad when a call dropped an SP copy from
// the word at at (the instruction at off loads it into reg).
func (w *walker) noteLostLoad(reg int8, at int64, off int) {
	for _, l := range w.argLost {
		if l.at == at {
			w.lostLoads = append(w.lostLoads, lostLoad{reg: reg, at: at, load: w.addr(off)})
			return
		}
	}
}

// lostArgSlot makes the frame Unknown, saying why, when e loads SP from
// a stack word whose SP copy a call's argument area dropped, or copies
// SP from a register loaded from one (GCC's _dl_sort_maps: `mov
// -0xa0(%rbp),%rbx; mov %rbx,%rsp`).
func (w *walker) lostArgSlot(e *isa.Effect, st *state, addr uint64) bool {
	if e.DefReg != regSP {
		return false
	}
	var at int64
	via := ""
	switch {
	case e.DefKind == isa.DefLoad && e.HasMem && e.MemIndex < 0:
		var ok bool
		if at, ok = slotLoadAt(e, st); !ok {
			return false
		}
	case e.DefKind == isa.DefCopy && e.DefValue == 0, e.DefKind == isa.DefAddImm:
		found := false
		for i := len(w.lostLoads) - 1; i >= 0; i-- {
			if l := w.lostLoads[i]; l.reg == e.DefSrc {
				at, via, found = l.at, fmt.Sprintf(" (through a register loaded from it at %#x)", l.load), true
				break
			}
		}
		if !found {
			return false
		}
	default:
		return false
	}
	for _, l := range w.argLost {
		if l.at != at {
			continue
		}
		if l.strict {
			w.setKind(Unknown, addr, "SP restored at %#x from a stack word%s at or above SP at the call at %#x, which the callee may write as a stack argument (--strict: the stack-argument rule is off)", addr, via, l.call)
		} else {
			w.setKind(Unknown, addr, "SP restored at %#x from a stack word%s in the stack-argument area of the call at %#x, which the callee may write", addr, via, l.call)
		}
		return true
	}
	return false
}
