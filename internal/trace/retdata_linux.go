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
	"github.com/stackscope/stackscope/internal/symbolize"
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
			// The `ret` is the returning function's own: no doubt which.
			fn = &retFunc{frame: as.symbolizeFrame(c.all[0].PC-c.all[0].Offset, false), callSite: c.all[0], exact: true}
		}
	default:
		return false
	}
	cfa := slot + 8 // the returning function's CFA: SP after its `ret`
	run, ok := as.dataRunAround(slot)
	if !ok {
		c.Class = ClassOther
		c.Function = ""
		who := "a function"
		if fn != nil {
			c.Function, c.Module = fn.frame.Function, moduleUnlessMain(fn.frame)
			who = fn.frame.Function
		}
		c.Detail = fmt.Sprintf("returned into data: %s (%s) in thread %d: %s returned to %#x (popped from %#x), which is not code; the stack around it is not a run of the same data, so no overrun is inferred",
			c.Signal, c.Code, c.TID, who, value, slot)
		return true
	}
	c.Class = ClassStackOverrun
	evidence := fmt.Sprintf("the return address slot %#x holds %#x, inside %d B of %s on the stack (%#x-%#x)", slot, value, run.hi-run.lo, run.what, run.lo, run.hi)
	var why string
	if fn == nil {
		fn, why = as.returnedFunction(cfa, run)
	} else {
		fn.overran, _ = as.overranArray(fn.callSite.PC, cfa, run)
	}
	if fn == nil {
		c.Function = ""
		c.Detail = fmt.Sprintf("%s (%s): a function returned into data; %s: a buffer overrun ran over its return address (inferred from the stack; no check fired); which function returned is not known: %s",
			c.Signal, c.Code, evidence, why)
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
	c.Detail = fmt.Sprintf("%s (%s): %s %s %#x, which is data; %s: ", c.Signal, c.Code, where, how, value, evidence)
	if a := fn.overran; a != nil {
		c.Detail += fmt.Sprintf("its array %s (%s, %s at %#x-%#x) overran up over the return address", a.Name, a.Type, HumanBytes(uint64(a.Size)), cfa+uint64(a.Off), cfa+uint64(a.Off+a.Size))
	} else {
		c.Detail += fmt.Sprintf("a buffer of %s overran its frame up over the return address", name)
	}
	c.Detail += " (inferred from the stack; no check fired)"
	if !fn.exact {
		// Memory cannot tell it from a function called just before it
		// from the same SP, if the one that returned made no call and
		// left that return address alone: say what the name rests on.
		c.Detail += fmt.Sprintf("; %s is named by the return address of its call at %s, left below SP (a function called earlier from the same SP would look the same if the one that returned made no call)", name, fn.callSite.String())
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
	exact           bool                 // frame 0 was its `ret`
	overran         *symbolize.ArraySlot // the array whose end the run crosses (DWARF)
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

// dataRun is a stretch of the stack [lo, hi) made of w-byte elements in
// arithmetic progression: the element at the slot is v, and each element
// is step more than the one below it (modulo 2^(8w)).
type dataRun struct {
	lo, hi, slot uint64
	w            int
	step, v      uint64
	what         string
}

// predict is the byte the run's progression puts at addr (which may lie
// outside the run).
func (r *dataRun) predict(addr uint64) byte {
	w := uint64(r.w)
	d := int64(addr-r.slot) / int64(w) // whole elements from the slot's
	if int64(addr-r.slot) < 0 && int64(addr-r.slot)%int64(w) != 0 {
		d-- // floor
	}
	e := r.v + uint64(d)*r.step
	k := addr - (r.slot + uint64(d)*w) // the byte within the element
	return byte(e >> (8 * k))
}

// matches: the n bytes at addr are what the progression puts there.
func (r *dataRun) matches(as *addrSpace, addr uint64, n int) bool {
	b := make([]byte, n)
	if !as.mem.read(addr, b) {
		return false
	}
	for i := range b {
		if b[i] != r.predict(addr+uint64(i)) {
			return false
		}
	}
	return true
}

// dataRunAround finds the run of data around the 8-byte slot at addr: the
// stack from at least 8 bytes below it up through it (an overrun writes
// upwards from a buffer below) consists of elements of 1, 2, 4 or 8 bytes
// in arithmetic progression (a constant step, zero for a fill pattern),
// covering at least 32 bytes. All-zero runs are not data.
func (as *addrSpace) dataRunAround(addr uint64) (*dataRun, bool) {
	const (
		window = 512
		minRun = 32
	)
	if addr < window || addr%8 != 0 {
		return nil, false
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
		return nil, false
	}
	s := int(addr - base) // the slot's offset in data
	var best *dataRun
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
		mask := ^uint64(0)
		if w < 8 {
			mask = uint64(1)<<(8*w) - 1
		}
		// The step is fixed by the slot's element and the one just
		// below it, since the run must reach below the slot.
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
		if b-a < minRun || (best != nil && uint64(b-a) <= best.hi-best.lo) {
			continue
		}
		if step == 0 && elem(s) == 0 {
			continue // zeros are what a stack mostly holds
		}
		r := &dataRun{lo: base + uint64(a), hi: base + uint64(b), slot: addr, w: w, step: step, v: elem(s)}
		switch {
		case step == 0 && w == 1:
			r.what = fmt.Sprintf("the byte %#02x repeated", r.v)
		case step == 0:
			r.what = fmt.Sprintf("the %d-byte value %#x repeated", w, r.v)
		default:
			r.what = fmt.Sprintf("%d-byte values in arithmetic progression (step %d)", w, int64(step<<(64-8*w))>>(64-8*w))
		}
		best = r
	}
	return best, best != nil
}

// overranArray finds, by DWARF, the local array of the function at look
// (whose CFA is cfa) that overran into the slot: one that ends at or below
// the slot and whose last 8 bytes hold what the run's progression puts
// there (a copy or loop wrote it through to the slot; locals between the
// array and the slot may have been written since), and below which the
// data does not reach. described is false
// when DWARF does not describe the function.
func (as *addrSpace) overranArray(look, cfa uint64, run *dataRun) (a *symbolize.ArraySlot, described bool) {
	mod := as.moduleAt(look)
	if mod == nil {
		return nil, false
	}
	name, _ := mod.file.LocalArrays(look - mod.bias)
	for _, s := range mod.file.ArraySlots(look - mod.bias) {
		start := uint64(int64(cfa) + s.Off)
		end := start + uint64(s.Size)
		// The data must not reach below the array: an overrun writes up
		// from inside it. (This also sets aside an array of a function
		// called earlier from the same SP that lies inside the real
		// buffer, when the real one starts lower.)
		if end > run.slot || end+512 < run.slot || s.Size < 8 || run.lo < start {
			continue
		}
		if run.matches(as, end-8, 8) {
			s := s
			return &s, true
		}
	}
	return nil, name != ""
}

// returnedFunction finds the function whose frame ended at cfa (SP after
// its `ret`) and held the overrun run starting at lo: its frame is gone,
// but the frames of the functions it called are still below SP, dead and
// not yet overwritten. The nearest return address there that follows a
// call, in a function whose decoded frame puts SP at that call exactly
// where the return address lies, was pushed by a function called with
// that CFA. That may still be an earlier sibling (a function the same
// caller called before, from the same SP), when the one that returned
// made no call: so the run must start inside the candidate's frame, and
// when DWARF describes the candidate's locals one of its arrays must end
// inside the run (an array crossing into the return address). Otherwise
// it says why it names none.
func (as *addrSpace) returnedFunction(cfa uint64, run *dataRun) (*retFunc, string) {
	const reach = 64 << 10 // how far below SP a frame may reach
	page := make([]byte, 4096)
	for at := cfa - 16; at+reach > cfa && at > 0; {
		// From the highest word down, a page at a time.
		pageLo := at &^ 4095
		n := at + 8 - pageLo
		if !as.mem.read(pageLo, page[:n]) {
			break
		}
		for off := int(n) - 8; off >= 0; off -= 8 {
			ra := binary.LittleEndian.Uint64(page[off:])
			where := pageLo + uint64(off)
			if fn, size := as.verifyReturn(ra, where, cfa); fn != nil {
				return as.confirm(fn, size, cfa, run)
			}
		}
		if pageLo == 0 {
			break
		}
		at = pageLo - 8
	}
	return nil, "no return address of a call it made is left below SP"
}

// confirm checks a candidate found by returnedFunction (see there).
func (as *addrSpace) confirm(fn *retFunc, size int64, cfa uint64, run *dataRun) (*retFunc, string) {
	name := fn.frame.Function
	if size <= 0 || run.lo < cfa-uint64(size) {
		return nil, fmt.Sprintf("the return address of a call made by %s is left below SP, but the overrun data starts below its frame", name)
	}
	a, described := as.overranArray(fn.callSite.PC-1, cfa, run)
	if a == nil && described {
		return nil, fmt.Sprintf("the return address of a call made by %s is left below SP, but none of its arrays (DWARF) holds the overrun data at its end", name)
	}
	fn.overran = a
	return fn, ""
}

// verifyReturn: ra, found at address where, is the return address of a
// call made by a function whose CFA is cfa. It returns the function and
// its frame size (decoded from its code).
func (as *addrSpace) verifyReturn(ra, where, cfa uint64) (*retFunc, int64) {
	if !as.executable(ra) {
		return nil, 0
	}
	_, callAt, ok := as.callBefore(ra)
	if !ok {
		return nil, 0
	}
	mod := as.moduleAt(callAt)
	if mod == nil {
		return nil, 0
	}
	sym, ok := mod.file.Lookup(callAt - mod.bias)
	if !ok || sym.Size == 0 || sym.Size > 1<<20 {
		return nil, 0
	}
	start := sym.Value + mod.bias
	code := make([]byte, sym.Size)
	if !as.mem.read(start, code) {
		return nil, 0
	}
	f := frame.Analyze(frame.Input{Addr: start, Code: code, Decoder: x86.Decoder{}, StackAlign: 16})
	for _, cs := range f.Calls {
		// Depth counts the function's own return address: at the call,
		// SP is cfa-Depth, and the call pushes ra just below.
		if cs.Addr != callAt || cs.AfterReset || cs.Depth <= 0 {
			continue
		}
		if where+8+uint64(cs.Depth) != cfa {
			return nil, 0
		}
		entry := as.symbolizeFrame(start, false)
		return &retFunc{frame: entry, callSite: as.symbolizeFrame(ra, true)}, f.Size
	}
	return nil, 0
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
