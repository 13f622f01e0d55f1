//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel reports a new thread's (or process's) first stop and its
// creator's PTRACE_EVENT_CLONE/FORK/VFORK stop in either order: both are
// queued at once, and wait4 looks at the newest tracee first. Resuming a
// child before its creator's event has been seen lets it run without a
// record: no stack, and no breakpoints for its address space, so the first
// time it reached a breakpoint stackscope would deliver the SIGTRAP to the
// program (issue 13: t1000 died with exit 133). So, as rr does, a child
// whose stop comes first is held stopped, and its wait statuses are kept,
// until the creator's event describes it; then the statuses are replayed in
// order. strace -f instead resumes such a child at once, which is fine for
// a tool that sets no breakpoints but not for stackscope.
//
// A creator's event can be lost only if the creator is dying (a fatal
// signal pending when the event would stop it): then no thread that could
// have created the child survives, and the child is adopted without an
// event (releaseOrphans). A child held longer than orphanWait with no
// event is adopted too, so no corner case can hold the program forever.

const orphanWait = 2 * time.Second

// early is a tracee seen before its creator's event.
type early struct {
	statuses []unix.WaitStatus
	since    time.Time
}

// hold keeps a stop (or the death) of a tracee not yet described by its
// creator's event, leaving the tracee stopped.
func (tr *tracer) hold(tid int, ws unix.WaitStatus) {
	e := tr.early[tid]
	if e == nil {
		e = &early{since: time.Now()}
		tr.early[tid] = e
		tr.liveMu.Lock()
		tr.live[tid] = true
		if tr.timedOut {
			unix.Kill(tid, unix.SIGKILL)
		}
		tr.liveMu.Unlock()
	}
	e.statuses = append(e.statuses, ws)
}

// adoptEarly replays what a held tracee reported before its creator's event
// (now handled) described it.
func (tr *tracer) adoptEarly(tid int) {
	e := tr.early[tid]
	if e == nil {
		return
	}
	delete(tr.early, tid)
	for _, ws := range e.statuses {
		tr.handle(tid, ws)
	}
}

// releaseOrphans adopts, without an event, the held tracees whose creator
// can no longer report one: no tracked thread that could have created them
// is still alive and not exiting, or (all) they waited longer than
// orphanWait. Such a child gets the breakpoint record of its address space
// when one is known (a thread shares its process's; a forked process has a
// copy of its parent's), and the stack its own registers show
// (describeOrphan), or none, with a finding that says so.
func (tr *tracer) releaseOrphans(all bool) {
	for tid, e := range tr.early {
		tgid, ppid := procIDs(tid)
		group := ppid // a process: created by a thread of its parent
		if tgid != 0 && tgid != tid {
			group = tgid // a thread: created by a thread of its own process
		}
		creatorLives, waited := tr.mayCreate(group), time.Since(e.since)
		if !all && waited < orphanWait && creatorLives {
			continue
		}
		delete(tr.early, tid)
		c := tr.newThread(tid, tid, KindProcess)
		c.awaitStop = true
		from := tr.anyThreadOf(group)
		described := from != nil && from.img != nil && tr.describeOrphan(c, from, group, tgid == tid)
		if !described {
			if from != nil && from.img != nil {
				if group == tgid && tgid != tid {
					c.PID = tgid
					c.Kind = KindClone
					tr.setImage(c, from.img)
				} else {
					c.Program = from.Program
					tr.setImage(c, tr.forkImage(from.img))
				}
			}
			tr.res.Findings = append(tr.res.Findings, fmt.Sprintf(
				"thread %d started without its creator's clone event (%s): its stack is not described", tid, orphanReason(creatorLives, waited)))
		}
		for _, ws := range e.statuses {
			tr.handle(tid, ws)
		}
	}
}

// orphanReason says why a child was adopted without its creator's event:
// no thread that could have created it was left (the usual case: a
// creator with a fatal signal pending reports no event), or one was but
// the event did not come within orphanWait, or before the trace ended.
func orphanReason(creatorLives bool, waited time.Duration) string {
	switch {
	case !creatorLives:
		return "the creator was ending"
	case waited >= orphanWait:
		return fmt.Sprintf("none came within %v", orphanWait)
	default:
		return "none came before the trace ended"
	}
}

// describeOrphan describes held child c from its own registers, which are
// its creator's at the system call that made it but for rax (0, the
// child's return value) and rsp (the stack it was given, if any): a new
// task's first stop comes before it runs an instruction of its own, and a
// held child has not been resumed since. from is a tracked thread of the
// child's creating process (group); ownProcess says the child is a
// process of its own, not a thread of group. It reports false, leaving c's
// stack unknown, when the registers cannot be read or do not agree with
// what /proc says the child is. clone3's arguments are in the creator's
// memory, which a creator that went on running may have overwritten: they
// must agree with the child's SP and TLS register.
func (tr *tracer) describeOrphan(c, from *thread, group int, ownProcess bool) bool {
	var r unix.PtraceRegs
	if unix.PtraceGetRegs(c.TID, &r) != nil || r.Rax != 0 {
		return false
	}
	flags, top, tls := cloneArgs(c.TID, &r)
	switch r.Orig_rax {
	case sysClone, sysClone3:
		if (flags&cloneThread == 0) != ownProcess ||
			top != 0 && top != r.Rsp ||
			flags&cloneSettls != 0 && tls != r.Fs_base {
			return false
		}
	case sysFork, sysVfork:
		if !ownProcess {
			return false
		}
	default:
		return false
	}
	// A stand-in for the unknown creator: its process's image and runtime,
	// memory read through the child (a thread shares it; a process has a
	// copy), and the stack of whichever tracked thread of group holds the
	// child's SP, for a child that shares its creator's stack.
	stand := &thread{Thread: &Thread{TID: c.TID, PID: group, Program: from.Program}, img: from.img, gort: from.gort}
	for _, t := range tr.threads {
		if t.PID == group && t.StackTop != 0 && t.lo <= r.Rsp && r.Rsp < t.StackTop {
			stand.StackTop, stand.StackBottom, stand.lo, stand.GuardSize = t.StackTop, t.StackBottom, t.lo, t.GuardSize
			stand.StackSize, stand.Region, stand.heapStack = t.StackSize, t.Region, t.heapStack
			break
		}
	}
	c.Program = from.Program
	tr.setImage(c, from.img)
	c.gort = from.gort
	tr.describeChild(stand, c, &r, flags, top, tls)
	return c.StackTop != 0
}

// loseEvent handles a creator's event as if the kernel had lost it
// (Config.loseCreatorEvents, for tests): the child is held until its first
// stop and adopted as an orphan while its creator stays stopped at the
// event, as a dying creator does not run on.
func (tr *tracer) loseEvent(creator *thread, child int) {
	if tr.early[child] == nil && tr.threads[child] == nil {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(child, &ws, unix.WALL, nil); err == nil {
			tr.hold(child, ws)
		}
	}
	tr.releaseOrphans(true)
	unix.PtraceCont(creator.TID, 0)
}

// mayCreate: some tracked thread of process pid is alive and not exiting,
// so its clone or fork event may still come.
func (tr *tracer) mayCreate(pid int) bool {
	for _, t := range tr.threads {
		if t.PID == pid && !t.exited && !t.reaped && !t.quietExit {
			return true
		}
	}
	return false
}

func (tr *tracer) anyThreadOf(pid int) *thread {
	for _, t := range tr.threads {
		if t.PID == pid && t.img != nil {
			return t
		}
	}
	return nil
}

// procIDs reads a task's Tgid and PPid from /proc/TID/status (0 when gone).
func procIDs(tid int) (tgid, ppid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return tgid, ppid
}

// Images are per address space: the threads of a process (and a vfork or
// CLONE_VM child) share one; a fork child gets a copy, since its memory,
// breakpoints included, is a copy of its parent's.

// setImage points t at img, keeping the count of img's users, and drops
// an image that nothing uses any more (closing its file descriptors).
func (tr *tracer) setImage(t *thread, img *image) {
	if t.img == img {
		return
	}
	if old := t.img; old != nil {
		old.users--
		if old.users <= 0 {
			old.close()
			delete(tr.images, old)
		}
	}
	t.img = img
	if img != nil {
		img.users++
		tr.images[img] = true
	}
}

// forkImage is the breakpoint record of a fork child of an address space
// whose record is img.
func (tr *tracer) forkImage(img *image) *image {
	c := &image{entry: img.entry, entryOrig: img.entryOrig, madvise: img.madvise, libcLo: img.libcLo, libcHi: img.libcHi}
	// The child's glibc puts the stacks of the parent's other threads
	// in its stack cache: they are used stacks in the child too.
	if len(img.stacks) > 0 {
		c.stacks = make(map[uint64]bool, len(img.stacks))
		for a := range img.stacks {
			c.stacks[a] = true
		}
	}
	return c
}

const (
	siKernelCode = 0x80 // SI_KERNEL: int3 reports SIGTRAP with this code
	int3         = 0xcc
)

// trapImage says which of stackscope's breakpoints a SIGTRAP stop of t is,
// if any: the image holding a breakpoint at the address just before the
// PC, checked first in t's own address space's record, then in every other
// record (a thread whose record was lost to a race would otherwise get our
// trap delivered), where the trap must come from an int3 (SI_KERNEL, not
// kill, tgkill or a single step) and the byte there must be int3 in t's
// memory. Anything else is the program's, and is delivered unchanged.
func (tr *tracer) trapImage(t *thread, rip uint64) *image {
	at := rip - 1
	if img := t.img; img != nil && img.has(at) {
		// The PC just past one of our int3s, in the middle of the
		// instruction the int3 replaced: only our int3 leads there.
		return img
	}
	si, err := getSiginfo(t.TID)
	if err != nil || int32(binary.LittleEndian.Uint32(si[8:])) != siKernelCode {
		return nil
	}
	for img := range tr.images {
		if !img.has(at) {
			continue
		}
		var b [1]byte
		if n, err := unix.PtracePeekData(t.TID, uintptr(at), b[:]); err == nil && n == 1 && b[0] == int3 {
			if t.img == nil {
				tr.setImage(t, img)
			}
			return img
		}
	}
	return nil
}

// traceOpts are the ptrace options of every tracee.
const traceOpts = unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
	unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_EXITKILL

// lastMeasure runs after a thread's peak was measured at a madvise of its
// own stack. When that madvise is glibc's own, from start_thread's
// advise_stack_range (the return address is in the C library, the range
// starts at or below the stack's bottom, the thread is not a process's
// first), the thread has finished: all that is left is a free of its
// descriptor (detached threads) and the exit system call, on the pages the
// madvise keeps near its SP, which the measurement just read. Its exit
// event would measure nothing new (the rest of the stack is gone by then),
// so it is turned off for this thread: one stop fewer per thread. How the
// thread ended still comes from its wait status (reap).
func (tr *tracer) lastMeasure(t *thread, img *image, r *unix.PtraceRegs) {
	if t.TID == t.PID || img.libcHi == 0 || r.Rdi > t.lo || t.Kind != KindPthread {
		return
	}
	mem := openMem(t.TID)
	ret, ok := mem.u64(r.Rsp)
	mem.close()
	if !ok || ret < img.libcLo || ret >= img.libcHi {
		return
	}
	if unix.PtraceSetOptions(t.TID, traceOpts&^unix.PTRACE_O_TRACEEXIT) == nil {
		t.quietExit = true
	}
}
