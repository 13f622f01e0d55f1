// Package trace runs a program under ptrace and follows every thread and child
// process: each thread's stack, its peak use and the class of any crash.
//
// Linux only (build tags); elsewhere Run returns an error that says so.
package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
	Env  []string // environment; GLIBC_TUNABLES is extended by Run
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
}

// Result is what one run found. Its JSON form is a contract: keys are only
// ever added.
type Result struct {
	ExitStatus int       `json:"exit_status"`
	Threads    []*Thread `json:"threads"`
	Crash      *Crash    `json:"crash"`
	// Findings are stack problems that did not crash the program, such as a
	// clone() stack whose measured use reached its bottom.
	Findings []string `json:"findings"`
	Tunables string   `json:"glibc_tunables"`
	// TimedOut is true when Config.Timeout passed and the run was killed.
	TimedOut bool `json:"timed_out,omitempty"`
	// Go describes a Go program's goroutines (nil for other programs).
	Go *GoInfo `json:"go,omitempty"`
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
	InMain   bool   `json:"-"` // in the program's own executable
}

// String is "func+0x12 (file.c:7)" or "module+0x1234".
func (f Frame) String() string {
	s := f.Name()
	if f.File != "" {
		s += fmt.Sprintf(" (%s:%d)", f.File, f.Line)
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
	Detail   string `json:"detail"`
	PC       string `json:"pc"`
	SP       uint64 `json:"sp"`
	Addr     uint64 `json:"fault_addr"`
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
	// Goroutine is the Go goroutine that overflowed (0: not a goroutine).
	Goroutine int `json:"goroutine,omitempty"`

	all      []Frame     // every unwound frame
	states   []regsState // each frame's registers, as unwound (Linux)
	cycleEnd int         // frames worth printing when the backtrace recurses
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
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

// HumanBytes spells a size the way people read it: 812 B, 7.5 KiB, 8.0 MiB.
func HumanBytes(n uint64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/k)) + " KiB"
	case n < k*k*k:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(k*k))) + " MiB"
	default:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(k*k*k))) + " GiB"
	}
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

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
		fmt.Fprintf(w, "  thread %d (%s), %s (%s)\n", c.TID, c.Kind, c.Signal, c.Code)
		fmt.Fprintf(w, "  pc %s  sp %#x", c.PC, c.SP)
		if c.Addr != 0 {
			fmt.Fprintf(w, "  fault address %#x", c.Addr)
		}
		fmt.Fprintln(w)
		if t := r.thread(c.TID); t != nil && t.StackTop != 0 {
			fmt.Fprintf(w, "  stack %#x-%#x (%s), peak %s\n", t.StackBottom, t.StackTop, sizeOrUnknown(t.StackSize), HumanBytes(t.Peak))
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
			return fmt.Sprintf("crash (%s) in %s (thread %d), not a stack problem; %s", what, where, c.TID, status)
		}
	}
	if len(r.Findings) > 0 {
		return fmt.Sprintf("no crash, but %d stack warning(s); %s", len(r.Findings), status)
	}
	return fmt.Sprintf("no stack problem seen in %d thread(s); %s", len(r.Threads), status)
}

func (r *Result) writeTable(w io.Writer) {
	rows := [][]string{{"TID", "KIND", "STACK", "PEAK", "HEADROOM", "ENDED"}}
	for _, t := range r.Threads {
		size, head := "?", "?"
		if t.StackSize != nil {
			size = HumanBytes(*t.StackSize)
			if t.PeakMeasured && *t.StackSize > 0 {
				h := 100 * (float64(*t.StackSize) - float64(t.Peak)) / float64(*t.StackSize)
				head = fmt.Sprintf("%.1f%%", h)
			}
		}
		peak := "?"
		if t.PeakMeasured {
			peak = HumanBytes(t.Peak)
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
		rows = append(rows, []string{fmt.Sprint(t.TID), t.Kind, size, peak, head, ended})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	right := []bool{true, false, true, true, true, false}
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
}

// regsState is the register set the unwinder tracks, by DWARF register
// number (defined here, not in the Linux unwinder, because Crash keeps
// the unwound states on every platform's build).
type regsState map[uint64]uint64
