package frame

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// Cortex-M exception return. In handler mode, a branch to an EXC_RETURN
// value (0xFFFFFFxx) returns from the exception: the processor pops the
// frame of whatever it returns to, from MSP or PSP, and the handler's use
// of the main stack ends, as at a return. An RTOS port that starts or
// switches tasks does that with bx rX, where rX holds the EXC_RETURN of the
// task it resumes, read from the context it restores (FreeRTOS's ARM_CM0
// and ARM_CM33 ports: ldmia r0!, {r2} ... msr psp, r0 ... bx r2). The walk
// only classifies such jumps; whether the code runs in handler mode is the
// analysis's to decide (its stack model), which then ends the path there.

// ExcReturnKind says why an indirect jump's target may be an EXC_RETURN.
type ExcReturnKind uint8

const (
	// NoExcReturn: nothing shows the target is an EXC_RETURN value.
	NoExcReturn ExcReturnKind = iota
	// ExcReturnConstant: the register holds a constant 0xFFFFFFxx (the
	// slice back from the jump proves it): an exception return, proved,
	// in handler mode.
	ExcReturnConstant
	// ExcReturnContext: the register holds a word of the context the code
	// restores: loaded from below the value the code then writes to PSP,
	// relative to the same base, and within excContextMax bytes of it.
	// It is an EXC_RETURN if the code that saved the context put one
	// there (FreeRTOS: pxPortInitialiseStack's portINITIAL_EXC_RETURN for
	// a new task, the PendSV handler's saved LR for a switched-out one):
	// an assumption, not something the code of this function shows.
	ExcReturnContext
)

// excContextMax bounds how far below the new PSP the word may lie: the
// software-saved part of a context (r4-r11, EXC_RETURN, PSPLIM, the FP
// registers s16-s31) is under 100 bytes.
const excContextMax = 128

// excSlice is how far the slices for exception returns walk back: a
// context restore is a dozen instructions (CM0 moves r8-r11 through low
// registers one by one).
const excSlice = 32

// excReturns classifies the function's indirect jumps through a register.
// Only for a decoder whose register writes are complete (the slices are
// then proofs of where the value comes from): the Thumb one.
func (w *walker) excReturns() {
	if cd, ok := w.in.Decoder.(isa.CompleteDefs); !ok || !cd.CompleteDefs() {
		return
	}
	var s *slicer
	for i := range w.fr.Calls {
		cs := &w.fr.Calls[i]
		if cs.Kind != IndirectTailCall || cs.HasSlot {
			continue
		}
		off, ok := w.offset(cs.Addr)
		if !ok || w.index[off] == 0 {
			continue
		}
		e := &w.insts[w.index[off]-1].eff
		if e.Flow != isa.FlowIndirectJump || !e.HasCallReg {
			continue
		}
		if s == nil {
			s = w.newSlicer()
		}
		budget := excSlice
		v := s.reg(off, e.CallReg, &budget)
		if v.Kind == ValueConst && !v.Indexed && uint32(v.Off)&0xFFFFFF00 == 0xFFFFFF00 {
			cs.ExcReturn = ExcReturnConstant
			r := w.rare()
			r.ExcDetails = append(r.ExcDetails, ExcDetail{Site: cs.Addr, Detail: fmt.Sprintf("bx r%d to the constant %#x, an EXC_RETURN value", e.CallReg, uint32(v.Off))})
			continue
		}
		if detail, ok := w.contextReturn(s, off, e.CallReg, v); ok {
			cs.ExcReturn = ExcReturnContext
			r := w.rare()
			r.ExcDetails = append(r.ExcDetails, ExcDetail{Site: cs.Addr, Detail: detail})
		}
	}
}

// contextReturn says whether v, the value of register r at the jump at
// off, is a word of the context the function restores: Load(B+k), with
// the last msr psp before the jump (on the same straight-line code)
// writing B+j, 0 <= k < j <= k+excContextMax.
func (w *walker) contextReturn(s *slicer, off int, r int8, v *Value) (string, bool) {
	if v.Kind != ValueLoad || v.Indexed || v.Off != 0 || v.Addr == nil || v.Addr.Indexed {
		return "", false
	}
	at := off
	for steps := 0; steps < excSlice; steps++ {
		p, e, ok := s.before(at)
		if !ok {
			return "", false
		}
		at = p
		if e.SysReg != isa.SysPSP {
			continue
		}
		budget := excSlice
		psp := s.reg(p, e.SysSrc, &budget)
		k, j := v.Addr.Off, psp.Off
		if psp.Indexed || !sameBase(v.Addr, psp) || k < 0 || k%4 != 0 || k >= j || j-k > excContextMax {
			return "", false
		}
		return fmt.Sprintf("bx r%d to the word %d bytes below the PSP the code sets at %#x (msr psp): the restored context's EXC_RETURN, if the code that saved the context put one there",
			r, j-k, w.addr(p)), true
	}
	return "", false
}

// sameBase says whether a and b are the same value but for their
// top-level offsets.
func sameBase(a, b *Value) bool {
	if a.Kind != b.Kind || a.Indexed != b.Indexed {
		return false
	}
	switch a.Kind {
	case ValueReg:
		return a.Reg == b.Reg && a.At == b.At
	case ValueConst:
		return true
	}
	if (a.Addr == nil) != (b.Addr == nil) {
		return false
	}
	return a.Addr == nil || sameValue(a.Addr, b.Addr)
}

// sameValue says whether a and b are the same value.
func sameValue(a, b *Value) bool {
	return a.Off == b.Off && sameBase(a, b)
}
