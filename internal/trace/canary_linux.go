//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"
)

// smashedCanary explains a crash that is not at a stack's limit by a stack
// buffer overrun the stack protector has not reported yet: a frame on the
// backtrace whose canary no longer holds the thread's guard value. An
// overrun that also overwrote a pointer crashes when the pointer is used,
// before the function returns and checks its canary (Juliet's CWE-121
// alloca cases die in printLine this way); the canary shows what happened.
//
// Only frames that keep the canary at a fixed offset from RBP are checked,
// with RBP known to be that frame's (see below): a wrong slot must never
// turn an ordinary crash into a reported overrun.
func (tr *tracer) smashedCanary(as *addrSpace, c *Crash, regs *unix.PtraceRegs, sig syscall.Signal) bool {
	if regs.Fs_base == 0 || len(c.states) == 0 {
		return false
	}
	guard, ok := as.mem.u64(regs.Fs_base + 0x28) // glibc's stack guard in the TCB
	if !ok || guard == 0 {
		return false
	}
	for i := 0; i < len(c.states) && i < len(c.all); i++ {
		fr := c.all[i]
		if fr.Function == "" {
			continue
		}
		rbp := c.states[i][dwRBP]
		// A caller's RBP is the one its callee saved: the frame's own, at
		// a call made after its prologue. The innermost frame may be in
		// its prologue or epilogue, where RBP is its caller's: check it
		// against the unwound CFA, and skip it when that is not known.
		if i == 0 && (len(c.states) < 2 || rbp+16 != c.states[1][dwRSP]) {
			continue
		}
		if rbp == 0 {
			continue
		}
		start := fr.PC - fr.Offset // the function's first instruction
		disp, storeEnd, ok := as.canarySlot(start)
		if !ok || fr.PC <= storeEnd {
			continue // no canary, or the prologue has not stored it yet
		}
		v, ok := as.mem.u64(uint64(int64(rbp) + disp))
		if !ok || v == guard {
			continue
		}
		c.Class = ClassStackOverrun
		c.Function = fr.Function
		c.LocalArrays = tr.localArrays(as, c.all, i)
		crashedIn := callerName(c.all, 0)
		c.Detail = fmt.Sprintf("%s (%s) in %s while the stack protector canary of %s was already overwritten: a local buffer of %s was overrun (the check at its return never ran)",
			map[bool]string{true: "invalid memory access", false: "crash"}[sig == unix.SIGSEGV], c.Signal, crashedIn, fr.Function, fr.Function)
		if len(c.LocalArrays) > 0 {
			c.Detail += "; its local arrays: " + strings.Join(c.LocalArrays, ", ")
		}
		return true
	}
	return false
}

// canarySlot decodes the start of the function at addr (in the tracee's
// memory) for GCC's and Clang's stack-protector prologue: a load of
// fs:0x28 into a register, then a store of that register to [rbp+disp]. It
// returns disp and the address just past the store.
func (as *addrSpace) canarySlot(addr uint64) (disp int64, end uint64, ok bool) {
	code := make([]byte, 96)
	if !as.mem.read(addr, code) {
		return 0, 0, false
	}
	var guardReg x86asm.Reg
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			return 0, 0, false
		}
		next := off + in.Len
		switch in.Op {
		case x86asm.MOV:
			dst, _ := in.Args[0].(x86asm.Reg)
			if m, isMem := in.Args[1].(x86asm.Mem); isMem && m.Segment == x86asm.FS && m.Base == 0 && m.Index == 0 && m.Disp == 0x28 && dst != 0 {
				guardReg = dst
			} else if m, isMem := in.Args[0].(x86asm.Mem); isMem && guardReg != 0 && m.Base == x86asm.RBP && m.Index == 0 && m.Segment == 0 {
				if src, _ := in.Args[1].(x86asm.Reg); src == guardReg {
					return int64(int32(m.Disp)), addr + uint64(next), true // a disp32 comes zero-extended
				}
			}
		case x86asm.CALL, x86asm.RET, x86asm.JMP:
			return 0, 0, false // past the prologue
		}
		off = next
	}
	return 0, 0, false
}

// siKernel is si_code SI_KERNEL: on x86-64 a general-protection fault,
// such as an access through a non-canonical address.
const siKernel = 0x80

// gpAddress describes a general-protection fault from the faulting
// instruction: the address its memory operand computes, and whether that
// address is made of data bytes (a pointer overwritten by an overrun). It
// returns the text and the address (0 when it could not be worked out).
func gpAddress(as *addrSpace, regs *unix.PtraceRegs) (string, uint64) {
	const plain = "(a general-protection fault)"
	code := make([]byte, 16)
	if !as.mem.read(regs.Rip, code) {
		return plain, 0
	}
	in, err := x86asm.Decode(code, 64)
	if err != nil {
		return plain, 0
	}
	for _, a := range in.Args {
		m, ok := a.(x86asm.Mem)
		if !ok || m.Segment != 0 {
			continue
		}
		addr := uint64(int64(int32(m.Disp))) // a disp32 comes zero-extended
		var through []string
		if m.Base != 0 {
			v, ok := regValue(regs, m.Base)
			if !ok {
				return plain, 0
			}
			addr += v
			through = append(through, fmt.Sprintf("%s = %#x", strings.ToLower(m.Base.String()), v))
		}
		if m.Index != 0 {
			v, ok := regValue(regs, m.Index)
			if !ok {
				return plain, 0
			}
			addr += v * uint64(m.Scale)
			through = append(through, fmt.Sprintf("%s = %#x", strings.ToLower(m.Index.String()), v))
		}
		s := fmt.Sprintf("at the non-canonical address %#x (a general-protection fault; %s)", addr, strings.Join(through, ", "))
		if looksLikeData(addr) {
			s += fmt.Sprintf(": the address is data (%q), a pointer overwritten, typically by a buffer overrun", dataBytes(addr))
		}
		return s, addr
	}
	return plain, 0
}

// dataRun is the evidence that a pointer was overwritten by a stack buffer
// overrun: the bad pointer (its high bytes: the low byte may carry an
// offset the code added) is the value of a pointer variable of a frame on
// the backtrace (DWARF says where it lives), and that variable lies inside
// a run of at least minRun bytes of the same data. An array that merely
// holds the same bytes (the source of a copy that overran elsewhere, say
// on the heap) is not evidence: only a pointer variable's slot counts. It
// returns the frame whose variable it is.
func (tr *tracer) dataRun(as *addrSpace, c *Crash, addr uint64) (frame int, start, end uint64, ok bool) {
	const minRun = 32
	if !looksLikeData(addr) || len(c.states) == 0 {
		return 0, 0, 0, false
	}
	lo := c.states[0][dwRSP]
	hi := c.states[len(c.states)-1][dwRSP] + 4096 // the last frame's own part, roughly
	if hi <= lo || hi-lo > 1<<20 {
		return 0, 0, 0, false
	}
	// Read a page at a time: the stack's mapping may end before hi.
	var buf []byte
	page := make([]byte, 4096)
	for at := lo; at < hi; {
		// Up to the next page boundary, so that a read never spans an
		// unmapped page.
		n := min(4096-at%4096, hi-at)
		if !as.mem.read(at, page[:n]) {
			break
		}
		buf = append(buf, page[:n]...)
		at += n
	}
	fill := byte(addr >> 56) // the pattern byte: the top byte is untouched by small offsets
	for i := 0; i+8 <= len(buf); i += 8 {
		w := binary.LittleEndian.Uint64(buf[i:])
		if w>>8 != addr>>8 {
			continue
		}
		// The run of fill bytes around the word.
		a, b := i, i+8
		for a > 0 && buf[a-1] == fill {
			a--
		}
		for b < len(buf) && buf[b] == fill {
			b++
		}
		if b-a < minRun {
			continue
		}
		at := lo + uint64(i)
		if f, ok := as.pointerSlotAt(c, at); ok {
			return f, lo + uint64(a), lo + uint64(b), true
		}
	}
	return 0, 0, 0, false
}

// pointerSlotAt finds the frame one of whose pointer variables (by DWARF,
// CFA-relative) is stored at address at.
func (as *addrSpace) pointerSlotAt(c *Crash, at uint64) (int, bool) {
	for k := 0; k < len(c.states) && k < len(c.all); k++ {
		// The frame's CFA: the caller's SP; for the outermost unwound
		// frame, RBP+16 when RBP is its frame pointer.
		var cfa uint64
		if k+1 < len(c.states) {
			cfa = c.states[k+1][dwRSP]
		} else {
			cfa = c.states[k][dwRBP] + 16
		}
		if at < c.states[k][dwRSP] || at >= cfa {
			continue
		}
		pc := c.all[k].PC
		if k > 0 {
			pc-- // the call instruction
		}
		mod := as.moduleAt(pc)
		if mod == nil {
			return 0, false
		}
		for _, sl := range mod.file.PointerSlots(pc - mod.bias) {
			if uint64(int64(cfa)+sl.Off) == at {
				return k, true
			}
		}
		return 0, false
	}
	return 0, false
}

func regValue(r *unix.PtraceRegs, reg x86asm.Reg) (uint64, bool) {
	switch reg {
	case x86asm.RAX:
		return r.Rax, true
	case x86asm.RBX:
		return r.Rbx, true
	case x86asm.RCX:
		return r.Rcx, true
	case x86asm.RDX:
		return r.Rdx, true
	case x86asm.RSI:
		return r.Rsi, true
	case x86asm.RDI:
		return r.Rdi, true
	case x86asm.RBP:
		return r.Rbp, true
	case x86asm.RSP:
		return r.Rsp, true
	case x86asm.R8:
		return r.R8, true
	case x86asm.R9:
		return r.R9, true
	case x86asm.R10:
		return r.R10, true
	case x86asm.R11:
		return r.R11, true
	case x86asm.R12:
		return r.R12, true
	case x86asm.R13:
		return r.R13, true
	case x86asm.R14:
		return r.R14, true
	case x86asm.R15:
		return r.R15, true
	}
	return 0, false
}

// looksLikeData: at least six of the eight bytes are printable ASCII, or
// all eight are one repeated byte (a fill pattern).
func looksLikeData(v uint64) bool {
	printable, same := 0, true
	first := byte(v)
	for i := 0; i < 8; i++ {
		b := byte(v >> (8 * i))
		if b >= 0x20 && b < 0x7f {
			printable++
		}
		if b != first {
			same = false
		}
	}
	return printable >= 6 || (same && first != 0 && first != 0xff)
}

func dataBytes(v uint64) string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return string(b)
}
