package emu

import (
	"encoding/binary"
	"fmt"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/rtos"
	"strings"
	"time"
)

// riscvRegisters reads QEMU's "g" reply for a RISC-V core: x0-x31 then pc,
// XLEN bits each, little-endian (the target description's core feature,
// org.gnu.gdb.riscv.cpu; the FPU and CSRs are separate features, not in
// "g").
func riscvRegisters(b []byte, xlen int) (*Registers, error) {
	w := xlen / 8
	if len(b) < 33*w {
		return nil, fmt.Errorf("reading registers: %d bytes, want at least %d (x0-x31 and pc, %d bytes each)", len(b), 33*w, w)
	}
	word := func(i int) uint64 {
		if w == 8 {
			return binary.LittleEndian.Uint64(b[i*8:])
		}
		return uint64(binary.LittleEndian.Uint32(b[i*4:]))
	}
	r := &Registers{RISCV: true}
	for i := range r.X {
		r.X[i] = word(i)
	}
	r.XPC = word(32)
	return r, nil
}

// checkRISCVTarget reads the stub's target description (qXfer
// features:read) and checks that its architecture is the board's XLEN:
// the register reads above assume it.
func (m *Machine) checkRISCVTarget() error {
	var xml strings.Builder
	err := m.guard(10*time.Second, func() error {
		for off := 0; off < 1<<20; {
			p, err := m.rsp.Exchange(fmt.Sprintf("qXfer:features:read:target.xml:%x,%x", off, 0xff0))
			if err != nil {
				return err
			}
			if len(p) == 0 || (p[0] != 'l' && p[0] != 'm') {
				return fmt.Errorf("unexpected reply %q to qXfer:features:read", short(string(p)))
			}
			xml.Write(p[1:])
			off += len(p) - 1
			if p[0] == 'l' {
				return nil
			}
		}
		return fmt.Errorf("target description over 1 MiB")
	})
	if err != nil {
		return fmt.Errorf("QEMU's GDB stub: target description: %v", err)
	}
	want := fmt.Sprintf("riscv:rv%d", m.Board.XLEN)
	if !strings.Contains(xml.String(), "<architecture>"+want+"</architecture>") {
		return fmt.Errorf("QEMU's GDB stub describes no %s target: %q", want, short(xml.String()))
	}
	return nil
}

// riscvEndless reports whether the instruction at pc jumps to itself:
// "j ." (jal x0, 0: 0x0000006f) or its compressed form "c.j ." (0xa001).
func riscvEndless(b []byte) bool {
	if len(b) >= 2 && binary.LittleEndian.Uint16(b) == 0xa001 {
		return true
	}
	return len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0x0000006f
}

// riscvStuck: a RISC-V core has no lockup state; a trap with no handler
// (mtvec still 0 after reset, or pointing nowhere) makes it fetch from
// where there is no memory, fault, and trap to the same place forever.
// Reported as a lockup at the stop that finds it there, nil otherwise.
func (m *Machine) riscvStuck(regs *Registers) *Stop {
	if _, err := m.ReadMemory(regs.PC(), 2); err == nil {
		return nil
	}
	return &Stop{Kind: StopLockup, Regs: regs, Alive: true,
		Detail: fmt.Sprintf("the core fetches from %#x, where the board has no memory (a trap with no handler: mtvec unset?)", regs.PC())}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// riscvSemihostingCalls finds RISC-V semihosting calls in the image's
// code: the uncompressed sequence "slli x0, x0, 0x1f; ebreak; srai x0,
// x0, 7" QEMU recognises, at any 2-byte boundary (compressed code puts
// 4-byte instructions there). The breakpoint goes on the slli, so that the
// stop comes before the call with a0 (the operation) and a1 readable.
func riscvSemihostingCalls(f *binfile.File) []uint64 {
	const slli, ebreak, srai = 0x01f01013, 0x00100073, 0x40705013
	var out []uint64
	execSections(f, func(addr uint64, data []byte) {
		for i := 0; i+12 <= len(data); i += 2 {
			if binary.LittleEndian.Uint32(data[i:]) == slli && binary.LittleEndian.Uint32(data[i+4:]) == ebreak &&
				binary.LittleEndian.Uint32(data[i+8:]) == srai {
				out = append(out, addr+uint64(i))
			}
		}
	})
	return out
}

// noDeepestOnRISCV says on every measured stack why it has no deepest
// path: the watchpoint ratchet is Cortex-M's (it knows how far a Thumb
// store reaches below its base register, and Cortex-M exception frames).
func noDeepestOnRISCV(res *Result) {
	for i := range res.Stacks {
		if s := &res.Stacks[i]; s.Peak != nil && s.Deepest == nil {
			s.DeepestNote = "the watchpoint ratchet follows Cortex-M code only, not RISC-V (the peak is read from the paint)"
		}
	}
}

// initialEntryRISCV reads the entry function from the frame FreeRTOS's
// RISC-V port builds on a new task's stack (pxPortInitialiseStack): its
// lowest word, at pxTopOfStack, is the mepc the first context restore
// returns to, the task's function. "" once the task has run.
func (t *freertosTasks) initialEntryRISCV(m *Machine, tk rtos.Task) string {
	b, err := m.ReadMemory(tk.TopOfStack, int(t.word))
	if err != nil || len(b) < int(t.word) {
		return ""
	}
	pc := uint64(binary.LittleEndian.Uint32(b))
	if t.word == 8 {
		pc = binary.LittleEndian.Uint64(b)
	}
	if fn, ok := t.f.FunctionAt(pc); ok && fn.Addr == pc {
		return fn.Name()
	}
	return ""
}

// trapStack is a RISC-V trap handler's own stack (FreeRTOS's xISRStack:
// a static array the handler switches SP to), painted at main (it is in
// .bss, which the startup code clears) and read back at the end, beside
// the analysis's need on it.
type trapStack struct {
	name       string
	limit, top uint64
	need       *int64
	needLeast  int64
	painted    bool
	lowest     uint64
	disturbed  bool
	measured   bool
}

// isrFill is the word FreeRTOS's RISC-V port fills xISRStack with
// (portISR_STACK_FILL_BYTE 0xee) in xPortStartScheduler when
// configASSERT is defined: it overwrites stackscope's paint, so a word
// that holds either was not written by the handlers.
const isrFill = 0xeeeeeeee

func isrUntouched(w uint32) bool { return w == Paint || w == isrFill }

// trapStacks are the analysis's trap handlers' own stacks of known size.
func trapStacks(res *analysis.Result) []*trapStack {
	var out []*trapStack
	if res.Interrupts == nil {
		return nil
	}
	for _, h := range res.Interrupts.Handlers {
		s := h.OwnStack
		if s == nil || s.Size == nil || *s.Size <= 0 || uint64(*s.Size) > s.Top {
			continue
		}
		ts := &trapStack{name: s.Symbol, top: s.Top &^ 3, limit: (s.Top - uint64(*s.Size) + 3) &^ 3, needLeast: s.Need}
		if ts.name == "" {
			ts.name = h.Name + "'s stack"
		}
		if !s.NeedAtLeast {
			need := s.Need
			ts.need = &need
		}
		dup := false
		for _, o := range out {
			dup = dup || o.top == ts.top
		}
		if !dup && ts.top > ts.limit {
			out = append(out, ts)
		}
	}
	return out
}

func (ts *trapStack) paint(m *Machine) error {
	if err := m.Paint(ts.limit, ts.top, Paint); err != nil {
		return fmt.Errorf("painting %s: %v", ts.name, err)
	}
	ts.painted = true
	return nil
}

func (ts *trapStack) measure(m *Machine) error {
	if !ts.painted {
		return nil
	}
	r := &ratchet{name: ts.name, limit: ts.limit, top: ts.top, untouched: isrUntouched}
	a, ok, err := r.scan(m, ts.top)
	if err != nil {
		return fmt.Errorf("reading %s back: %v", ts.name, err)
	}
	ts.lowest, ts.disturbed, ts.measured = a, ok, true
	return nil
}

func (ts *trapStack) result() StackResult {
	s := StackResult{Name: ts.name, Kind: "trap", Top: ts.top, Limit: ts.limit, Size: int64(ts.top - ts.limit),
		StaticBound: ts.need, StaticAtLeast: ts.needLeast, Bounded: ts.need != nil,
		DeepestNote: "the watchpoint ratchet follows Cortex-M code only, not RISC-V (the peak is read from the paint)"}
	if !ts.measured {
		s.NotMeasured = "the trap handler's own stack is painted at main (it lies in .bss), and the run did not get there"
		s.DeepestNote = ""
		return s
	}
	peak := int64(0)
	if ts.disturbed {
		peak = int64(ts.top - ts.lowest)
	}
	s.Peak = &peak
	s.Overflowed = ts.disturbed && ts.lowest == ts.limit
	h := s.Size - peak
	s.Headroom = &h
	return s
}
