//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// siginfo codes of a signal a process sent (include/uapi/asm-generic/siginfo.h).
const (
	siUser  = 0  // kill
	siQueue = -1 // sigqueue, rt_sigqueueinfo
	siTkill = -6 // tkill, tgkill (raise)
)

// sender reads who sent the signal from its siginfo: for SI_USER, SI_TKILL
// and SI_QUEUE the kernel fills si_pid and si_uid (the _kill and _rt
// members, both at offset 16 on x86-64). Nil when a fault raised it.
func (tr *tracer) sender(t *thread, si [128]byte) *Sender {
	code := int32(binary.LittleEndian.Uint32(si[8:]))
	call := map[int32]string{siUser: "kill", siQueue: "sigqueue", siTkill: "tgkill"}[code]
	if call == "" {
		return nil
	}
	s := &Sender{
		PID:  int(int32(binary.LittleEndian.Uint32(si[16:]))),
		UID:  binary.LittleEndian.Uint32(si[20:]),
		Call: call,
	}
	s.Self = s.PID == t.PID
	// The name the sender has now: a shell's `kill` is a builtin, so this
	// is "bash"; /bin/kill is a zombie until its parent reaps it, which
	// keeps its comm readable. A traced sender already gone is named by
	// the program it ran.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.PID)); err == nil {
		s.Command = strings.TrimSpace(string(b))
	} else if p := tr.programOfPID(s.PID); p != "" {
		s.Command = baseName(p)
	}
	return s
}

func (tr *tracer) programOfPID(pid int) string {
	for _, th := range tr.res.Threads {
		if th.PID == pid && th.Program != "" {
			return th.Program
		}
	}
	return ""
}

// faultSignal: a signal the kernel raises for a faulting instruction.
// Only these are told apart from a sent copy; a sent SIGABRT is how abort()
// and the stack protector end a program, and is classified as usual.
func faultSignal(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP, unix.SIGSYS:
		return true
	}
	return false
}

// sentSignal classifies a fault signal that a process sent (kill -SEGV):
// nothing faulted, so none of the fault analyses apply. It says who sent it
// and where the thread was.
func sentSignal(t *thread, c *Crash) bool {
	s := c.Sender
	if s == nil {
		return false
	}
	c.Class = ClassOther
	c.Function = blame(c.Frames, 0)
	c.Detail = fmt.Sprintf("%s (%s) sent by %s, not a fault: no instruction faulted; thread %d was in %s",
		c.Signal, c.Code, s, t.TID, orUnknown(c.Function))
	return true
}
