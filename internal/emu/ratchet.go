package emu

import (
	"encoding/binary"
	"fmt"
)

// Deepest is the write that took a stack to its deepest measured point,
// as the watchpoint ratchet caught it: the PC of the storing instruction,
// SP before it, and the backtrace there, innermost frame first.
type Deepest struct {
	PC       uint64 `json:"pc"`
	Function string `json:"function"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	SP       uint64 `json:"sp"`
	// Addr is the lowest word disturbed after the write; Depth is the
	// stack's top minus Addr.
	Addr  uint64 `json:"addr"`
	Depth int64  `json:"depth"`
	// InException: the core was in an exception handler (an interrupt, or
	// a context switch saving a task's registers on its stack).
	InException bool    `json:"in_exception,omitempty"`
	Backtrace   []Frame `json:"backtrace"`
	// Steps is how many times the ratchet moved on this stack.
	Steps int    `json:"steps"`
	Note  string `json:"note,omitempty"`
}

// ratchet is a write watchpoint over the untouched part of one stack,
// [limit, lowest): it fires only when the stack gets deeper, and each time
// it records who did it and moves down. With QEMU's TCG the watchpoint is
// software: any length, and as many as there are stacks (a real Cortex-M3
// or M4 has four DWT comparators, each a power-of-two range).
type ratchet struct {
	name       string
	limit, top uint64
	untouched  func(uint32) bool
	lowest     uint64 // lowest disturbed word so far; top when none
	stepped    int    // stores stepped over (see fire)
	pending    *pendingStore
	armed      bool
	armedLen   int
	steps      int
	deepest    *Deepest
	// task: a task's stack, written in handler mode only by the context
	// switch; the task's own path is then in the exception frame.
	task bool
	// entry ends a task's backtrace (what lies above it is the port's
	// start-up frame, not the task's path).
	entry string
}

// covers reports whether a watchpoint address belongs to this ratchet.
func (r *ratchet) covers(addr uint64) bool {
	return r.armed && addr >= r.limit && addr < r.limit+uint64(r.armedLen)
}

// arm sets the watchpoint over [limit, top). Once the stack has reached
// its limit the ratchet stops: what lies below is not this stack's, and
// writes there are not its depth.
func (r *ratchet) arm(m *Machine, top uint64) error {
	if top <= r.limit {
		return nil
	}
	n := int(top - r.limit)
	if err := m.SetWriteWatch(r.limit, n); err != nil {
		return fmt.Errorf("write watchpoint over the %s stack (%#x, %d bytes): %v", r.name, r.limit, n, err)
	}
	r.armed, r.armedLen = true, n
	return nil
}

func (r *ratchet) disarm(m *Machine) error {
	if !r.armed {
		return nil
	}
	r.armed = false
	return m.RemoveWriteWatch(r.limit, r.armedLen)
}

// scan finds the lowest disturbed word of [limit, below).
func (r *ratchet) scan(m *Machine, below uint64) (uint64, bool, error) {
	const chunk = 4096
	for a := r.limit; a < below; a += chunk {
		b, err := m.ReadMemory(a, int(min(chunk, below-a)))
		if err != nil {
			return 0, false, err
		}
		for i := 0; i+4 <= len(b); i += 4 {
			if !r.untouched(binary.LittleEndian.Uint32(b[i:])) {
				return a + uint64(i), true, nil
			}
		}
	}
	return 0, false, nil
}

// fire handles a stop on this ratchet's watchpoint: find the new lowest
// word, record the write that reached it, and move down.
//
// QEMU (7.2, Arm) stops before the store: the PC is the storing
// instruction and SP is still the one before it. Neither stepping over it
// nor a breakpoint after it leaves the firmware alone: QEMU single-steps
// with interrupts masked, and a breakpoint makes it translate the code
// around it one instruction at a time, which moves where a pended
// interrupt is taken (the tests saw both change the tasks' peaks). So the
// ratchet lets the store run by moving the watchpoint below it: no store
// of Thumb code reaches further than 256 bytes below its base register
// (push and stmdb 64 bytes, vpush 128, a negative offset 255), and the
// base is SP or another register that points into the stack. The store
// stays pending, with its registers and backtrace taken now, and is
// credited with the depth found at the next stop of this ratchet or at
// the end. Writes in that gap are not watched: the depth is still read
// from the paint, only the attribution may go to the last store caught.
func (r *ratchet) fire(m *Machine, regs *Registers, u *unwinder) error {
	if err := r.disarm(m); err != nil {
		return err
	}
	if p := r.pending; p != nil && *p.before == *regs {
		// The same store again: its target was not where the registers
		// said. Step it, the one way left (interrupts masked for one
		// instruction), and say so.
		r.stepped++
		var serr error
		m.guard(requestTimeout, func() error { _, serr = m.rsp.Step(); return serr })
		if serr != nil && !m.exitedNow() {
			return fmt.Errorf("stepping over the store at %#x: %v", regs.PC(), serr)
		}
		if err := r.settle(m); err != nil {
			return err
		}
		return r.arm(m, r.lowest)
	}
	if err := r.settle(m); err != nil {
		return err
	}
	before := *regs
	r.pending = &pendingStore{before: &before, backtrace: r.backtrace(m, regs, u)}
	below := r.lowest
	for _, v := range regs.R[:14] {
		if uint64(v) >= r.limit && uint64(v) < r.top && uint64(v) < below+storeReach {
			below = min(below, uint64(v))
		}
	}
	if below < r.limit+storeReach {
		return nil // no room left below: the end of the run reads it
	}
	return r.arm(m, min(r.lowest, (below-storeReach)&^3))
}

// storeReach is how far below its base register a Thumb store may write.
const storeReach = 256

// pendingStore is a store the ratchet caught and let run.
type pendingStore struct {
	before    *Registers
	backtrace []Frame
}

// settle credits the pending store with the depth the stack has reached
// since it was caught.
func (r *ratchet) settle(m *Machine) error {
	p := r.pending
	if p == nil {
		return nil
	}
	r.pending = nil
	a, ok, err := r.scan(m, r.lowest)
	if err != nil {
		return err
	}
	if ok {
		r.lowest = a
		r.steps++
		r.record(p.before, p.backtrace)
	}
	return nil
}

// backtrace is the path at a caught store, innermost frame first. In
// handler mode on a task's stack it is the context switch saving the
// task's registers: the task's own path is below the frame the core
// pushed on its stack.
func (r *ratchet) backtrace(m *Machine, regs *Registers, u *unwinder) []Frame {
	var bt []Frame
	if regs.XPSR&0x1ff != 0 && r.task {
		// The GDB stub does not give PSP: find the frame just above the
		// lowest word (the registers the switch saves are below it).
		// The core's stacking is not a watched store, so the frame may
		// already be below the lowest word the ratchet knows: read it.
		lo := r.lowest
		if a, ok, err := r.scan(m, r.top); err == nil && ok {
			lo = a
		}
		bt = []Frame{u.frame(uint64(regs.PC()), uint64(regs.SP()))}
		if pc, lr, sp, ok := exceptionFrameAbove(m, u, lo, r.top); ok {
			bt = append(bt, u.backtrace(m, pc, sp, lr, 0, false)...)
		}
	} else {
		bt = u.backtrace(m, uint32(regs.PC()), uint32(regs.SP()), uint32(regs.LR()), regs.R[7], true)
	}
	if r.entry != "" {
		for i, f := range bt {
			if f.Function == r.entry {
				bt = bt[:i+1]
				break
			}
		}
	}
	return bt
}

// record makes the store at regs, with its backtrace, the deepest.
func (r *ratchet) record(regs *Registers, bt []Frame) {
	d := &Deepest{PC: uint64(regs.PC()), SP: uint64(regs.SP()), Addr: r.lowest, Depth: int64(r.top - r.lowest), Steps: r.steps,
		InException: regs.XPSR&0x1ff != 0, Backtrace: append([]Frame(nil), bt...)}
	if len(bt) > 0 {
		d.Function, d.File, d.Line = bt[0].Function, bt[0].File, bt[0].Line
	}
	if d.InException && r.task {
		if len(bt) > 1 {
			d.Note = fmt.Sprintf("written by %s, saving the task's registers at a context switch; the task was in %s", d.Function, bt[1].Function)
		} else {
			d.Note = fmt.Sprintf("written by %s in handler mode; the task's own frames were not found", d.Function)
		}
	}
	// The innermost frame is given what the rest leaves of the depth: the
	// store (a push, a context save) and what followed it are in it.
	if len(d.Backtrace) > 0 {
		rest := int64(0)
		for _, f := range d.Backtrace[1:] {
			rest += f.Size
		}
		if d.Depth-rest > d.Backtrace[0].Size {
			d.Backtrace[0].Size = d.Depth - rest
		}
	}
	r.deepest = d
}

// exceptionFrameAbove looks for the frame the core pushed on a task's
// stack at an exception entry, in the 40 words above lo (the context
// switch saves at most r4-r11, EXC_RETURN and s16-s31 below it): a stacked
// xPSR with the Thumb bit and no exception number in thread mode, below
// it a PC inside a function. It returns the interrupted PC, LR and SP.
func exceptionFrameAbove(m *Machine, u *unwinder, lo, top uint64) (pc, lr, sp uint32, ok bool) {
	n := min(uint64(40*4+32), top-lo)
	b, err := m.ReadMemory(lo, int(n))
	if err != nil {
		return 0, 0, 0, false
	}
	// The frame is r0 r1 r2 r3 r12 lr pc xpsr: try each word as r0.
	for i := 0; i+32 <= len(b); i += 4 {
		xpsr := binary.LittleEndian.Uint32(b[i+28:])
		fpc := binary.LittleEndian.Uint32(b[i+24:])
		if xpsr&(1<<24) == 0 || xpsr&0x1ff != 0 || fpc&1 != 0 {
			continue
		}
		if _, in := u.f.Containing(uint64(fpc)); !in {
			continue
		}
		size := uint32(32)
		if xpsr&(1<<9) != 0 {
			size += 4
		}
		// An extended (FP) frame has s0-s15, FPSCR and a reserved word
		// above the basic one. The ARM_CM4F port saves s16-s31 just below
		// the frame and then r4-r11 and EXC_RETURN: an EXC_RETURN with bit
		// 4 clear 64 bytes lower says the frame is extended.
		if j := i - 4 - 64; j >= 0 {
			if er := binary.LittleEndian.Uint32(b[j:]); excReturn(er) && er&(1<<4) == 0 {
				size += 0x48
			}
		}
		return fpc, binary.LittleEndian.Uint32(b[i+20:]), uint32(lo) + uint32(i) + size, true
	}
	return 0, 0, 0, false
}
