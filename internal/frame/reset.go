package frame

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// Cortex-M stack writes. The processor has two stack pointers: MSP, which
// handler mode always runs on (and thread mode after reset), and PSP, which
// thread mode runs on once CONTROL.SPSEL is set (an RTOS's tasks). The walk
// resolves three kinds of write that the decoder leaves SPUnknown:
//
//   - msr psp and msr control: walked past as if SP did not move, and
//     listed in Frame.SysWrites. That is true in handler mode (and for PSP
//     whenever the code runs on MSP); the analysis checks that the function
//     runs only there and makes it unknown otherwise.
//   - SP or MSP set to the top of the main stack (the initial SP in word 0
//     of the vector table): a reset. The code after it runs from depth 0 of
//     the main stack (Frame.ResetSize, calls with AfterReset), independent
//     of its callers. The value must be shown by the straight-line code
//     before the write: a literal or movw/movt equal to the initial SP, or
//     FreeRTOS's (and Zephyr's, ChibiOS's...) VTOR chain, ldr r0,=0xE000ED08;
//     ldr r0,[r0]; ldr r0,[r0], which assumes VTOR points at the ELF's
//     vector table (Reset.VTOR). An msr msp moves the running SP only when
//     it is MSP (Reset.Reg): the analysis checks that too.
//   - Any other value (another constant, a load from memory) stays unknown.

// Reset is one place where SP is set to the top of the main stack.
type Reset struct {
	Addr uint64
	// Reg is isa.SysMSP for msr msp,rX, which moves the running SP only
	// when that is MSP, and isa.SysNone for a write of SP itself (mov
	// sp,rX), which moves whichever SP is running.
	Reg isa.SysReg
	// VTOR: the value was read through the Vector Table Offset Register;
	// it is the initial SP if VTOR points at the ELF's vector table.
	VTOR bool
	// Detail says where the value comes from, for reports.
	Detail string
	off    int
	src    int8
	// constant: the instruction holds the value itself (RISC-V la sp,
	// sym): nothing before it to check again.
	constant bool
	// Stack, when not 0, is the top of another stack than the main one
	// that SP is set to (a word of read-only data: FreeRTOS's RISC-V
	// xISRStackTop, see stackswitch.go): the code after runs from it.
	Stack uint64
}

// SysWrite is an msr to PSP or CONTROL the walk went past without moving SP.
type SysWrite struct {
	Addr uint64
	Reg  isa.SysReg
	// Value is the value written when the code right before shows it
	// (Known): CONTROL written with SPSEL clear keeps thread mode on MSP.
	Value int64
	Known bool
	off   int
}

// vtorAddr is the address of the Vector Table Offset Register (SCB->VTOR).
const vtorAddr = 0xE000ED08

type writeKind uint8

const (
	writeUnknown    writeKind = iota // SP written in a way not modelled
	writeOtherStack                  // msr psp/control: the running SP does not move
	writeReset                       // SP set to the top of the main stack
	writeTask                        // SP set to a task's saved SP: the task resumes (stackswitch.go)
)

// stackWrite classifies an SPUnknown instruction at off (conditional when
// cond: inside an IT block).
func (w *walker) stackWrite(off int, e *isa.Effect, cond bool) writeKind {
	addr := w.addr(off)
	if e.SysReg == isa.SysPSP || e.SysReg == isa.SysControl {
		w.noteSysWrite(off, addr, e)
		return writeOtherStack
	}
	if w.copies && (e.DefKind == isa.DefConst || e.DefKind == isa.DefAddr) && e.DefReg == w.spReg {
		return w.constantReset(off, addr, e, cond)
	}
	if k, ok := w.loadSwitch(off, addr, e, cond); ok {
		return k
	}
	src, ok := spSource(e)
	if !ok || !w.in.HasMainStack || cond || w.refused[off] {
		return writeUnknown
	}
	if _, done := w.resetAt[off]; done {
		return writeReset
	}
	r, ok := w.resetValue(w.resetSlicer(), off, src)
	if !ok {
		if w.refused == nil {
			w.refused = map[int]bool{}
		}
		w.refused[off] = true
		return writeUnknown
	}
	r.Addr, r.Reg, r.off, r.src = addr, e.SysReg, off, src
	w.addReset(off, r)
	return writeReset
}

// addReset records the reset r at off.
func (w *walker) addReset(off int, r Reset) {
	if w.resetAt == nil {
		w.resetAt = map[int]int{}
		w.resetSeen = make([]int64, len(w.code))
		w.resetVisits = make([]uint8, len(w.code))
		for i := range w.resetSeen {
			w.resetSeen[i] = -1
		}
	}
	w.resetAt[off] = len(w.fr.Resets)
	w.fr.Resets = append(w.fr.Resets, r)
}

// constantReset classifies an instruction that sets SP to the constant
// it holds (RISC-V la sp, __stack): a reset when the constant is the top
// of the main stack, else a write not modelled.
func (w *walker) constantReset(off int, addr uint64, e *isa.Effect, cond bool) writeKind {
	if _, done := w.resetAt[off]; done {
		return writeReset
	}
	if !w.in.HasMainStack || cond || uint64(e.DefValue) != w.in.MainStackTop {
		return writeUnknown
	}
	w.addReset(off, Reset{Addr: addr, off: off, src: -1, constant: true,
		Detail: fmt.Sprintf("the constant %#x, the stack top the program's entry sets", w.in.MainStackTop)})
	return writeReset
}

// spSource returns the register an SP or MSP write copies: msr msp, rX or
// mov sp, rX.
func spSource(e *isa.Effect) (int8, bool) {
	switch {
	case e.SysReg == isa.SysMSP:
		return e.SysSrc, true
	case e.SysReg == isa.SysNone && e.DefKind == isa.DefCopy && e.DefReg == 13 && e.DefValue == 0:
		return e.DefSrc, true
	}
	return 0, false
}

func (w *walker) noteSysWrite(off int, addr uint64, e *isa.Effect) {
	for _, s := range w.fr.SysWrites {
		if s.Addr == addr {
			return
		}
	}
	sw := SysWrite{Addr: addr, Reg: e.SysReg, off: off}
	sw.Value, sw.Known = w.constantIn(w.resetSlicer(), off, e.SysSrc)
	w.fr.SysWrites = append(w.fr.SysWrites, sw)
}

// maxSlice64 is the slice budget for the constants of 64-bit decoders.
const maxSlice64 = 32

// constantIn is the constant register r holds just before off, if the
// contiguous code before shows it.
func (w *walker) constantIn(s *slicer, off int, r int8) (int64, bool) {
	budget := maxSlice
	if d, ok := w.in.Decoder.(interface{ RegisterBits() int }); ok && d.RegisterBits() == 64 {
		// AArch64 builds a large constant over up to four instructions,
		// and GCC interleaves the builds of several (a frame's size and
		// an offset into it): a longer slice. Each step is still a proof
		// (isa.CompleteDefs).
		budget = maxSlice64
	}
	v := s.reg(off, r, &budget)
	if v.Kind == ValueConst && !v.Indexed {
		return v.Off, true
	}
	return 0, false
}

// srcAt is the source register of the msr at off.
func (w *walker) srcAt(off int) int8 {
	return w.insts[w.index[off]-1].eff.SysSrc
}

// resetSlicer is the slicer for SP values: contiguous code only.
func (w *walker) resetSlicer() *slicer {
	s := w.newSlicer()
	s.contiguous = true
	return s
}

// resetValue says whether register src holds the top of the main stack
// just before the instruction at off.
func (w *walker) resetValue(s *slicer, off int, src int8) (Reset, bool) {
	budget := maxSlice
	v := s.reg(off, src, &budget)
	top := uint32(w.in.MainStackTop)
	switch {
	case v.Kind == ValueConst && !v.Indexed && uint32(v.Off) == top:
		return Reset{Detail: fmt.Sprintf("a constant equal to the vector table's initial SP %#x", top)}, true
	case isVTORChain(v):
		return Reset{VTOR: true, Detail: fmt.Sprintf("word 0 of the vector table that VTOR (%#x) points to, the initial SP %#x if VTOR points at the ELF's vector table", vtorAddr, top)}, true
	}
	return Reset{}, false
}

// isVTORChain recognises Load(Load(0xE000ED08)): the first word of the
// vector table VTOR points to.
func isVTORChain(v *Value) bool {
	plainLoad := func(v *Value) bool {
		return v != nil && v.Kind == ValueLoad && v.Off == 0 && !v.Indexed && v.Addr != nil
	}
	if !plainLoad(v) || !plainLoad(v.Addr) {
		return false
	}
	a := v.Addr.Addr
	return a.Kind == ValueConst && !a.Indexed && a.Off == vtorAddr
}

// checkResets confirms, once the whole function has been walked, that no
// path found later joins the straight-line code a reset's value was read
// from: the reset is then unknown after all.
func (w *walker) checkResets() {
	if len(w.fr.Resets) == 0 && len(w.fr.SysWrites) == 0 {
		return
	}
	s := w.resetSlicer()
	for i := range w.fr.SysWrites {
		sw := &w.fr.SysWrites[i]
		if v, ok := w.constantIn(s, sw.off, w.srcAt(sw.off)); !ok || v != sw.Value {
			sw.Known = false
		}
	}
	for _, r := range w.fr.Resets {
		if r.constant {
			continue
		}
		if _, ok := w.resetValue(s, r.off, r.src); !ok {
			w.setKind(Unknown, r.Addr, "SP written at %#x with a value another path can change", r.Addr)
		}
	}
}
