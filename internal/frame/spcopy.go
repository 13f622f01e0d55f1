package frame

import "github.com/stackscope/stackscope/internal/isa"

// SP copies for RISC-V. GCC keeps SP in a register before a variable-length
// array or alloca (`mv t3, sp`) and restores it from there when the array
// goes out of scope (`mv sp, t3`). The walk follows one such copy: the
// register and the depth SP had when it was taken. A restore from it sets
// SP back to that depth; any other write of the register, or a call that
// may change it, forgets the copy. Two paths that join with different
// copies make any restore at or after the join unknown (checkSPCopies).
//
// It is on for decoders that name every register an instruction writes
// (isa.CompleteDefs) and the registers a call may change (CallerSaved):
// the RISC-V decoder. (x86-64 has its own, x86regs.go.)

// cpState is one copy a path carries: register reg (0: none) holds SP
// as it was at depth.
type cpState struct {
	reg   int8
	depth int64
}

type spCopyDecoder interface {
	CallerSaved() uint32
	StackRegister() int8
}

func (w *walker) tracksSPCopies() bool {
	d, ok := w.in.Decoder.(spCopyDecoder)
	if !ok || w.regs {
		return false
	}
	if cd, ok := w.in.Decoder.(isa.CompleteDefs); !ok || !cd.CompleteDefs() {
		return false
	}
	w.spReg, w.callerSave = d.StackRegister(), d.CallerSaved()
	return true
}

// joinCopy records the copies the path st brings to off, and a conflict
// when another path brought different ones.
func (w *walker) joinCopy(off int, addr uint64, st state) {
	k := callKey{uint64(off), st.afterReset}
	if w.cpSeen == nil {
		w.cpSeen = map[callKey][2]cpState{}
	}
	if prev, ok := w.cpSeen[k]; !ok {
		w.cpSeen[k] = st.cps
	} else if prev != st.cps && w.cpConflict == 0 {
		w.cpConflict = addr
	}
}

// spCopyRestore says whether e sets SP from a copy st carries (mv sp,
// rX), and to which depth.
func (w *walker) spCopyRestore(e *isa.Effect, st *state, addr uint64) (int64, bool) {
	if !w.copies || e.DefKind != isa.DefCopy || e.DefValue != 0 || e.DefReg != w.spReg || e.DefSrc <= 0 {
		return 0, false
	}
	for _, c := range st.cps {
		if c.reg == e.DefSrc {
			if w.cpRestored == 0 {
				w.cpRestored = addr
			}
			return c.depth, true
		}
	}
	return 0, false
}

// trackSPCopy updates st's copies after e.
func (w *walker) trackSPCopy(e *isa.Effect, st *state) {
	var lost uint32
	if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
		lost = w.callerSave
	}
	if e.DefKind != isa.DefNone {
		lost |= e.DefAlso | 1<<uint(e.DefReg)
	}
	if lost == 0 {
		return
	}
	// The copy e makes, if any: of SP, or of a register holding one.
	fresh := cpState{}
	if e.DefKind == isa.DefCopy && e.DefValue == 0 && e.DefAlso == 0 && e.DefReg != w.spReg {
		if e.DefSrc == w.spReg {
			fresh = cpState{e.DefReg, st.depth}
		}
		for _, c := range st.cps {
			if c.reg != 0 && c.reg == e.DefSrc {
				fresh = cpState{e.DefReg, c.depth}
			}
		}
	}
	var kept []cpState
	for _, c := range st.cps {
		if c.reg != 0 && lost&(1<<uint(c.reg)) == 0 {
			kept = append(kept, c)
		}
	}
	st.cps = [2]cpState{}
	i := 0
	if fresh.reg != 0 {
		st.cps[0], i = fresh, 1
	}
	for _, c := range kept {
		if i < len(st.cps) {
			st.cps[i] = c
			i++
		}
	}
}

// checkSPCopies makes the frame unknown when SP was restored from a copy
// and paths joined with different copies.
func (w *walker) checkSPCopies() {
	if w.cpRestored != 0 && w.cpConflict != 0 {
		w.setKind(Unknown, w.cpRestored, "SP restored at %#x from a register that paths joining at %#x set differently", w.cpRestored, w.cpConflict)
	}
}

// trackRACall notes, on RISC-V, where the link register points after a
// call: the instruction after it. GCC places code that a call which never
// returns (luaG_runerror) falls into; a ret reached that way, with ra
// still the call's, goes back after the call in this same function, and
// the walk follows it there, at its SP, instead of taking the function to
// return somewhere unknown.
func (w *walker) trackRACall(off int, e *isa.Effect, st *state) {
	if w.lr < 0 {
		return
	}
	if (e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall) && !e.AltLink {
		st.raCall = int32(off + e.Len + 1)
		return
	}
	written := e.DefAlso
	if e.DefKind != isa.DefNone && e.DefReg >= 0 {
		written |= 1 << uint(e.DefReg)
	}
	if written&(1<<uint(w.lr)) != 0 {
		st.raCall = 0
	}
}
