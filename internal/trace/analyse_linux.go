//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// fault is a thread's first fatal-looking signal, analysed at its
// signal-delivery stop; it becomes the run's crash if it ends the thread.
type fault struct {
	Crash
	signo syscall.Signal
}

const mainStackGap = 256 * 4096 // the kernel's stack_guard_gap below a growing stack

// analyse classifies a thread's fault while the thread is stopped at it.
func (tr *tracer) analyse(t *thread, sig syscall.Signal, si [128]byte) *fault {
	code := int32(binary.LittleEndian.Uint32(si[8:]))
	var addr uint64
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
		if code > 0 { // kernel-generated: si_addr is meaningful
			addr = binary.LittleEndian.Uint64(si[16:])
		}
	}
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(t.TID, &regs) != nil {
		return nil
	}
	mem := openMem(t.TID)
	defer mem.close()
	as := newAddrSpace(t.TID, mem)
	f := &fault{signo: sig}
	c := &f.Crash
	c.TID, c.Kind = t.TID, t.Kind
	c.Signal = unix.SignalName(sig)
	c.Code = codeName(sig, code)
	c.SP, c.Addr = regs.Rsp, addr
	c.Sender = tr.sender(t, si)
	tr.fillBacktrace(as, c, &regs)

	// Where is the bottom of this thread's stack now?
	lo := t.lo
	if t.Region == "[stack]" {
		if m, _, ok := findMapping(as.maps, t.StackTop-1); ok {
			lo = m.start
		}
	}

	switch {
	case faultSignal(sig) && sentSignal(t, c):
	case tr.overrun(as, c):
	case (sig == unix.SIGSEGV || sig == unix.SIGBUS) && t.StackTop != 0 && tr.overflow(t, c, lo, &regs, addr):
	case sig != unix.SIGABRT && tr.smashedCanary(as, c, &regs, sig):
	case sig == unix.SIGSEGV && code == siKernel && tr.dataPointer(as, c, &regs):
	case (sig == unix.SIGSEGV || sig == unix.SIGBUS) && tr.clobberedPointer(as, c, regs.Rsp, lo, t.StackTop):
	case tr.returnedIntoData(as, c, &regs, sig, code):
	default:
		c.Class = ClassOther
		c.Function = blame(c.Frames, 0)
		what := map[syscall.Signal]string{
			unix.SIGSEGV: "invalid memory access", unix.SIGBUS: "bus error",
			unix.SIGILL: "illegal instruction", unix.SIGFPE: "arithmetic exception",
			unix.SIGABRT: "abort", unix.SIGSYS: "bad system call", unix.SIGTRAP: "trap",
		}[sig]
		c.Detail = fmt.Sprintf("%s (%s, %s) in thread %d in %s", what, c.Signal, c.Code, t.TID, orUnknown(c.Function))
		switch {
		case addr != 0:
			c.Detail += fmt.Sprintf(" at address %#x", addr)
		case sig == unix.SIGSEGV && code == siKernel:
			// A general-protection fault: the kernel gives no address.
			// Work it out from the instruction, and say what it looks like.
			text, _ := gpAddress(as, &regs)
			c.Detail += " " + text
		case sig == unix.SIGSEGV && code > 0:
			c.Detail += " at address 0 (a NULL pointer)"
		}
		if t.StackTop != 0 {
			c.Detail += "; not a stack overflow: the fault address and SP are not at the stack's limit"
		}
	}
	blameModule(c)
	return f
}

// dataPointer: a general-protection fault through a pointer whose bytes
// are data, found in a run of the same data on the stack over a pointer
// variable of a frame: a buffer there overran into the pointer.
func (tr *tracer) dataPointer(as *addrSpace, c *Crash, regs *unix.PtraceRegs) bool {
	text, bad := gpAddress(as, regs)
	fi, lo, hi, ok := tr.dataRun(as, c, bad)
	if !ok || fi >= len(c.all) || c.all[fi].Function == "" {
		return false
	}
	fn := c.all[fi].Function
	c.Class, c.Function = ClassStackOverrun, fn
	c.LocalArrays = tr.localArrays(as, c.all, fi)
	c.Detail = fmt.Sprintf("invalid memory access (SIGSEGV, SI_KERNEL) in %s %s; the same bytes fill %d B of the stack of %s (%#x-%#x), over one of its pointer variables: a buffer of %s overran into it (inferred from the stack; no check fired)",
		callerName(c.all, 0), text, hi-lo, fn, lo, hi, fn)
	if len(c.LocalArrays) > 0 {
		c.Detail += "; its local arrays: " + strings.Join(c.LocalArrays, ", ")
	}
	return true
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown function"
	}
	return s
}

// fillBacktrace unwinds and symbolizes.
func (tr *tracer) fillBacktrace(as *addrSpace, c *Crash, regs *unix.PtraceRegs) {
	pcs, states, capped := as.unwindStates(regs)
	c.states = states
	c.Depth = len(pcs)
	c.Truncated = capped
	all := make([]Frame, len(pcs))
	for i, pc := range pcs {
		all[i] = as.symbolizeFrame(pc, i > 0)
	}
	if len(all) > 0 {
		c.PC = all[0].String()
	}
	if s, p, ok := findCycle(pcs); ok {
		cyc := all[s : s+p]
		for _, fr := range cyc {
			n := fr.Function
			if n == "" {
				n = fr.Name()
			}
			c.Cycle = append(c.Cycle, n)
		}
		c.CycleName = c.Cycle[0]
		c.cycleEnd = s + 2*p
		for _, fr := range cyc {
			if fr.InMain && fr.Function != "" {
				c.CycleName = fr.Function
				break
			}
		}
	}
	shown := all
	if len(shown) > maxShown {
		shown = shown[:maxShown]
	}
	c.Frames = shown
	c.Backtrace = make([]string, len(shown))
	for i, fr := range shown {
		c.Backtrace[i] = fr.Name()
	}
	c.all = all
}

// blame names the function to blame starting at frame i: the first frame
// in the program's own code if frame i is in a library.
func blame(frames []Frame, i int) string {
	if i >= len(frames) {
		return ""
	}
	if frames[i].InMain || !hasMain(frames) {
		return frames[i].Function
	}
	for j := i; j < len(frames); j++ {
		if frames[j].InMain && frames[j].Function != "" {
			return frames[j].Function
		}
	}
	return frames[i].Function
}

func hasMain(frames []Frame) bool {
	for _, f := range frames {
		if f.InMain {
			return true
		}
	}
	return false
}

func isChk(name string) bool {
	return name == "__chk_fail" || name == "__fortify_fail" || (strings.HasPrefix(name, "__") && strings.HasSuffix(name, "_chk"))
}

// overrun recognises __stack_chk_fail, _FORTIFY_SOURCE and sanitizer frames.
func (tr *tracer) overrun(as *addrSpace, c *Crash) bool {
	frames := c.all
	for i, fr := range frames {
		if fr.Function == "__stack_chk_fail" || fr.Function == "__stack_chk_fail_local" {
			c.Class = ClassStackOverrun
			c.Function = callerName(frames, i+1)
			c.LocalArrays = tr.localArrays(as, frames, i+1)
			c.Detail = fmt.Sprintf("*** stack smashing detected ***: the stack protector canary of %s was overwritten; %s called __stack_chk_fail on return", orUnknown(c.Function), orUnknown(c.Function))
			if len(c.LocalArrays) > 0 {
				c.Detail += fmt.Sprintf("; its local arrays: %s", strings.Join(c.LocalArrays, ", "))
			}
			return true
		}
	}
	last := -1
	for i, fr := range frames {
		if isChk(fr.Function) {
			last = i
		}
	}
	if last >= 0 {
		c.Class = ClassStackOverrun
		c.Function = callerName(frames, last+1)
		chk := frames[last].Function
		c.LocalArrays = tr.localArrays(as, frames, last+1)
		c.Detail = fmt.Sprintf("*** buffer overflow detected ***: _FORTIFY_SOURCE check %s called from %s found a write past the end of its destination", chk, orUnknown(c.Function))
		if len(c.LocalArrays) > 0 {
			c.Detail += fmt.Sprintf("; local arrays of %s: %s", c.Function, strings.Join(c.LocalArrays, ", "))
		}
		return true
	}
	return false
}

func callerName(frames []Frame, i int) string {
	if i < len(frames) {
		if frames[i].Function != "" {
			return frames[i].Function
		}
		return frames[i].Name()
	}
	return ""
}

func (tr *tracer) localArrays(as *addrSpace, frames []Frame, i int) []string {
	if i >= len(frames) {
		return nil
	}
	mod := as.moduleAt(frames[i].PC - 1)
	if mod == nil {
		return nil
	}
	_, arrays := mod.file.LocalArrays(frames[i].PC - 1 - mod.bias)
	var out []string
	for _, a := range arrays {
		s := fmt.Sprintf("%s %s", a.Type, a.Name)
		if a.Size >= 0 {
			s += fmt.Sprintf(" (%s)", HumanBytes(uint64(a.Size)))
		}
		out = append(out, s)
	}
	return out
}

// overflow decides whether a SIGSEGV/SIGBUS is the thread running off its
// stack: the fault address in the guard gap or just below the stack, or SP
// outside the stack region.
func (tr *tracer) overflow(t *thread, c *Crash, lo uint64, regs *unix.PtraceRegs, addr uint64) bool {
	sp := regs.Rsp
	top := t.StackTop
	gap := max(t.GuardSize, 4096)
	if t.Region == "[stack]" {
		gap = max(gap, mainStackGap)
	}
	below := func(a uint64) bool { return a < lo && a+gap+65536 >= lo }
	nearSP := addr != 0 && addr < lo && addr+65536 >= sp && addr <= sp+65536
	var why string
	switch {
	case t.heapStack && t.StackSize != nil && sp < lo:
		c.Class = ClassStackOverflow
		why = fmt.Sprintf("the %s clone() stack of thread %d overflowed by %s into the heap", HumanBytes(*t.StackSize), t.TID, HumanBytes(lo-sp))
	case t.heapStack:
		return false
	case addr != 0 && (below(addr) || nearSP):
		c.Class = ClassStackOverflow
		why = fmt.Sprintf("thread %d (%s) ran off the bottom of its %s stack: the fault address %#x is %s below the stack (%s)",
			t.TID, t.Kind, sizeOrUnknown(t.StackSize), addr, HumanBytes(lo-addr), guardWords(t, lo-addr))
	case sp < lo && sp+gap+(1<<20) >= lo:
		c.Class = ClassStackOverflow
		why = fmt.Sprintf("thread %d (%s): SP %#x is %s below the bottom of its %s stack", t.TID, t.Kind, sp, HumanBytes(lo-sp), sizeOrUnknown(t.StackSize))
	default:
		return false
	}
	_ = top
	c.Function = blame(c.Frames, 0)
	if c.CycleName != "" {
		c.Function = c.CycleName
		why += fmt.Sprintf("; deep recursion in %s", c.CycleName)
	}
	c.Detail = why
	return true
}

func guardWords(t *thread, below uint64) string {
	switch {
	case t.Region == "[stack]":
		return "the main thread's stack reached RLIMIT_STACK or the guard gap"
	case t.GuardSize > 0 && below <= t.GuardSize:
		return fmt.Sprintf("in its %s guard page", HumanBytes(t.GuardSize))
	case t.GuardSize > 0:
		return fmt.Sprintf("past its %s guard page: one frame larger than the guard jumped over it", HumanBytes(t.GuardSize))
	default:
		return "no guard page"
	}
}

// checkSanitizerExit runs when a thread exits with a non-zero status:
// AddressSanitizer reports an error and then calls _exit, without a signal.
func (tr *tracer) checkSanitizerExit(t *thread) {
	if tr.res.Crash != nil {
		return
	}
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(t.TID, &regs) != nil {
		return
	}
	if regs.Orig_rax != sysExitGroup && regs.Orig_rax != sysExit {
		return
	}
	mem := openMem(t.TID)
	defer mem.close()
	as := newAddrSpace(t.TID, mem)
	probe := &Crash{}
	tr.fillBacktrace(as, probe, &regs)
	report := -1
	sanitizer := false
	for i, fr := range probe.all {
		n := fr.Function
		if strings.HasPrefix(n, "__asan_report") || strings.HasPrefix(n, "__asan::ReportGenericError") || strings.HasPrefix(n, "__asan::ReportStack") {
			report = i
		}
		if strings.Contains(n, "__asan") || strings.Contains(n, "__sanitizer") || strings.Contains(baseName(fr.Module), "asan") {
			sanitizer = true
		}
	}
	if !sanitizer && !(tr.scan != nil && tr.scan.sawASan()) {
		return
	}
	if t.fault != nil {
		// A fault that the sanitizer's handler reported before exiting.
		t.Ended = EndedCrash
		tr.promote(t)
		return
	}
	f := &fault{Crash: *probe}
	c := &f.Crash
	c.TID, c.Kind = t.TID, t.Kind
	c.Signal, c.Code = "none", fmt.Sprintf("AddressSanitizer exit %d", t.ExitCode)
	c.SP = regs.Rsp
	c.Class = ClassOther
	if report >= 0 {
		c.Function = callerName(probe.all, report+1)
		// Sanitizer frames of the report itself are noise in the backtrace.
		c.Frames, c.Backtrace = trimFrames(probe.all, report+1)
		c.Depth = len(probe.all) - (report + 1)
		if len(c.Frames) > 0 {
			c.PC = c.Frames[0].String()
		}
	}
	c.Detail = fmt.Sprintf("AddressSanitizer reported an error in %s and exited", orUnknown(c.Function))
	c.ASan = "report (stderr not scanned: kind unknown)"
	blameModule(c)
	t.fault = f
	t.Ended = EndedCrash
	tr.promote(t)
}

func trimFrames(all []Frame, from int) ([]Frame, []string) {
	fr := all[from:]
	if len(fr) > maxShown {
		fr = fr[:maxShown]
	}
	names := make([]string, len(fr))
	for i, f := range fr {
		names[i] = f.Name()
	}
	return fr, names
}

// applyStderr refines the crash with what the program printed.
func (tr *tracer) applyStderr() {
	s := tr.scan
	s.mu.Lock()
	defer s.mu.Unlock()
	c := tr.res.Crash
	if c == nil {
		return
	}
	if s.asanKind != "" {
		c.ASan = s.asanLine
		if s.asanSummary != "" {
			c.ASan = s.asanSummary
		}
		if c.Function == "" && s.asanFunc != "" {
			c.Function = s.asanFunc
		}
		switch s.asanKind {
		case "stack-buffer-overflow", "stack-buffer-underflow", "dynamic-stack-buffer-overflow", "stack-use-after-scope", "stack-use-after-return":
			c.Class = ClassStackOverrun
			c.Detail = fmt.Sprintf("AddressSanitizer: %s in %s", s.asanKind, orUnknown(c.Function))
		case "stack-overflow":
			c.Class = ClassStackOverflow
			if !strings.Contains(c.Detail, "AddressSanitizer") {
				c.Detail = "AddressSanitizer: stack-overflow; " + c.Detail
			}
		case "SEGV", "BUS", "FPE", "ILL", "ABRT":
			// ASan's handler caught a signal: it names no memory error.
			// stackscope saw the same signal first and its own analysis
			// stands (an overrun through an uninstrumented wcscpy is
			// still an overrun); the report keeps ASan's summary.
		default:
			if c.Class != ClassStackOverflow {
				c.Class = ClassOther
				c.Detail = fmt.Sprintf("AddressSanitizer: %s in %s (not a stack problem)", s.asanKind, orUnknown(c.Function))
			}
		}
		return
	}
	if s.smashing && c.Class == ClassOther && c.Signal == "SIGABRT" {
		c.Class = ClassStackOverrun
		c.Detail = "*** stack smashing detected ***: a stack protector canary was overwritten (the backtrace did not show which function's)"
	}
	if s.fortify && c.Class == ClassOther && c.Signal == "SIGABRT" {
		c.Class = ClassStackOverrun
		c.Detail = "*** buffer overflow detected ***: a _FORTIFY_SOURCE check failed (the backtrace did not show where)"
	}
}

func (s *stderrScan) sawASan() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asanKind != ""
}

func codeName(sig syscall.Signal, code int32) string {
	switch code {
	case 0:
		return "SI_USER"
	case 0x80:
		return "SI_KERNEL"
	case -1:
		return "SI_QUEUE"
	case -6:
		return "SI_TKILL"
	}
	names := map[syscall.Signal][]string{
		unix.SIGSEGV: {"SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR"},
		unix.SIGBUS:  {"BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"},
		unix.SIGILL:  {"ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK"},
		unix.SIGFPE:  {"FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB"},
	}[sig]
	if code >= 1 && int(code) <= len(names) {
		return names[code-1]
	}
	return fmt.Sprintf("code %d", code)
}
