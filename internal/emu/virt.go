package emu

import (
	"encoding/binary"
	"fmt"
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
		return fn.Name
	}
	return ""
}
