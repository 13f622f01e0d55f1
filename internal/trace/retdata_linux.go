//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// returnedIntoData explains a crash by a `ret` that popped data: a buffer
// overrun of the returning function's frame ran over its return address
// (no stack protector, or one the overrun stayed clear of). Two shapes:
//
//   - the data is a canonical address with no code: `ret` jumped there and
//     the fetch faulted. PC is not in an executable mapping and the word
//     just below SP, where `ret` took it from, equals PC. A call through a
//     bad pointer (PC the same, but the return address on top of the stack)
//     is told apart: then [SP] is a return address after an indirect call;
//   - the data is non-canonical: `ret` itself raises a general-protection
//     fault (SI_KERNEL), PC is the `ret` and the word at SP is the data.
//
// Either way the value must be data that the stack around its slot is
// made of (dataRunAround): a run of the same bytes, or of values in
// arithmetic progression, as a copy or a loop writes, from below the slot
// up through it. A return address the program wrote there itself would not
// sit in such a run.
//
// Which function returned: in the second shape the one holding PC. In the
// first, its frame is gone, but the frames of the functions it called are
// still below SP: the nearest return address there that points after a
// call instruction, in a function whose frame (decoded from its code) puts
// its CFA exactly at SP, names it (returnedFunction). Without it the class
// is still an overrun (the evidence is the stack's), with the function
// unknown.
//
// It returns false, leaving the crash to the other classifiers, when the
// evidence is not all there; when only the data test fails it says
// "returned into data" instead of "other" (the caller's default).
func (tr *tracer) returnedIntoData(as *addrSpace, c *Crash, regs *unix.PtraceRegs, sig syscall.Signal, code int32) bool {
	if sig != unix.SIGSEGV && sig != unix.SIGBUS && sig != unix.SIGILL {
		return false
	}
	pc, sp := regs.Rip, regs.Rsp
	var slot, value uint64
	var fn *retFunc
	switch {
	case !as.executable(pc):
		v, ok := as.mem.u64(sp - 8)
		if !ok || v != pc || pc == 0 {
			return false
		}
		if ra, ok := as.mem.u64(sp); ok && as.afterIndirectCall(ra) {
			return false // a call through a bad pointer pushed [SP]
		}
		slot, value = sp-8, v
	case sig == unix.SIGSEGV && code == siKernel && as.isRet(pc):
		v, ok := as.mem.u64(sp)
		if !ok || canonical(v) {
			return false
		}
		slot, value = sp, v
		if len(c.all) > 0 && c.all[0].Function != "" {
			fr := c.all[0]
			fn = &retFunc{frame: fr, callSite: fr}
		}
	default:
		return false
	}
	lo, hi, what, ok := as.dataRunAround(slot)
	if !ok {
		c.Class = ClassOther
		c.Function = ""
		c.Detail = fmt.Sprintf("returned into data: %s (%s) in thread %d: a `ret` popped %#x from %#x, which is not code; it does not match the stack around it, so no overrun is inferred",
			c.Signal, c.Code, c.TID, value, slot)
		return true
	}
	if fn == nil {
		fn = as.returnedFunction(slot + 8)
	}
	c.Class = ClassStackOverrun
	evidence := fmt.Sprintf("the return address slot %#x holds %#x, inside %d B of %s on the stack (%#x-%#x)", slot, value, hi-lo, what, lo, hi)
	if fn == nil {
		c.Function = ""
		c.Detail = fmt.Sprintf("%s (%s): a function returned into data; %s: a buffer overrun ran over its return address (inferred from the stack; no check fired); which function returned is not known: no return address of a call it made is left below SP",
			c.Signal, c.Code, evidence)
		return true
	}
	name := fn.frame.Function
	c.Function = name
	c.Module = moduleUnlessMain(fn.frame)
	c.LocalArrays = tr.localArrays(as, []Frame{fn.callSite}, 0)
	where := name
	if c.Module != "" {
		where += " (" + baseName(c.Module) + ")"
	}
	how := "returned into"
	if slot == sp {
		how = "tried to return to"
	}
	c.Detail = fmt.Sprintf("%s (%s): %s %s %#x, which is data; %s: a buffer of %s overran its frame up over the return address (inferred from the stack; no check fired)",
		c.Signal, c.Code, where, how, value, evidence, name)
	if fn.frame.PC != fn.callSite.PC && fn.callSite.File != "" {
		c.Detail += fmt.Sprintf("; its last call was at %s:%d", fn.callSite.File, fn.callSite.Line)
	}
	if len(c.LocalArrays) > 0 {
		c.Detail += "; its local arrays: " + strings.Join(c.LocalArrays, ", ")
	}
	return true
}

// retFunc is the function that returned: frame names it (its entry), and
// callSite is a frame at a return address inside it (for DWARF lookups,
// which use PC-1).
type retFunc struct {
	frame, callSite Frame
}

// canonical: an x86-64 address whose bits 63..47 are all equal.
func canonical(v uint64) bool {
	top := v >> 47
	return top == 0 || top == 1<<17-1
}

// isRet: the instruction at pc is a near return.
func (as *addrSpace) isRet(pc uint64) bool {
	code := make([]byte, 16)
	if !as.mem.read(pc, code) {
		return false
	}
	in, err := x86asm.Decode(code, 64)
	return err == nil && in.Op == x86asm.RET
}

// callBefore returns the call instruction that ends right at ra (ra is a
// return address), and its address.
func (as *addrSpace) callBefore(ra uint64) (x86asm.Inst, uint64, bool) {
	if ra < 16 || !as.executable(ra-1) {
		return x86asm.Inst{}, 0, false
	}
	code := make([]byte, 16)
	if !as.mem.read(ra-16, code) {
		return x86asm.Inst{}, 0, false
	}
	// Calls are 2 (call *%rax) to 7 (call *disp32(%rip) with a prefix)
	// bytes long; try each start.
	for n := 2; n <= 8; n++ {
		in, err := x86asm.Decode(code[16-n:], 64)
		if err == nil && in.Op == x86asm.CALL && in.Len == n {
			return in, ra - uint64(n), true
		}
	}
	return x86asm.Inst{}, 0, false
}

// afterIndirectCall: ra follows a call through a register or memory.
func (as *addrSpace) afterIndirectCall(ra uint64) bool {
	in, _, ok := as.callBefore(ra)
	if !ok {
		return false
	}
	_, direct := in.Args[0].(x86asm.Rel)
	return !direct
}

// dataRunAround finds the run of data around the 8-byte slot at addr: the
// stack from at least 8 bytes below it up through it (an overrun writes
// upwards from a buffer below) consists of elements of 1, 2, 4 or 8 bytes
// in arithmetic progression (a constant step, zero for a fill pattern),
// covering at least 32 bytes. All-zero runs are not data. It returns the
// run and a description of it.
func (as *addrSpace) dataRunAround(addr uint64) (lo, hi uint64, what string, ok bool) {
	const (
		window = 512
		minRun = 32
	)
	if addr < window || addr%8 != 0 {
		return 0, 0, "", false
	}
	// The readable stretch around the slot, a page at a time: the window
	// may run past the stack's ends.
	base, end := addr&^4095, (addr+8+4095)&^4095
	for base > addr-window && as.mem.read(base-4096, make([]byte, 4096)) {
		base -= 4096
	}
	for end < addr+8+window && as.mem.read(end, make([]byte, 4096)) {
		end += 4096
	}
	base, end = max(base, addr-window), min(end, addr+8+window)
	data := make([]byte, end-base)
	if base > addr-8 || !as.mem.read(base, data) {
		return 0, 0, "", false
	}
	s := int(addr - base) // the slot's offset in data
	bestLen := 0
	for _, w := range []int{1, 2, 4, 8} {
		elem := func(i int) uint64 {
			switch w {
			case 1:
				return uint64(data[i])
			case 2:
				return uint64(binary.LittleEndian.Uint16(data[i:]))
			case 4:
				return uint64(binary.LittleEndian.Uint32(data[i:]))
			}
			return binary.LittleEndian.Uint64(data[i:])
		}
		mask := uint64(1)<<(8*w) - 1
		if w == 8 {
			mask = ^uint64(0)
		}
		// The step is fixed by the slot and the element just below it,
		// since the run must reach below the slot.
		if s < w {
			continue
		}
		step := (elem(s) - elem(s-w)) & mask
		a, b := s-w, s+w // data[a:b] is in the run
		for b+w <= len(data) && (elem(b)-elem(b-w))&mask == step {
			b += w
		}
		if b < s+8 {
			continue // the run must cover the whole slot
		}
		for a-w >= 0 && (elem(a)-elem(a-w))&mask == step {
			a -= w
		}
		if b-a < minRun || b-a <= bestLen {
			continue
		}
		if step == 0 && elem(s) == 0 {
			continue // zeros are what a stack mostly holds
		}
		bestLen = b - a
		lo, hi = base+uint64(a), base+uint64(b)
		switch {
		case step == 0 && w == 1:
			what = fmt.Sprintf("the byte %#02x repeated", elem(s))
		case step == 0:
			what = fmt.Sprintf("the %d-byte value %#x repeated", w, elem(s))
		default:
			what = fmt.Sprintf("%d-byte values in arithmetic progression (step %d)", w, int64(step<<(64-8*w))>>(64-8*w))
		}
	}
	return lo, hi, what, bestLen > 0
}

// returnedFunction finds the function whose frame ended at cfa (SP after
// its `ret`): the frames of its callees lie below, dead but not yet
// overwritten. The nearest return address there that follows a call, in a
// function where that call is made with the function's SP at exactly
// cfa-depth (depth from decoding its code), was pushed by its own call.
func (as *addrSpace) returnedFunction(cfa uint64) *retFunc {
	const reach = 64 << 10 // how far below SP a frame may reach
	page := make([]byte, 4096)
	for at := cfa - 16; at+reach > cfa && at > 0; {
		// From the highest word down, a page at a time.
		pageLo := at &^ 4095
		n := at + 8 - pageLo
		if !as.mem.read(pageLo, page[:n]) {
			return nil
		}
		for off := int(n) - 8; off >= 0; off -= 8 {
			ra := binary.LittleEndian.Uint64(page[off:])
			where := pageLo + uint64(off)
			if fn := as.verifyReturn(ra, where, cfa); fn != nil {
				return fn
			}
		}
		if pageLo == 0 {
			return nil
		}
		at = pageLo - 8
	}
	return nil
}

// verifyReturn: ra, found at address where, is the return address of a
// call made by a function whose CFA is cfa.
func (as *addrSpace) verifyReturn(ra, where, cfa uint64) *retFunc {
	if !as.executable(ra) {
		return nil
	}
	_, callAt, ok := as.callBefore(ra)
	if !ok {
		return nil
	}
	mod := as.moduleAt(callAt)
	if mod == nil {
		return nil
	}
	sym, ok := mod.file.Lookup(callAt - mod.bias)
	if !ok || sym.Size == 0 || sym.Size > 1<<20 {
		return nil
	}
	start := sym.Value + mod.bias
	code := make([]byte, sym.Size)
	if !as.mem.read(start, code) {
		return nil
	}
	f := frame.Analyze(frame.Input{Addr: start, Code: code, Decoder: x86.Decoder{}, StackAlign: 16})
	for _, cs := range f.Calls {
		// Depth counts the function's own return address: at the call,
		// SP is cfa-Depth, and the call pushes ra just below.
		if cs.Addr != callAt || cs.AfterReset || cs.Depth <= 0 {
			continue
		}
		if where+8+uint64(cs.Depth) != cfa {
			return nil
		}
		entry := as.symbolizeFrame(start, false)
		return &retFunc{frame: entry, callSite: as.symbolizeFrame(ra, true)}
	}
	return nil
}

// moduleUnlessMain is the path of fr's module when that is not the main
// program.
func moduleUnlessMain(fr Frame) string {
	if fr.InMain {
		return ""
	}
	return fr.Module
}

// blameModule names the library of the blamed function (Crash.Module),
// from its first frame on the backtrace, unless a classifier already did.
func blameModule(c *Crash) {
	if c.Module != "" || c.Function == "" {
		return
	}
	for _, fr := range c.all {
		if fr.Function == c.Function {
			c.Module = moduleUnlessMain(fr)
			return
		}
	}
}
