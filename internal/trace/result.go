// Package trace runs a program under ptrace and follows every thread and child
// process: each thread's stack, its peak use and the class of any crash.
//
// Linux only (build tags); elsewhere Run returns an error that says so.
package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/size"
)

// Kinds of thread.
const (
	KindMain    = "main"    // the main thread of the program started
	KindPthread = "pthread" // a thread created by pthread_create (clone3 or clone with CLONE_THREAD and a guarded mapping)
	KindClone   = "clone"   // raw clone() with CLONE_VM and a caller-allocated stack
	KindProcess = "process" // a child process (fork, vfork, clone without CLONE_VM), or after exec
)

// How a thread ended.
const (
	EndedExit   = "exit"
	EndedCrash  = "crash"
	EndedKilled = "killed"
)

// Crash classes.
const (
	ClassStackOverflow = "stack-overflow"
	ClassStackOverrun  = "stack-buffer-overrun"
	ClassOther         = "other"
)

// Config says what to run.
type Config struct {
	Path string   // resolved path of the program
	Args []string // argv, Args[0] included
	Env  []string // environment, passed through unchanged (ProgramEnv says the one exception)
	// ScanStderr copies the program's stderr through a pipe (every byte
	// forwarded unchanged) to recognise glibc and AddressSanitizer messages.
	// Run turns it off when stderr is a terminal or shares its file with stdout.
	ScanStderr bool
	Stdin      *os.File // the program's stdin (default os.Stdin)
	Stdout     *os.File // the program's stdout (default os.Stdout)
	Stderr     *os.File // the program's stderr (default os.Stderr)

	// StackLimit, when not zero, is the soft RLIMIT_STACK the program starts
	// with, in bytes (it must not exceed the hard limit). It is set before
	// exec, so the kernel sizes the initial stack and glibc its default
	// pthread stack size from it. Zero: inherit stackscope's own limit.
	StackLimit uint64
	// NoASLR starts the program with personality ADDR_NO_RANDOMIZE: no
	// address-space randomisation, no random gap at the top of the stack.
	NoASLR bool
	// Timeout, when not zero, kills every traced process (SIGKILL) once it
	// has passed; the result then has TimedOut set.
	Timeout time.Duration

	// loseCreatorEvents (tests only) makes the tracer act as if the kernel
	// never reported a creator's clone, fork or vfork event, as happens
	// when the creator is dying (events_linux.go, loseEvent).
	loseCreatorEvents bool
}

// Result is what one run found. Its JSON form is a contract: keys are only
// ever added.
type Result struct {
	// Kind is "run" in every record stackscope writes, so that a reader
	// (report --run) can tell a run record from another stackscope JSON.
	Kind string `json:"kind"`
	// StackscopeVersion names the stackscope build that wrote this report
	// (`stackscope version`); set by the command, empty in tests of the library.
	StackscopeVersion string `json:"stackscope_version,omitempty"`
	// Executable names the program that was run, so that a reader can tell
	// whether the record belongs to the file it is shown with.
	Executable *Executable `json:"executable,omitempty"`
	ExitStatus int         `json:"exit_status"`
	Threads    []*Thread   `json:"threads"`
	Crash      *Crash      `json:"crash"`
	// Findings are stack problems that did not crash the program, such as a
	// clone() stack whose measured use reached its bottom.
	Findings []string `json:"findings"`
	// Tunables is the GLIBC_TUNABLES the program ran with: the user's
	// own, unchanged ("" when not set).
	Tunables string `json:"glibc_tunables"`
	// TimedOut is true when Config.Timeout passed and the run was killed.
	TimedOut bool `json:"timed_out,omitempty"`
	// Go describes a Go program's goroutines (nil for other programs).
	Go *GoInfo `json:"go,omitempty"`
}

// KindRun is the "kind" of a run record.
const KindRun = "run"

// Executable identifies a program file: by its GNU build ID when it has
// one, else by its path and size.
type Executable struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	BuildID string `json:"build_id,omitempty"`
}

// Thread is one traced thread (or the main thread of one traced process).
type Thread struct {
	TID  int    `json:"tid"`
	PID  int    `json:"pid"` // thread group
	Kind string `json:"kind"`
	// StackSize is the usable stack in bytes (top at thread start down to the
	// bottom of its region; RLIMIT_STACK for a main thread); nil if unknown.
	StackSize *uint64 `json:"stack_size"`
	Peak      uint64  `json:"peak"`
	// PeakExact is false when the peak could not be measured.
	PeakMeasured bool   `json:"peak_measured"`
	Ended        string `json:"ended"`
	// Status is the exit code, or the signal that ended the thread.
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`

	StackTop    uint64 `json:"stack_top"`
	StackBottom uint64 `json:"stack_bottom"`
	GuardSize   uint64 `json:"guard_size"`
	Region      string `json:"region"` // "[stack]", "mmap", "[heap]", "heap chunk"
	Program     string `json:"program"`
	// StackRequested is, for a pthread, the stack size the program asked
	// for (pthread_attr_setstacksize, or glibc's default from
	// RLIMIT_STACK), rounded up to a page: the mapping glibc made for it,
	// its guard page not included. StackSize is what is left of it for the
	// thread's frames: glibc keeps the top of the mapping for the thread
	// descriptor and the static TLS. Nil when unknown or not a pthread.
	StackRequested *uint64 `json:"stack_requested,omitempty"`
	// Overflow is how far below the bottom of its stack a thread that
	// overflowed reached (its SP or the fault address); its Peak then
	// includes it, so Peak >= StackSize. Zero otherwise.
	Overflow uint64 `json:"overflow,omitempty"`
	// PeakStale, when not empty, says why Peak is an upper bound: the
	// thread's stack held an earlier thread's data that stackscope could
	// not clear when the thread started (stackreuse_linux.go), and the
	// measurement counts it as used.
	PeakStale string `json:"peak_stale,omitempty"`
	// StartUse is, for a main thread, the bytes between the top of [stack]
	// and the stack pointer at exec: argv, envp, auxv and their strings,
	// which count against RLIMIT_STACK. Zero when unknown.
	StartUse uint64 `json:"-"`
}

// Frame is one frame of a backtrace.
type Frame struct {
	PC       uint64 `json:"pc"`
	Function string `json:"function"`
	Offset   uint64 `json:"offset"`
	Module   string `json:"module"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	InMain   bool   `json:"in_main,omitempty"` // in the program's own executable
}

// String is "func+0x12 (file.c:7)", "func+0x12 (libfoo.so, foo.c:7)"
// outside the main program, or "module+0x1234". The library is named
// because a bug inside a plugin is found by the library first.
func (f Frame) String() string {
	s := f.Name()
	var where []string
	if !f.InMain && f.Function != "" && f.Module != "" {
		where = append(where, baseName(f.Module))
	}
	if f.File != "" {
		where = append(where, fmt.Sprintf("%s:%d", f.File, f.Line))
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

// Name is the function+offset, or module+offset when there is no symbol.
func (f Frame) Name() string {
	if f.Function != "" {
		return fmt.Sprintf("%s+%#x", f.Function, f.Offset)
	}
	if f.Module != "" {
		return fmt.Sprintf("%s+%#x", baseName(f.Module), f.Offset)
	}
	return fmt.Sprintf("%#x", f.PC)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Crash describes the first crash of the run.
type Crash struct {
	Class    string `json:"class"`
	TID      int    `json:"tid"`
	Kind     string `json:"kind"`
	Signal   string `json:"signal"`
	Code     string `json:"code"`
	Function string `json:"function"` // the function to blame
	// Module is the shared library (path) that holds Function, when that
	// is not the main program.
	Module string `json:"module,omitempty"`
	Detail string `json:"detail"`
	PC     string `json:"pc"`
	SP     uint64 `json:"sp"`
	Addr   uint64 `json:"fault_addr"`
	// Backtrace names, innermost first; capped.
	Backtrace []string `json:"backtrace"`
	Frames    []Frame  `json:"frames"`
	// Cycle is the repeating part of a recursive backtrace, if any.
	Cycle       []string `json:"cycle,omitempty"`
	CycleName   string   `json:"cycle_name,omitempty"`
	Depth       int      `json:"unwound_frames"`
	Truncated   bool     `json:"truncated"`
	LocalArrays []string `json:"local_arrays,omitempty"`
	ASan        string   `json:"asan,omitempty"`
	// Sender is who sent the signal, when it was sent (kill, tgkill,
	// sigqueue: SI_USER, SI_TKILL, SI_QUEUE) rather than raised by a fault.
	Sender *Sender `json:"sender,omitempty"`
	// Goroutine is the Go goroutine that overflowed (0: not a goroutine).
	Goroutine int `json:"goroutine,omitempty"`

	all      []Frame     // every unwound frame
	states   []regsState // each frame's registers, as unwound (Linux)
	cycleEnd int         // frames worth printing when the backtrace recurses
}

// Sender is the process that sent a signal (siginfo's si_pid, si_uid).
type Sender struct {
	PID int    `json:"pid"`
	UID uint32 `json:"uid"`
	// Command is its name (/proc/PID/comm, or the program of a traced
	// process already gone); empty when neither is known.
	Command string `json:"command,omitempty"`
	// Self: the crashed thread's own process sent it (raise, abort, kill
	// of itself).
	Self bool   `json:"self"`
	Call string `json:"call"` // kill, tgkill or sigqueue
}

// String is "process 4242 (bash) with kill()", or "the program itself with
// tgkill() (process 4242, prog)".
func (s *Sender) String() string {
	if s.Self {
		who := fmt.Sprintf("process %d", s.PID)
		if s.Command != "" {
			who += ", " + s.Command
		}
		return fmt.Sprintf("the program itself with %s() (%s)", s.Call, who)
	}
	who := fmt.Sprintf("process %d", s.PID)
	if s.Command != "" {
		who += " (" + s.Command + ")"
	}
	return fmt.Sprintf("%s with %s()", who, s.Call)
}

// sentFault: a signal that normally means a faulting instruction (SIGSEGV,
// SIGBUS, ...) was sent by a process instead.
func (c *Crash) sentFault() bool {
	if c.Sender == nil {
		return false
	}
	switch c.Signal {
	case "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGSYS":
		return true
	}
	return false
}

// settleOverflow makes the thread of a stack-overflow crash show what the
// verdict says: its peak reaches at least the bottom of its stack, and down
// to its SP or the fault address when those are lower. The page scan alone
// stops at the bottom (below it are the guard or someone else's memory), so
// it showed an overflowed 8 KiB stack with peak 7.7 KiB and 4% headroom.
func (r *Result) settleOverflow() {
	c := r.Crash
	if c == nil || c.Class != ClassStackOverflow {
		return
	}
	t := r.thread(c.TID)
	if t == nil || t.StackTop == 0 || t.StackSize == nil {
		return
	}
	deepest := c.SP
	// A fault address below SP is the access that faulted (a frame that
	// moved SP down and wrote at its far end); one far away is not this
	// stack's.
	if c.Addr != 0 && c.Addr < deepest && deepest-c.Addr <= 1<<20 {
		deepest = c.Addr
	}
	size := *t.StackSize
	reach := size
	if deepest != 0 && deepest < t.StackTop {
		reach = max(reach, t.StackTop-deepest)
	}
	t.Peak = max(t.Peak, reach)
	t.PeakMeasured = true
	t.Overflow = t.Peak - size
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	r.Kind = KindRun
	if r.Threads == nil {
		r.Threads = []*Thread{}
	}
	if r.Findings == nil {
		r.Findings = []string{}
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// HumanBytes writes a size in the one text style of every output
// (size.Format): "812 B", "7.5 KiB", "8.0 MiB".
func HumanBytes(n uint64) string { return size.Format(clamp(n)) }

// clamp keeps a uint64 size in int64 for size.Format; no real stack or
// address-space size reaches 8 EiB.
func clamp(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// Commas writes n with thousands separators: 6,144.
func Commas(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// WriteText writes the human report: the verdict first, then the crash, then
// the thread table.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "stackscope: %s\n", r.Verdict())
	if c := r.Crash; c != nil {
		fmt.Fprintf(w, "  %s\n", c.Detail)
		if c.ASan != "" {
			fmt.Fprintf(w, "  sanitizer: %s\n", c.ASan)
		}
		fmt.Fprintf(w, "  thread %d (%s%s), %s (%s)", c.TID, c.Kind, r.programOf(c.TID), c.Signal, c.Code)
		if c.Sender != nil {
			fmt.Fprintf(w, " sent by %s", c.Sender)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  pc %s  sp %#x", c.PC, c.SP)
		if c.Addr != 0 {
			fmt.Fprintf(w, "  fault address %#x", c.Addr)
		}
		fmt.Fprintln(w)
		if t := r.thread(c.TID); t != nil && t.StackTop != 0 {
			fmt.Fprintf(w, "  stack %#x-%#x (%s), peak %s", t.StackBottom, t.StackTop, stackWords(t), HumanBytes(t.Peak))
			if t.Overflow > 0 {
				fmt.Fprintf(w, ": %s below its bottom", HumanBytes(t.Overflow))
			}
			fmt.Fprintln(w)
		}
		if len(c.Cycle) > 0 {
			fmt.Fprintf(w, "  recursion: a cycle of %d frame(s) through %s repeats: %s\n", len(c.Cycle), c.CycleName, strings.Join(c.Cycle, " -> "))
		}
		if len(c.Frames) > 0 {
			shown := c.Frames
			if c.cycleEnd > 0 && c.cycleEnd < len(shown) {
				shown = shown[:c.cycleEnd]
			}
			more := ""
			if c.Truncated {
				more = "+"
			}
			fmt.Fprintf(w, "  backtrace (%d%s frames):\n", c.Depth, more)
			for i, f := range shown {
				fmt.Fprintf(w, "    #%-3d %#x %s\n", i, f.PC, f.String())
			}
			if len(shown) < c.Depth {
				fmt.Fprintf(w, "    ... %d%s more frames", c.Depth-len(shown), more)
				if len(c.Cycle) > 0 {
					fmt.Fprintf(w, " (the cycle repeats)")
				}
				fmt.Fprintln(w)
			}
		}
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  note: %s\n", f)
	}
	r.writeGo(w)
	r.writeTable(w)
}

// stackWords is "59.9 KiB", or for a pthread whose request is known "59.9
// KiB usable of the 64 KiB asked for; the 4.1 KiB above hold the thread
// descriptor and TLS".
func stackWords(t *Thread) string {
	s := sizeOrUnknown(t.StackSize)
	if t.StackSize != nil && t.StackRequested != nil && *t.StackRequested > *t.StackSize {
		s = fmt.Sprintf("%s usable of the %s asked for; glibc keeps %s at its top for the thread descriptor and TLS", s, HumanBytes(*t.StackRequested), HumanBytes(*t.StackRequested-*t.StackSize))
	}
	return s
}

// multiProgram: the run's threads run more than one program (a child
// exec'd another): the text then names each thread's program.
func (r *Result) multiProgram() bool {
	for _, t := range r.Threads {
		if t.Program != "" && t.Program != r.Threads[0].Program {
			return true
		}
	}
	return false
}

// programOf is ", in ls" for a thread of a run with several programs.
func (r *Result) programOf(tid int) string {
	t := r.thread(tid)
	if t == nil || t.Program == "" || !r.multiProgram() {
		return ""
	}
	return ", " + baseName(t.Program)
}

func sizeOrUnknown(p *uint64) string {
	if p == nil {
		return "unknown size"
	}
	return HumanBytes(*p)
}

func (r *Result) thread(tid int) *Thread {
	for _, t := range r.Threads {
		if t.TID == tid {
			return t
		}
	}
	return nil
}

// Verdict is the one-line answer.
func (r *Result) Verdict() string {
	status := fmt.Sprintf("exit status %d", r.ExitStatus)
	if c := r.Crash; c != nil {
		where := c.Function
		if where == "" {
			where = "an unknown function"
		} else if c.Module != "" {
			where += " (" + baseName(c.Module) + ")"
		}
		switch c.Class {
		case ClassStackOverflow:
			return fmt.Sprintf("STACK OVERFLOW in thread %d (%s) in %s; %s", c.TID, c.Kind, where, status)
		case ClassStackOverrun:
			return fmt.Sprintf("STACK BUFFER OVERRUN in %s (thread %d); %s", where, c.TID, status)
		default:
			what := c.Signal
			if c.ASan != "" {
				what = "AddressSanitizer"
			}
			if c.sentFault() {
				return fmt.Sprintf("%s sent by %s, not a fault (thread %d was in %s), not a stack problem; %s", c.Signal, c.Sender, c.TID, where, status)
			}
			return fmt.Sprintf("crash (%s) in %s (thread %d), not a stack problem; %s", what, where, c.TID, status)
		}
	}
	if len(r.Findings) > 0 {
		return fmt.Sprintf("no crash, but %d stack warning(s); %s", len(r.Findings), status)
	}
	return fmt.Sprintf("no stack problem seen in %d thread(s); %s", len(r.Threads), status)
}

func (r *Result) writeTable(w io.Writer) {
	// ASKED (a pthread's requested size) and PROGRAM (after an exec) only
	// when some thread has one, to keep the common table narrow.
	asked, progs := false, r.multiProgram()
	for _, t := range r.Threads {
		asked = asked || t.StackRequested != nil
	}
	head := []string{"TID", "KIND"}
	right := []bool{true, false}
	if asked {
		head, right = append(head, "ASKED"), append(right, true)
	}
	head = append(head, "STACK", "PEAK", "HEADROOM", "ENDED")
	right = append(right, true, true, true, false)
	if progs {
		head, right = append(head, "PROGRAM"), append(right, false)
	}
	rows := [][]string{head}
	for _, t := range r.Threads {
		stack, room := "?", "?"
		if t.StackSize != nil {
			stack = size.FormatCapacity(clamp(*t.StackSize))
			if t.PeakMeasured && *t.StackSize > 0 {
				room = Headroom(*t.StackSize, t.Peak)
			}
		}
		peak := "?"
		if t.PeakMeasured {
			peak = HumanBytes(t.Peak)
			if t.PeakStale != "" {
				peak = "<=" + peak
			}
		}
		ended := t.Ended
		switch {
		case t.Ended == EndedExit:
			ended = fmt.Sprintf("exit %d", t.ExitCode)
		case t.Signal != "":
			ended = t.Ended + " (" + t.Signal + ")"
		case t.Ended == "":
			ended = "running"
		}
		row := []string{fmt.Sprint(t.TID), t.Kind}
		if asked {
			a := "-"
			if t.StackRequested != nil {
				a = HumanBytes(*t.StackRequested)
			}
			row = append(row, a)
		}
		row = append(row, stack, peak, room, ended)
		if progs {
			row = append(row, baseName(t.Program))
		}
		rows = append(rows, row)
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString(" ")
		for i, c := range row {
			b.WriteString(" ")
			pad := strings.Repeat(" ", width[i]-len(c))
			if right[i] {
				b.WriteString(pad + c)
			} else if i == len(row)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
			b.WriteString(" ")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	for _, t := range r.Threads {
		if t.PeakMeasured && t.PeakStale != "" {
			fmt.Fprintf(w, "  <= thread %d: %s\n", t.TID, t.PeakStale)
		}
	}
}

// Headroom is the share of the stack left at the peak, or "none" with how
// far past the bottom the thread went.
func Headroom(size, peak uint64) string {
	switch {
	case peak > size:
		return "none (" + HumanBytes(peak-size) + " over)"
	case peak == size:
		return "none"
	}
	// Rounded down, as a capacity is (size.FormatCapacity): room printed
	// larger than it is would look safer than it is.
	return fmt.Sprintf("%.1f%%", math.Floor(1000*(float64(size)-float64(peak))/float64(size))/10)
}

// regsState is the register set the unwinder tracks, by DWARF register
// number (defined here, not in the Linux unwinder, because Crash keeps
// the unwound states on every platform's build).
type regsState map[uint64]uint64
