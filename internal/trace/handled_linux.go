//go:build linux && amd64

package trace

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// A thread that runs into its guard page gets a SIGSEGV. Programs with a
// SIGSEGV handler on an alternate signal stack (Rust's runtime, the JVM,
// crash reporters) catch it, print something and abort, so the thread dies
// of SIGABRT, not of the SIGSEGV that was analysed. The first fault is
// still the crash when it was a stack overflow and the thread never went
// back to its stack: the later fatal signal came while SP was outside the
// thread's stack, on the alternate stack of the handler. A program that
// handles the fault and goes on (the JVM throwing StackOverflowError) and
// dies later of something else is back on its stack by then, and is not
// blamed for the old fault.

// lateSignal is a crash signal a thread received after its first fault.
type lateSignal struct {
	signo syscall.Signal
	sp    uint64
}

// maxRefaults caps how many times one thread's faults are analysed again
// after a handled one: a runtime that uses SIGSEGV on purpose (the JVM's
// implicit null checks) must not pay an unwind for each.
const maxRefaults = 64

// noteLateSignal runs at the signal-delivery stop of a crash signal that
// comes after the thread's first fault. When the thread is back on its own
// stack (inside it, not in its guard), the earlier fault was handled and the
// program went on: this signal is analysed instead, so that the fault that
// ends the thread is the one reported. Otherwise (on an alternate signal
// stack: inside a handler) its signal and SP are kept for caughtOverflow.
func (tr *tracer) noteLateSignal(t *thread, sig syscall.Signal, si [128]byte) {
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(t.TID, &regs) != nil {
		return
	}
	t.late = &lateSignal{signo: sig, sp: regs.Rsp}
	if !insideStack(t, regs.Rsp) {
		return
	}
	if t.refaults >= maxRefaults {
		if t.refaults == maxRefaults {
			t.refaults++
			tr.res.Findings = append(tr.res.Findings, fmt.Sprintf(
				"thread %d handled more than %d crash signals; later ones were not analysed, so a crash of this thread is reported as the fault analysed last", t.TID, maxRefaults))
		}
		return
	}
	t.refaults++
	if f := tr.analyse(t, sig, si); f != nil {
		t.fault, t.late = f, nil
	}
}

// insideStack says whether sp is strictly inside the thread's known stack
// (not in its guard or below it).
func insideStack(t *thread, sp uint64) bool {
	if t.StackTop == 0 {
		return false
	}
	lo := t.lo
	if t.StackBottom != 0 && t.StackBottom < lo {
		lo = t.StackBottom
	}
	return sp >= lo && sp < t.StackTop
}

// onOwnStack says whether sp lies in the thread's stack or just below it
// (its guard), as far as stackscope knows the stack.
func onOwnStack(t *thread, sp uint64) bool {
	if t.StackTop == 0 {
		return true // unknown: assume it is, and blame nothing
	}
	lo := t.lo
	if t.StackBottom != 0 && t.StackBottom < lo {
		lo = t.StackBottom
	}
	gap := max(t.GuardSize, 64<<10)
	if t.Region == "[stack]" {
		gap = max(gap, mainStackGap)
	}
	if lo > gap {
		lo -= gap
	} else {
		lo = 0
	}
	return sp >= lo && sp < t.StackTop
}

// caughtOverflow decides, when a thread is killed by sig, whether its first
// fault, a stack overflow of another signal, is the crash: a handler caught
// it on an alternate stack and then raised sig (abort) without returning.
// It completes the crash's detail when it is.
func (tr *tracer) caughtOverflow(t *thread, sig syscall.Signal) bool {
	f := t.fault
	if f == nil || f.signo == sig || f.Class != ClassStackOverflow || t.late == nil || t.late.signo != sig {
		return false
	}
	if onOwnStack(t, t.late.sp) {
		return false
	}
	f.Detail += fmt.Sprintf("; a %s handler caught it on an alternate signal stack (SP %#x) and the thread then died of %s",
		f.Signal, t.late.sp, unix.SignalName(sig))
	return true
}

// applyRuntimes refines the result with what language runtimes said: a Go
// goroutine's stack overflow (the program exits with status 2, no signal),
// and the thread Rust names in "has overflowed its stack".
func (tr *tracer) applyRuntimes() {
	tr.applyGoOverflow()
	if tr.scan == nil {
		return
	}
	tr.scan.mu.Lock()
	gs := tr.scan.gos
	tr.scan.mu.Unlock()
	c := tr.res.Crash
	if c == nil || !gs.rustOverflow {
		return
	}
	said := fmt.Sprintf("Rust: thread '%s' has overflowed its stack", gs.rustThread)
	switch {
	case c.Class == ClassStackOverflow:
		c.Detail += "; " + said
	case c.Class == ClassOther && c.Signal == "SIGABRT":
		// The SIGSEGV was not seen as an overflow (or not seen at all);
		// Rust's handler checked the fault address against the thread's
		// guard page before printing this.
		c.Class = ClassStackOverflow
		c.Detail = said + " (its SIGSEGV handler found the fault in the thread's guard page and aborted); " + c.Detail
	}
}
