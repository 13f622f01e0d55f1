package frame

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// RISC-V millicode. GCC's -msave-restore (and picolibc, built with it)
// replaces prologues and epilogues with calls to libgcc's routines: a
// prologue calls `jal t0, __riscv_save_N`, which lowers SP, stores the
// callee-saved registers and returns through t0 with SP still lowered; an
// epilogue jumps to `__riscv_restore_N`, which reloads them, raises SP and
// returns to the function's caller. Such a call is no ordinary call (the
// callee changes the caller's SP), so the walk asks Input.Millicode what
// the routine does, and the routine's code is read here, not trusted by
// its name.

// Millicode is what a save or restore routine does to its caller's SP.
type Millicode struct {
	// Peak is the deepest the routine takes SP below the caller's SP at
	// the call; Drop is how far below it SP is when the routine returns.
	Peak, Drop int64
	// Restore: the routine returns to the caller's caller (through ra),
	// having only raised SP: a jump to it ends the function.
	Restore bool
}

// maxMillicode bounds the instructions followed in one routine.
const maxMillicode = 64

// AnalyzeMillicode follows the straight-line code at addr (code returns
// the bytes from an address on, nil when there are none) and says what it
// does to SP when it is a save routine (it returns through the register
// link, untouched, with SP moved by constants only) or a restore routine
// (it returns through ra and never takes SP below where it started).
// Anything else (a branch, a call, an SP move by an unknown amount) is
// not millicode: ok is false.
func AnalyzeMillicode(dec isa.Decoder, code func(addr uint64) []byte, addr uint64, link int8) (m Millicode, ok bool) {
	consts := map[int8]int64{}
	var depth int64
	pc := addr
	for range maxMillicode {
		e, err := dec.Decode(code(pc), pc)
		if err != nil || e.AltLink {
			return Millicode{}, false
		}
		switch e.SP {
		case isa.SPNone:
		case isa.SPAdd:
			depth -= e.SPDelta
		case isa.SPDynamic:
			c, known := consts[e.SPReg]
			if !e.HasSPReg || !known {
				return Millicode{}, false
			}
			// A 32-bit register's constant (RV32 keeps them zero-extended);
			// no save area is 2 GiB.
			v := int64(int32(uint32(c)))
			if e.SPRegSub {
				depth += v
			} else {
				depth -= v
			}
		default:
			return Millicode{}, false
		}
		m.Peak = max(m.Peak, depth)
		written := e.DefAlso
		if e.DefKind != isa.DefNone && e.DefReg >= 0 {
			written |= 1 << uint(e.DefReg)
			if v, ok := constAfter(&e, consts); ok {
				consts[e.DefReg] = v
			} else {
				delete(consts, e.DefReg)
			}
		}
		if written&(1<<uint(link)) != 0 && e.Flow != isa.FlowReturn {
			return Millicode{}, false
		}
		switch e.Flow {
		case isa.FlowNext:
			pc += uint64(e.Len)
		case isa.FlowJump:
			if !e.HasTarget {
				return Millicode{}, false
			}
			pc = e.Target
		case isa.FlowIndirectJump:
			if !e.HasCallReg || e.CallReg != link || depth < 0 {
				return Millicode{}, false
			}
			return Millicode{Peak: m.Peak, Drop: depth}, true
		case isa.FlowReturn:
			// ret (through the link register: HasCallReg), not mret.
			if m.Peak > 0 || e.SP != isa.SPNone || !e.HasCallReg {
				return Millicode{}, false
			}
			return Millicode{Drop: depth, Restore: true}, true
		default:
			return Millicode{}, false
		}
	}
	return Millicode{}, false
}

// millicodeCall follows a call through another link register (e.AltLink)
// at addr: SP moves as the routine moves it. It says false, with the frame
// Unknown, when Input.Millicode does not know the routine.
func (w *walker) millicodeCall(addr uint64, e *isa.Effect, st *state) bool {
	var m Millicode
	ok := w.in.Millicode != nil && e.HasTarget && e.Flow == isa.FlowCall
	if ok {
		m, ok = w.in.Millicode(e.Target)
	}
	if !ok || m.Restore {
		what := "an indirect call"
		if e.HasTarget {
			what = fmt.Sprintf("a call to %#x", e.Target)
		}
		w.setKind(Unknown, addr, "%s at %#x through another link register than ra, to code that is not a save routine this analysis follows (-msave-restore millicode)", what, addr)
		return false
	}
	if d := st.depth + m.Peak; !st.afterReset && d > w.fr.Size {
		w.fr.Size = d
		w.maxAt, w.maxOK = addr+uint64(e.Len), true
	}
	st.depth += m.Drop
	return true
}

// millicodeReturn says whether a jump to target is a jump to a restore
// routine: the function returns through it.
func (w *walker) millicodeReturn(e *isa.Effect) bool {
	if w.in.Millicode == nil || !e.HasTarget {
		return false
	}
	m, ok := w.in.Millicode(e.Target)
	return ok && m.Restore
}

// constAfter is the constant e writes to its register, when the constants
// known before it (consts) show it: libgcc's RV64 save routines compute
// their SP adjustment as li t1,n; slli t1,t1,4.
func constAfter(e *isa.Effect, consts map[int8]int64) (int64, bool) {
	if e.DefAlso != 0 {
		return 0, false
	}
	switch e.DefKind {
	case isa.DefConst:
		return e.DefValue, true
	case isa.DefCopy:
		v, ok := consts[e.DefSrc]
		return v, ok && e.DefValue == 0
	case isa.DefAddImm:
		v, ok := consts[e.DefSrc]
		return v + e.DefValue, ok
	case isa.DefShl:
		v, ok := consts[e.DefSrc]
		return v << uint(e.DefValue&63), ok && e.DefValue >= 0 && e.DefValue < 32
	}
	return 0, false
}
