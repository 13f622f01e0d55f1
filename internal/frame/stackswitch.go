package frame

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// Stack switches by a load of SP (RISC-V RTOS ports; Cortex-M ports move
// PSP instead, see reset.go). Two shapes are proved from the code:
//
//   - SP loaded from a word of read-only data (FreeRTOS's trap handler:
//     lw sp, xISRStackTop, a const the linker filled with the top of the
//     interrupt stack). The value is in the ELF (Input.ReadWord): the
//     code after the load runs from the top of that stack, as after a
//     reset (a Reset with Stack set, or the main stack's reset when the
//     word is its top).
//   - SP loaded from the first word of the task control block an RTOS
//     variable points to (Input.TaskPointer: FreeRTOS's pxCurrentTCB,
//     whose first member is the task's saved SP), then only loads and
//     pops to a return (ret or mret) with no call or branch: the code
//     resumes a task on the task's own stack (xPortStartFirstTask, the
//     trap handler's context restore). The path ends there, as at a
//     return: the task's stack is the task's, judged with the task.
//
// Anything else stays a write not modelled.

// TaskSwitch is one place where the code switches SP to a task's saved SP
// and resumes the task.
type TaskSwitch struct {
	Addr   uint64
	Detail string
}

// maxResume bounds the instructions from a task switch to its return: a
// context restore reloads about 30 registers.
const maxResume = 96

// loadSwitch classifies an SP write that is a load (isa.DefLoad of SP).
func (w *walker) loadSwitch(off int, addr uint64, e *isa.Effect, cond bool) (writeKind, bool) {
	if e.DefKind != isa.DefLoad || e.DefReg != w.spReg || !e.HasMem || e.MemIndex >= 0 || cond {
		return writeUnknown, false
	}
	if _, done := w.resetAt[off]; done {
		return writeReset, true
	}
	if e.MemBase < 0 {
		// SP = word at a constant address.
		at := uint64(e.MemDisp)
		if w.in.ReadWord != nil {
			if top, ok := w.in.ReadWord(at); ok && top != 0 {
				r := Reset{Addr: addr, off: off, src: -1, constant: true}
				if w.in.HasMainStack && top == w.in.MainStackTop {
					r.Detail = fmt.Sprintf("the read-only word at %#x, %#x, the stack top the program's entry sets", at, top)
				} else {
					r.Stack = top
					r.Detail = fmt.Sprintf("the read-only word at %#x: the top %#x of another stack", at, top)
				}
				w.addReset(off, r)
				return writeReset, true
			}
		}
		// SP = the pointer variable itself, then SP = its first word.
		name, ok := w.taskPointer(at)
		if !ok {
			return writeUnknown, false
		}
		next := off + e.Len
		if next >= w.segEnd(off) || w.isData(next) {
			return writeUnknown, false
		}
		in := w.decode(next)
		n := &in.eff
		if in.failed() || n.DefKind != isa.DefLoad || n.DefReg != w.spReg || !n.HasMem || n.MemBase != w.spReg || n.MemIndex >= 0 || n.MemDisp != 0 {
			return writeUnknown, false
		}
		return w.taskSwitch(next+n.Len, addr, name)
	}
	if e.MemDisp != 0 {
		return writeUnknown, false
	}
	// SP = first word of what a register holds: Load(C), C the variable.
	budget := maxSlice
	v := w.resetSlicer().reg(off, e.MemBase, &budget)
	if v.Kind != ValueLoad || v.Indexed || v.Off != 0 || v.Addr == nil || v.Addr.Kind != ValueConst || v.Addr.Indexed {
		return writeUnknown, false
	}
	name, ok := w.taskPointer(uint64(v.Addr.Off))
	if !ok {
		return writeUnknown, false
	}
	return w.taskSwitch(off+e.Len, addr, name)
}

func (w *walker) taskPointer(at uint64) (string, bool) {
	if w.in.TaskPointer == nil {
		return "", false
	}
	return w.in.TaskPointer(at)
}

// taskSwitch accepts the switch at addr when the straight-line code from
// off only loads, pops and returns; it records it and ends the path.
func (w *walker) taskSwitch(off int, addr uint64, name string) (writeKind, bool) {
	for range maxResume {
		if off >= w.segEnd(off) || w.isData(off) {
			return writeUnknown, false
		}
		in := w.decode(off)
		e := &in.eff
		if in.failed() {
			return writeUnknown, false
		}
		switch e.SP {
		case isa.SPNone:
		case isa.SPAdd:
			if e.SPDelta < 0 {
				return writeUnknown, false // pushes onto the task's stack
			}
		default:
			return writeUnknown, false
		}
		switch e.Flow {
		case isa.FlowNext:
		case isa.FlowReturn:
			for _, t := range w.fr.TaskSwitches() {
				if t.Addr == addr {
					return writeTask, true
				}
			}
			r := w.rare()
			r.TaskSwitches = append(r.TaskSwitches, TaskSwitch{Addr: addr,
				Detail: fmt.Sprintf("SP loaded at %#x from the first word of the task control block %s points to (the task's saved SP), then the context popped and a return at %#x: the code resumes the task on its own stack", addr, name, w.addr(off))})
			return writeTask, true
		default:
			return writeUnknown, false
		}
		off += e.Len
	}
	return writeUnknown, false
}
