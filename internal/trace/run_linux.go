//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrPtraceDenied is returned when the kernel refuses to let us trace.
var ErrPtraceDenied = errors.New("ptrace is not permitted here: allow it with `sysctl kernel.yama.ptrace_scope=0` (or 1, since stackscope traces its own child), give stackscope CAP_SYS_PTRACE, or inside a container run it with --cap-add=SYS_PTRACE and a seccomp profile that allows ptrace")

// StartError is a failure to start the program: Code is the shell's status
// for it (126 or 127) or 2.
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

const (
	cloneVM     = 0x100
	cloneVfork  = 0x4000
	cloneThread = 0x10000

	sysClone     = 56
	sysFork      = 57
	sysVfork     = 58
	sysExit      = 60
	sysExitGroup = 231
	sysClone3    = 435
)

// thread is the supervisor's state for one tid.
type thread struct {
	*Thread
	awaitStop bool // created by an event; its first SIGSTOP is ours
	quietExit bool // its exit event was turned off after its last measurement (lastMeasure)
	region    string
	heapStack bool   // region is a malloc chunk or unknown part of the heap
	lo        uint64 // lowest address of the region (for a main thread: [stack] start now)
	fault     *fault // analysed at its first fault; promoted if it kills the thread
	exited    bool   // PTRACE_EVENT_EXIT seen
	img       *image // breakpoints of the program image it runs
	reaped    bool
	execd     bool        // exec'd a new program: its parent's clone event must not undo that
	gort      *goRuntime  // the Go runtime of its program, nil when not Go
	late      *lateSignal // a crash signal after its first fault
	refaults  int         // faults analysed again after a handled one
}

type tracer struct {
	cfg      Config
	res      *Result
	threads  map[int]*thread
	leader   int
	held     map[int]bool // threads held in group-stop
	scan     *stderrScan
	sigcont  chan os.Signal
	crashSeq []*thread
	goFatal  *goFatal        // the thread of a Go program that exited with status 2
	early    map[int]*early  // tracees held until their creator's event (events_linux.go)
	images   map[*image]bool // every address space's breakpoint record in use

	// live holds the tids not yet reaped, for Config.Timeout: the timer
	// fires on another goroutine than the supervisor's.
	liveMu   sync.Mutex
	live     map[int]bool
	timedOut bool // under liveMu
}

// forkMu serialises starting programs: RLIMIT_STACK is per process, so a
// Run with Config.StackLimit lowers stackscope's own limit just around the
// fork, and no other Run may fork meanwhile.
var forkMu sync.Mutex

// addrNoRandomize is personality(2)'s ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

// Run starts the program and traces it to the end.
func Run(cfg Config) (*Result, error) {
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	tun := userTunables(cfg.Env)
	cfg.Env = ProgramEnv(cfg.Path, cfg.Env)
	tr := &tracer{
		cfg:     cfg,
		res:     &Result{Tunables: tun},
		threads: map[int]*thread{},
		held:    map[int]bool{},
		early:   map[int]*early{},
		images:  map[*image]bool{},
		sigcont: make(chan os.Signal, 4),
		live:    map[int]bool{},
	}
	outFD, errFD := cfg.Stdout.Fd(), cfg.Stderr.Fd()
	if allowed, shared := scanAllowed(cfg.Stderr, cfg.Stdout); cfg.ScanStderr && allowed {
		s, w, err := newStderrScan(cfg.Stderr)
		if err == nil {
			tr.scan = s
			errFD = w.Fd()
			if shared {
				// stdout and stderr are one open file: both go through the
				// one pipe, so their interleaving is kept exactly.
				outFD = w.Fd()
			}
			defer w.Close()
			cfg.ScanStderr = true
			tr.cfg.Stderr = w
		}
	}

	// Signals for stackscope go to the program. SIGINT and SIGQUIT from a
	// terminal already reach the whole process group, so they are only
	// caught (not ignored: an ignored signal would stay ignored across exec).
	fwd := make(chan os.Signal, 8)
	signal.Notify(fwd, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGPIPE)
	signal.Notify(tr.sigcont, unix.SIGCONT)
	defer signal.Stop(fwd)
	defer signal.Stop(tr.sigcont)

	type outcome struct {
		err error
	}
	done := make(chan outcome, 1)
	started := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread dies with the goroutine, and with it
		// any ptrace state.
		done <- outcome{tr.supervise(outFD, errFD, started)}
	}()
	var pid int
	var timeout <-chan time.Time
	if cfg.Timeout > 0 {
		tm := time.NewTimer(cfg.Timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	for {
		select {
		case <-timeout:
			tr.killAll()
		case p := <-started:
			pid = p
		case s := <-fwd:
			if pid > 0 {
				sig := s.(syscall.Signal)
				if sig != unix.SIGINT && sig != unix.SIGQUIT && sig != unix.SIGPIPE {
					unix.Kill(pid, sig)
				}
			}
		case o := <-done:
			if tr.scan != nil {
				// The pipe closes when the last holder of its write end is
				// gone; do not wait for daemons that keep it.
				tr.cfg.Stderr.Close()
				tr.scan.wait(500 * time.Millisecond)
				tr.applyStderr()
			}
			if o.err != nil {
				return nil, o.err
			}
			tr.applyRuntimes()
			tr.finish()
			tr.liveMu.Lock()
			tr.res.TimedOut = tr.timedOut
			tr.liveMu.Unlock()
			return tr.res, nil
		}
	}
}

// killAll ends a run that took longer than Config.Timeout: SIGKILL to every
// traced thread (and so its process); threads that appear later are killed
// as they are registered.
func (tr *tracer) killAll() {
	tr.liveMu.Lock()
	defer tr.liveMu.Unlock()
	tr.timedOut = true
	for tid := range tr.live {
		unix.Kill(tid, unix.SIGKILL)
	}
}

// forkExec starts the program stopped for tracing, with the stack limit and
// personality the configuration asks for. It runs on the supervisor's locked
// OS thread, which never runs anything else: the personality set here is
// that thread's alone and dies with it.
func (tr *tracer) forkExec(attr *syscall.ProcAttr) (int, error) {
	if tr.cfg.NoASLR {
		cur, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		if e != 0 {
			return 0, &StartError{2, fmt.Errorf("personality: %v", e)}
		}
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, cur|addrNoRandomize, 0, 0); e != 0 {
			return 0, &StartError{2, fmt.Errorf("personality(ADDR_NO_RANDOMIZE): %v", e)}
		}
	}
	forkMu.Lock()
	defer forkMu.Unlock()
	if tr.cfg.StackLimit > 0 {
		var old unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_STACK, &old); err != nil {
			return 0, &StartError{2, fmt.Errorf("getrlimit(RLIMIT_STACK): %v", err)}
		}
		if old.Max != unix.RLIM_INFINITY && tr.cfg.StackLimit > old.Max {
			return 0, &StartError{2, fmt.Errorf("stack limit %s is above the hard limit %s", HumanBytes(uint64(tr.cfg.StackLimit)), HumanBytes(uint64(old.Max)))}
		}
		// stackscope's own main thread keeps the stack it has (the kernel
		// mapped at least 128 KiB of it at exec, more than Go's main
		// thread uses); only the child's exec sees the lower limit.
		lim := unix.Rlimit{Cur: tr.cfg.StackLimit, Max: old.Max}
		if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
			return 0, &StartError{2, fmt.Errorf("setrlimit(RLIMIT_STACK, %d): %v", tr.cfg.StackLimit, err)}
		}
		defer unix.Setrlimit(unix.RLIMIT_STACK, &old)
	}
	pid, err := syscall.ForkExec(tr.cfg.Path, tr.cfg.Args, attr)
	if err != nil {
		return 0, startError(tr.cfg.Path, err)
	}
	return pid, nil
}

// supervise runs on one locked OS thread: every ptrace and wait call is here.
func (tr *tracer) supervise(outFD, errFD uintptr, started chan<- int) error {
	attr := &syscall.ProcAttr{
		Env:   tr.cfg.Env,
		Files: []uintptr{tr.cfg.Stdin.Fd(), outFD, errFD},
		Sys:   &syscall.SysProcAttr{Ptrace: true},
	}
	pid, err := tr.forkExec(attr)
	if err != nil {
		return err
	}
	tr.leader = pid
	tr.liveMu.Lock()
	tr.live[pid] = true
	if tr.timedOut {
		unix.Kill(pid, unix.SIGKILL)
	}
	tr.liveMu.Unlock()
	started <- pid
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", tr.cfg.Path, err)
		}
		break
	}
	if !ws.Stopped() {
		// It died before exec completed.
		tr.res.ExitStatus = statusOf(ws)
		return nil
	}
	if err := unix.PtraceSetOptions(pid, traceOpts); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("ptrace options: %w", err)
	}
	t := tr.newThread(pid, pid, KindMain)
	tr.initMainStack(t)
	unix.PtraceCont(pid, 0)
	tr.loop()
	return nil
}

func startError(path string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &StartError{127, fmt.Errorf("%s: command not found", path)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR):
		return &StartError{126, fmt.Errorf("%s: cannot execute: %v", path, err)}
	case errors.Is(err, unix.EPERM):
		return &StartError{2, ErrPtraceDenied}
	}
	return &StartError{2, fmt.Errorf("%s: %v", path, err)}
}

func statusOf(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (tr *tracer) newThread(tid, pid int, kind string) *thread {
	t := &thread{Thread: &Thread{TID: tid, PID: pid, Kind: kind}}
	tr.threads[tid] = t
	tr.liveMu.Lock()
	tr.live[tid] = true
	if tr.timedOut {
		unix.Kill(tid, unix.SIGKILL)
	}
	tr.liveMu.Unlock()
	tr.res.Threads = append(tr.res.Threads, t.Thread)
	return t
}

// initMainStack describes the main thread of a freshly exec'd program.
func (tr *tracer) initMainStack(t *thread) {
	t.Program = exePath(t.TID)
	tr.setImage(t, newImage(t.TID))
	t.gort = detectGo(t.Program)
	maps := readMaps(t.TID)
	var r unix.PtraceRegs
	sp := uint64(0)
	if unix.PtraceGetRegs(t.TID, &r) == nil {
		sp = r.Rsp
	}
	t.StackSize, t.StackTop, t.lo, t.GuardSize, t.heapStack, t.PeakMeasured = nil, 0, 0, 0, false, false
	for _, m := range maps {
		if m.path == "[stack]" || (sp != 0 && m.contains(sp)) {
			t.StackTop, t.lo = m.end, m.start
			t.Region = "[stack]"
			break
		}
	}
	t.StartUse = 0
	if sp != 0 && sp < t.StackTop {
		t.StartUse = t.StackTop - sp
	}
	if lim, ok := stackLimit(t.TID); ok {
		t.StackSize = &lim
		if t.StackTop > lim {
			t.StackBottom = t.StackTop - lim
		}
	} else {
		t.StackBottom = t.lo
	}
	t.GuardSize = 256 * 4096 // the kernel's stack_guard_gap
}

func (tr *tracer) loop() {
	for {
		flags := unix.WALL
		if len(tr.held) > 0 || len(tr.early) > 0 {
			flags |= unix.WNOHANG
		}
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, flags, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left to trace
			tr.releaseOrphans(true)
			return
		}
		if tid == 0 {
			if len(tr.held) > 0 {
				tr.pollHeld()
			} else {
				// Only held new tracees: their creators' events are on
				// the way (or the creators are dying).
				time.Sleep(200 * time.Microsecond)
				tr.releaseOrphans(false)
			}
			continue
		}
		tr.handle(tid, ws)
	}
}

// pollHeld releases group-stopped threads once SIGCONT is on its way.
func (tr *tracer) pollHeld() {
	got := false
	select {
	case <-tr.sigcont:
		got = true
	case <-time.After(20 * time.Millisecond):
	}
	for tid := range tr.held {
		t := tr.threads[tid]
		if t == nil {
			delete(tr.held, tid)
			continue
		}
		if got || sigcontPending(t.PID) {
			delete(tr.held, tid)
			unix.PtraceCont(tid, 0)
		}
	}
}

func (tr *tracer) handle(tid int, ws unix.WaitStatus) {
	t := tr.threads[tid]
	if t == nil && tid != tr.leader {
		// A new thread or process whose creator's event has not been
		// seen yet: held stopped until it has (events_linux.go).
		tr.hold(tid, ws)
		return
	}
	switch {
	case ws.Exited() || ws.Signaled():
		if t != nil {
			tr.reap(t, ws)
		}
		if tid == tr.leader {
			tr.res.ExitStatus = statusOf(ws)
		}
		delete(tr.held, tid)
		return
	case !ws.Stopped():
		return
	}
	sig := ws.StopSignal()
	if t == nil {
		return
	}
	if t.awaitStop && sig == unix.SIGSTOP {
		t.awaitStop = false
		unix.PtraceCont(tid, 0)
		return
	}
	if sig == unix.SIGTRAP && ws.TrapCause() > 0 {
		tr.event(t, ws.TrapCause())
		return
	}
	if sig == unix.SIGTRAP && tr.trap(t) {
		return
	}
	si, siErr := getSiginfo(tid)
	if siErr != nil && (sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU) {
		// Group-stop: keep the thread stopped until SIGCONT arrives.
		tr.held[tid] = true
		return
	}
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGABRT, unix.SIGSYS, unix.SIGTRAP:
		if t.fault == nil && siErr == nil {
			t.fault = tr.analyse(t, sig, si)
		} else if t.fault != nil {
			tr.noteLateSignal(t, sig, si)
		}
	}
	unix.PtraceCont(tid, int(sig))
}

func (tr *tracer) event(t *thread, ev int) {
	tid := t.TID
	switch ev {
	case unix.PTRACE_EVENT_CLONE, unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK:
		msg, err := unix.PtraceGetEventMsg(tid)
		if err == nil && tr.cfg.loseCreatorEvents {
			tr.loseEvent(t, int(msg))
			return
		}
		if err == nil {
			tr.newChild(t, int(msg))
			unix.PtraceCont(tid, 0)
			tr.adoptEarly(int(msg))
			return
		}
	case unix.PTRACE_EVENT_EXEC:
		msg, _ := unix.PtraceGetEventMsg(tid)
		if old := int(msg); old != tid {
			// A non-leader thread exec'd and took the leader's tid.
			if ot := tr.threads[old]; ot != nil {
				delete(tr.threads, old)
				if lt := tr.threads[tid]; lt != nil && lt != ot {
					lt.Ended, lt.reaped = EndedExit, true
				}
				ot.TID = tid
				tr.threads[tid] = ot
				t = ot
			}
		}
		// Other threads of the old image are gone.
		for _, o := range tr.threads {
			if o != t && o.PID == t.PID && !o.reaped {
				if o.Ended == "" {
					o.Ended = EndedExit
				}
			}
		}
		tr.initMainStack(t)
		tr.execd(t)
		t.PID = tid
		t.fault = nil
	case unix.PTRACE_EVENT_EXIT:
		msg, _ := unix.PtraceGetEventMsg(tid)
		tr.exiting(t, unix.WaitStatus(msg))
		if len(tr.early) > 0 {
			tr.releaseOrphans(false)
		}
	}
	unix.PtraceCont(tid, 0)
}

// newChild describes the stack of a thread or process just created by t.
func (tr *tracer) newChild(parent *thread, ctid int) {
	c := tr.threads[ctid]
	if c == nil {
		c = tr.newThread(ctid, ctid, KindProcess)
		c.awaitStop = true
	}
	if c.execd {
		// Its exec was seen before this event (posix_spawn's child runs
		// at once): it already describes its new program.
		return
	}
	c.Program = parent.Program
	tr.setImage(c, parent.img)
	c.gort = parent.gort
	var r unix.PtraceRegs
	if unix.PtraceGetRegs(parent.TID, &r) != nil {
		return
	}
	flags, top, tls := cloneArgs(parent.TID, &r)
	tr.describeChild(parent, c, &r, flags, top, tls)
}

// describeChild gives c the stack its creator's clone, clone3, fork or
// vfork asked for: r holds the system call's registers (the creator's at
// its event, or the child's own at its first stop), flags, top and tls
// what cloneArgs read of them, and parent's address space is where its
// memory and mappings are read.
func (tr *tracer) describeChild(parent, c *thread, r *unix.PtraceRegs, flags, top, tls uint64) {
	if flags&cloneVM == 0 && parent.img != nil {
		// A copy of the memory, breakpoints included.
		tr.setImage(c, tr.forkImage(parent.img))
	}
	if flags&cloneThread != 0 {
		c.PID = parent.PID
	} else {
		c.PID = c.TID
	}
	if flags&cloneVM == 0 || top == 0 {
		// A process (fork, vfork) or a thread sharing its parent's stack:
		// the same stack region as the parent thread.
		c.Kind = KindProcess
		if flags&cloneVM != 0 && flags&cloneVfork == 0 {
			c.Kind = KindClone
		}
		c.StackTop, c.StackBottom, c.lo, c.GuardSize = parent.StackTop, parent.StackBottom, parent.lo, parent.GuardSize
		c.StackSize, c.Region, c.heapStack = parent.StackSize, parent.Region, parent.heapStack
		return
	}
	if parent.gort != nil && !parent.gort.cgo && r.Orig_rax == sysClone && flags&cloneThread != 0 {
		tr.goThread(parent, c, r, top)
		return
	}
	c.Kind = KindClone
	c.StackTop = top
	m, below, ok, adjacent := tr.mappingAt(parent, top-1)
	if !ok {
		return
	}
	switch {
	case m.path == "[heap]":
		c.Region, c.heapStack = "[heap]", true
		mem := openMem(parent.TID)
		if p, ok := findMallocChunk(mem, top, m.start, m.end); ok {
			size := top - p
			c.StackSize, c.StackBottom, c.lo = &size, p, p
			c.Region = "heap chunk"
		} else {
			c.StackBottom, c.lo = m.start, m.start
		}
		mem.close()
	default:
		c.Region = "mmap"
		if m.path != "" {
			c.Region = m.path
		}
		size := top - m.start
		c.StackSize, c.StackBottom, c.lo = &size, m.start, m.start
		if adjacent && below.none() {
			c.GuardSize = below.end - below.start
		}
		if (r.Orig_rax == sysClone3 || flags&cloneThread != 0) && c.GuardSize > 0 {
			c.Kind = KindPthread
		}
		if r.Orig_rax == sysClone3 && flags&cloneThread != 0 && m.path == "" {
			c.Kind = KindPthread
		}
		if flags&cloneSettls == 0 {
			tls = 0 // no TLS pointer given: none to find a descriptor at
		}
		pthreadRequested(c, tls, m)
		tr.reusedStack(parent, c, tls, m, below, adjacent)
	}
}

// cloneArgs reads what a clone-family system call asked for from the
// registers r at it (memory, for clone3's struct clone_args, is read
// through task tid): its flags, the top of the stack it gave (0 when
// none) and the TLS pointer.
func cloneArgs(tid int, r *unix.PtraceRegs) (flags, top, tls uint64) {
	switch r.Orig_rax {
	case sysClone: // clone(flags, stack, ptid, ctid, tls)
		return r.Rdi, r.Rsi, r.R8
	case sysClone3: // struct clone_args, read at once
		mem := openMem(tid)
		defer mem.close()
		var b [64]byte
		if mem.read(r.Rdi, b[:]) {
			flags = binary.LittleEndian.Uint64(b[0:])
			if stack := binary.LittleEndian.Uint64(b[40:]); stack != 0 {
				top = stack + binary.LittleEndian.Uint64(b[48:])
			}
			tls = binary.LittleEndian.Uint64(b[56:])
		}
	case sysVfork:
		flags = cloneVM | cloneVfork
	}
	return flags, top, tls
}

// exiting runs at PTRACE_EVENT_EXIT: the thread's memory is still there.
func (tr *tracer) exiting(t *thread, ws unix.WaitStatus) {
	t.exited = true
	tr.goExiting(t, ws)
	tr.measure(t)
	switch {
	case ws.Signaled():
		t.Signal = unix.SignalName(ws.Signal())
		t.Ended = EndedKilled
		if t.fault != nil && t.fault.signo == ws.Signal() || tr.caughtOverflow(t, ws.Signal()) {
			t.Ended = EndedCrash
			tr.promote(t)
		}
	default:
		t.Ended = EndedExit
		t.ExitCode = ws.ExitStatus()
		if t.ExitCode != 0 {
			tr.checkSanitizerExit(t)
		}
	}
}

func (tr *tracer) reap(t *thread, ws unix.WaitStatus) {
	t.reaped = true
	tr.liveMu.Lock()
	delete(tr.live, t.TID)
	tr.liveMu.Unlock()
	if t.Ended == "" {
		if ws.Signaled() {
			t.Ended = EndedKilled
			t.Signal = unix.SignalName(ws.Signal())
			if t.fault != nil && t.fault.signo == ws.Signal() || tr.caughtOverflow(t, ws.Signal()) {
				t.Ended = EndedCrash
				tr.promote(t)
			}
		} else {
			t.Ended = EndedExit
			t.ExitCode = ws.ExitStatus()
		}
	}
	delete(tr.threads, t.TID)
	tr.setImage(t, nil)
	if len(tr.early) > 0 {
		tr.releaseOrphans(false)
	}
}

func (tr *tracer) promote(t *thread) {
	if tr.res.Crash == nil && t.fault != nil {
		tr.res.Crash = &t.fault.Crash
	}
}

// measure finds the thread's peak stack use below its top.
func (tr *tracer) measure(t *thread) {
	if t.StackTop == 0 {
		return
	}
	mem := openMem(t.TID)
	defer mem.close()
	lo := t.lo
	var low uint64
	var ok bool
	if t.heapStack {
		if t.StackSize == nil {
			return // no bottom known: a heap scan would only find heap data
		}
		low, ok = lowestNonZero(mem, lo, t.StackTop)
		if ok && low < lo+16 {
			tr.res.Findings = append(tr.res.Findings, fmt.Sprintf(
				"the %s clone() stack of thread %d was used down to its very bottom: it may have overflowed into the heap", HumanBytes(*t.StackSize), t.TID))
		}
	} else {
		if t.Kind == KindMain || t.Region == "[stack]" {
			// The main stack grows: take its mapping as it is now.
			if m, _, found := findMapping(readMaps(t.TID), t.StackTop-1); found {
				lo = m.start
			}
		}
		low, ok = tr.lowestTouched(t, mem, lo, t.StackTop)
	}
	if ok && low < t.StackTop {
		// Measured more than once (before glibc's madvise, at exit): keep
		// the deepest.
		t.Peak = max(t.Peak, t.StackTop-low)
		t.PeakMeasured = true
	}
}

func getSiginfo(tid int) ([128]byte, error) {
	var b [128]byte
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(&b[0])), 0, 0)
	if e != 0 {
		return b, e
	}
	return b, nil
}

// finish fills in what is known only at the end.
func (tr *tracer) finish() {
	for _, t := range tr.res.Threads {
		if t.Ended == "" {
			t.Ended = EndedExit
		}
	}
	if c := tr.res.Crash; c != nil && len(c.Backtrace) == 0 {
		c.Backtrace = []string{}
	}
	tr.res.settleOverflow()
}
