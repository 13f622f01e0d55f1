package frame

import "github.com/stackscope/stackscope/internal/isa"

// SP moved by a register (isa.Effect.HasSPReg). ARMv6-M has no immediate
// form for SP adjustments over 508 bytes: GCC loads the amount into a low
// register and adds it (`ldr r7, =-1032; ... add sp, r7` to allocate,
// `movs r3, #129; lsls r3, r3, #3; add sp, r3` or `ldr r3, =1032; add sp,
// r3` to release). When the instructions before the add compute the
// register from constants, SP moves by that constant: the frame is static.
//
// The value comes from the same backward slice the indirect-call targets
// and SP resets use (slicer): back over straight-line code, stopping where
// another path joins, at a call, at a conditional instruction. Skipping
// the instructions that do not write the register is a proof only when the
// decoder names every register each instruction writes
// (isa.CompleteDefs, the Thumb decoder); otherwise the value must come
// from the instructions right before the add, each defining the register
// the next one reads. Paths found later in the walk can join the slice
// (a branch into it, a jump-table target): checkSPRegisters slices again
// over the whole function and makes the frame unknown if the value is no
// longer proved.

// spRegister returns how many bytes the SP move by a register at off
// lowers SP (negative: it raises it), when the value is proved.
func (w *walker) spRegister(off int, e *isa.Effect) (int64, bool) {
	if !e.HasSPReg {
		return 0, false
	}
	if v, ok := w.spRegs[off]; ok {
		return v, true
	}
	v, ok := w.spRegisterValue(w.spSlicer(), off, e)
	if !ok {
		return 0, false
	}
	if w.spRegs == nil {
		w.spRegs = map[int]int64{}
	}
	w.spRegs[off] = v
	return v, true
}

// spRegisterValue is the drop of SP (bytes) the instruction at off makes,
// from the constant its register holds, as s shows it.
func (w *walker) spRegisterValue(s *slicer, off int, e *isa.Effect) (int64, bool) {
	c, ok := w.constantIn(s, off, e.SPReg)
	if !ok {
		return 0, false
	}
	// A 32-bit register: ldr r7, =0xFFFFFBF8 adds -1032. A 64-bit
	// decoder's constants are whole (AArch64 mov x16, #N; sub sp, sp, x16).
	v := int64(int32(uint32(c)))
	if d, ok := w.in.Decoder.(interface{ RegisterBits() int }); ok && d.RegisterBits() == 64 {
		v = c
	}
	if e.SPRegSub {
		return v, true // SP -= v: the stack grows by v
	}
	return -v, true
}

// spLimit is the offset from SP of the limit an instruction with
// SavesSPLimit saves: SPLimitOffset, or minus the constant in SPLimitReg
// when the code before proves it (checked again with the other SP
// registers once the whole function is known).
func (w *walker) spLimit(off int, e *isa.Effect) (int64, bool) {
	if !e.HasSPLimitReg {
		return e.SPLimitOffset, true
	}
	reg := *e
	reg.SPReg, reg.HasSPReg, reg.SPRegSub = e.SPLimitReg, true, true
	v, ok := w.spRegisterValue(w.spSlicer(), off, &reg)
	if !ok {
		return 0, false
	}
	if w.spRegs == nil {
		w.spRegs = map[int]int64{}
	}
	w.spRegs[off] = v
	return -v, true
}

// spSlicer is the slicer for the register of an SP move: any straight-line
// code when the decoder names every register write, else contiguous code.
func (w *walker) spSlicer() *slicer {
	s := w.newSlicer()
	if cd, ok := w.in.Decoder.(isa.CompleteDefs); !ok || !cd.CompleteDefs() {
		s.contiguous = true
	}
	return s
}

// checkSPRegisters confirms, once the whole function has been walked, the
// value of every SP move by a register taken during the walk.
func (w *walker) checkSPRegisters() {
	if len(w.spRegs) == 0 {
		return
	}
	s := w.spSlicer()
	for off, want := range w.spRegs {
		e := &w.insts[w.index[off]-1].eff
		if e.HasSPLimitReg && !e.HasSPReg {
			// A probe loop's limit (spLimit).
			reg := *e
			reg.SPReg, reg.HasSPReg, reg.SPRegSub = e.SPLimitReg, true, true
			e = &reg
		}
		if v, ok := w.spRegisterValue(s, off, e); !ok || v != want {
			addr := w.addr(off)
			w.setKind(Unknown, addr, "SP moved at %#x by a register whose value another path can change", addr)
		}
	}
}
