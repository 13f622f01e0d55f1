package emu

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/trace"
)

// Result is a measured firmware run: the JSON contract of `stackscope run
// --format json FIRMWARE.elf` (kind "firmware-run"). Keys are only ever
// added.
type Result struct {
	Kind    string `json:"kind"`
	Version string `json:"version"`
	// Firmware is the ELF file's path; Machine and CPU the QEMU board.
	Firmware string `json:"firmware"`
	// Executable identifies the ELF (build ID, else absolute path and
	// size), so that `report --run` can tell a record of another build.
	Executable *trace.Executable `json:"executable,omitempty"`
	Machine    string            `json:"machine"`
	CPU        string            `json:"cpu"`
	// ICount is QEMU's -icount shift, -1 when the run was not
	// instruction-counted (not repeatable).
	ICount int `json:"icount"`
	// QEMU is the emulator's command line (without the GDB stub's options).
	QEMU []string   `json:"qemu"`
	Stop StopResult `json:"stop"`
	// Stacks: the main stack first; tasks and processes follow.
	Stacks []StackResult `json:"stacks"`
	// Output is what the firmware printed (UART, semihosting), the first
	// 256 KiB; OutputTruncated when there was more.
	Output          string   `json:"output"`
	OutputTruncated bool     `json:"output_truncated,omitempty"`
	Warnings        []string `json:"warnings"`

	riscv bool // run on a RISC-V board
}

// StopResult is why the run ended.
type StopResult struct {
	// Kind: exit, until, timeout, endless-loop, hardfault, lockup,
	// interrupted, qemu-died.
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	// ExitStatus is the firmware's semihosting exit status (kind exit),
	// null otherwise.
	ExitStatus *int `json:"exit_status"`
	// PC and Where (function+offset and source line) at the stop, with the
	// core registers r0-r15 and xPSR, when they could be read.
	PC        uint64   `json:"pc,omitempty"`
	Where     string   `json:"where,omitempty"`
	Registers []uint32 `json:"registers,omitempty"`
	XPSR      uint32   `json:"xpsr,omitempty"`
	// X are a RISC-V core's x0-x31 at the stop (Registers and XPSR are
	// then absent).
	X []uint64 `json:"x,omitempty"`
}

// StackResult is one stack's measurement beside its static bound.
type StackResult struct {
	Name string `json:"name"`
	// RatchetOverBound is the depth the --deepest run reached when it went
	// past the static bound (0 otherwise): an analysis bug, exit 1.
	RatchetOverBound int64 `json:"ratchet_over_bound,omitempty"`
	// Kind: "main", "task" (an RTOS task), "process", "trap" (a RISC-V
	// trap handler's own stack, such as FreeRTOS's xISRStack).
	Kind  string `json:"kind"`
	Top   uint64 `json:"top"`
	Limit uint64 `json:"limit"`
	Size  int64  `json:"size"`
	// Peak is the deepest use measured: top minus the lowest word whose
	// paint changed; null when not measured (NotMeasured says why).
	Peak *int64 `json:"peak"`
	// Overflowed: the word at the limit changed, so the stack reached its
	// end and maybe beyond (what lies below was not painted): the peak is
	// then at least the size.
	Overflowed bool `json:"overflowed"`
	// StaticBound is the static worst case of this stack (the main
	// stack's total: reset path plus interrupt levels), null when not
	// bounded; StaticAtLeast is then what it reaches at least.
	StaticBound   *int64 `json:"static_bound"`
	StaticAtLeast int64  `json:"static_at_least"`
	Bounded       bool   `json:"bounded"`
	// ResetBound is the reset path's own bound (main stack only).
	ResetBound *int64 `json:"reset_bound,omitempty"`
	// Headroom is size minus peak (null when not measured).
	Headroom    *int64 `json:"headroom"`
	NotMeasured string `json:"not_measured,omitempty"`
	// SizeSource says where a task's size came from (pxEndOfStack, the
	// static thread model, a static buffer, the heap block header).
	SizeSource string `json:"size_source,omitempty"`
	// Entry is a task's entry function; TCB, State and Priority what its
	// TCB says at the end of the run.
	Entry    string  `json:"entry,omitempty"`
	TCB      uint64  `json:"tcb,omitempty"`
	State    string  `json:"state,omitempty"`
	Priority *uint32 `json:"priority,omitempty"`
	// StaticContext is what the static bound adds to the entry's own
	// bound for a task (the exception frame and the registers the context
	// switch saves); StaticPath is the static worst path.
	StaticContext int64    `json:"static_context,omitempty"`
	StaticPath    []string `json:"static_path,omitempty"`
	// Deepest is the write that reached the peak, caught by the
	// watchpoint ratchet (null when none did; DeepestNote says why).
	Deepest     *Deepest `json:"deepest"`
	DeepestNote string   `json:"deepest_note,omitempty"`
	// PaintedAt is "main" when the stack was painted again at main's
	// entry (it lies in .bss or .data, which startup code initializes):
	// use before main is not in the peak. Note says so for a person.
	PaintedAt string `json:"painted_at,omitempty"`
	Note      string `json:"note,omitempty"`
}

// BoundExceeded: the measured peak is above a bounded static bound, which
// the analysis promises never happens.
func (s *StackResult) BoundExceeded() bool {
	return s.Peak != nil && s.StaticBound != nil && *s.Peak > *s.StaticBound
}

// Exit statuses of a firmware run.
const (
	exitOK      = 0
	exitFinding = 1
)

// exitInterrupted is the status of a run stopped by Ctrl-C (128+SIGINT,
// as a shell reports a program it interrupted).
const exitInterrupted = 130

// ExitStatus is the run's exit status: the firmware's own semihosting
// status when non-zero; else 1 when a stack overflowed, a measured peak
// exceeds its static bound, or the firmware crashed (HardFault, lockup,
// QEMU ended without an exit); 130 when interrupted; else 0.
func (r *Result) ExitStatus() int {
	if r.Stop.ExitStatus != nil && *r.Stop.ExitStatus != 0 {
		return *r.Stop.ExitStatus
	}
	for i := range r.Stacks {
		if r.Stacks[i].Overflowed || r.Stacks[i].BoundExceeded() || r.Stacks[i].RatchetOverBound > 0 {
			return exitFinding
		}
	}
	switch r.Stop.Kind {
	case "hardfault", StopLockup, StopQEMUDied:
		return exitFinding
	case StopCancelled:
		return exitInterrupted
	}
	return exitOK
}

// WriteJSON writes the result.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Verdict is the report's first line.
func (r *Result) Verdict() string {
	var parts []string
	for i := range r.Stacks {
		s := &r.Stacks[i]
		switch {
		case s.Overflowed:
			parts = append(parts, fmt.Sprintf("STACK OVERFLOW: the %s stack reached its limit (%s)", s.Name, size.FormatCapacity(s.Size)))
		case s.BoundExceeded() && r.overflowedOther(s) != "":
			parts = append(parts, fmt.Sprintf("the %s stack reached %s, over its static bound %s, after the %s stack overflowed into memory that is not its own", s.Name, size.Format(*s.Peak), size.Format(*s.StaticBound), r.overflowedOther(s)))
		case s.BoundExceeded():
			parts = append(parts, fmt.Sprintf("analysis bug: measured peak %d exceeds the static bound %d of the %s stack; please report with the ELF", *s.Peak, *s.StaticBound, s.Name))
		}
	}
	stop := r.stopPhrase()
	if len(parts) > 0 {
		return strings.Join(parts, "; ") + "; " + stop
	}
	var peaks []string
	for i := range r.Stacks {
		s := &r.Stacks[i]
		if s.Peak == nil {
			peaks = append(peaks, s.Name+" stack not measured")
			continue
		}
		p := fmt.Sprintf("%s stack peak %s of %s", s.Name, size.Format(*s.Peak), size.FormatCapacity(s.Size))
		if s.StaticBound != nil {
			p += ", bound holds"
		}
		peaks = append(peaks, p)
	}
	return stop + "; " + strings.Join(peaks, "; ")
}

// overflowedOther names another stack that overflowed in the run, ""
// when none did: after an overflow, memory beyond that stack was written
// and the firmware ran on corrupted state, so a peak over a bound
// elsewhere is the overflow's doing as likely as the analysis's.
func (r *Result) overflowedOther(s *StackResult) string {
	for i := range r.Stacks {
		if o := &r.Stacks[i]; o != s && o.Overflowed {
			return o.Name
		}
	}
	return ""
}

func (r *Result) stopPhrase() string {
	st := r.Stop
	switch st.Kind {
	case StopExit:
		if st.ExitStatus == nil { // a record read back without it
			return "firmware exited (status not recorded)"
		}
		return fmt.Sprintf("firmware exited with status %d", *st.ExitStatus)
	case "until":
		return "stopped at " + st.Where + " (--until)"
	case StopTimeout:
		return "TIMEOUT at " + st.Where
	case StopLoop:
		return "ENDLESS LOOP at " + st.Where
	case "hardfault":
		return "HARDFAULT: " + strings.TrimPrefix(st.Detail, "HardFault: ")
	case StopLockup:
		return "CPU LOCKUP: " + strings.TrimPrefix(st.Detail, "Lockup: ")
	case StopCancelled:
		return "interrupted at " + st.Where
	}
	return st.Kind + ": " + st.Detail
}

// WriteText writes the report for a person: the verdict, the run, then a
// table of stacks.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintln(w, "stackscope: "+r.Verdict())
	ic := "without -icount (timing follows the host: runs may differ)"
	if r.ICount >= 0 {
		ic = fmt.Sprintf("-icount shift=%d (instruction-counted: repeatable)", r.ICount)
	}
	fmt.Fprintf(w, "  %s on QEMU %s (%s), %s\n", r.Firmware, r.Machine, r.CPU, ic)
	stop := "  stop: " + r.Stop.Kind + ", " + r.Stop.Detail
	if r.Stop.Where != "" && r.Stop.Kind != "until" {
		stop += ", at " + r.Stop.Where
	}
	fmt.Fprintln(w, stop)
	if regs := r.Stop.Registers; len(regs) == 16 && (r.Stop.Kind == StopLockup || r.Stop.Kind == "hardfault" || r.Stop.Kind == StopQEMUDied) {
		var b strings.Builder
		for i, v := range regs {
			fmt.Fprintf(&b, " r%d=%08x", i, v)
		}
		fmt.Fprintf(w, "  registers:%s xpsr=%08x\n", b.String(), r.Stop.XPSR)
	}
	if x := r.Stop.X; len(x) == 32 && (r.Stop.Kind == StopLockup || r.Stop.Kind == StopQEMUDied) {
		var b strings.Builder
		for i, v := range x[1:] {
			fmt.Fprintf(&b, " x%d=%x", i+1, v)
		}
		fmt.Fprintf(w, "  registers:%s\n", b.String())
	}
	// Numbers right-aligned (tabwriter), then the check and the stack's
	// name left-aligned in the last cell, as analyze's tables end with
	// the entry.
	type row struct{ peak, size, room, bound, check, name string }
	rows := []row{{"PEAK", "SIZE", "HEADROOM", "STATIC BOUND", "CHECK", "STACK"}}
	for i := range r.Stacks {
		s := &r.Stacks[i]
		rw := row{peak: "-", size: size.FormatCapacity(s.Size), room: "-", check: "not measured", name: s.Name}
		if s.Kind != "main" {
			rw.name += " (" + s.Kind + ")"
		}
		if s.Peak != nil {
			rw.peak = size.Format(*s.Peak)
			rw.room = headroomText(s.Size, *s.Peak)
			rw.check = "no static bound"
			switch {
			case s.Overflowed:
				rw.peak, rw.room, rw.check = "≥ "+size.Format(s.Size), "none", "OVERFLOWED"
			case s.BoundExceeded():
				rw.check = fmt.Sprintf("ANALYSIS BUG: %s over the bound", size.Format(*s.Peak-*s.StaticBound))
			case s.StaticBound != nil:
				rw.check = "bound holds"
			}
		}
		rw.bound = "not bounded"
		if s.StaticBound != nil {
			rw.bound = size.Format(*s.StaticBound)
		} else if s.StaticAtLeast > 0 {
			rw.bound = "≥ " + size.Format(s.StaticAtLeast)
		}
		rows = append(rows, rw)
	}
	checkWidth := 0
	for _, rw := range rows {
		checkWidth = max(checkWidth, utf8.RuneCountInString(rw.check))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, rw := range rows {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t  %-*s  %s\n", rw.peak, rw.size, rw.room, rw.bound, checkWidth, rw.check, rw.name)
	}
	tw.Flush()
	for i := range r.Stacks {
		s := &r.Stacks[i]
		if s.NotMeasured != "" {
			fmt.Fprintf(w, "  %s stack not measured: %s\n", s.Name, s.NotMeasured)
		}
		if s.Note != "" {
			fmt.Fprintf(w, "  %s stack: %s\n", s.Name, s.Note)
		}
		if s.Peak != nil && s.ResetBound != nil && s.StaticBound != nil && *s.StaticBound != *s.ResetBound {
			fmt.Fprintf(w, "  %s stack: the static bound is the reset path's %s plus the interrupt levels; the run measures only what ran\n", s.Name, size.Format(*s.ResetBound))
		}
		if o := r.overflowedOther(s); s.BoundExceeded() && o != "" {
			fmt.Fprintf(w, "  %s stack: over its static bound after the %s stack overflowed (an overflow writes what is not its own: not by itself an analysis bug)\n", s.Name, o)
		} else if s.BoundExceeded() {
			fmt.Fprintf(w, "  analysis bug: measured peak %d exceeds the static bound %d; please report with the ELF\n", *s.Peak, *s.StaticBound)
		}
	}
	for i := range r.Stacks {
		writeDeepest(w, &r.Stacks[i])
	}
	for _, wn := range r.Warnings {
		fmt.Fprintln(w, "  warning: "+wn)
	}
}

// headroomText is the share of the stack left, rounded down (a capacity
// printed larger than it is would look safer than it is).
func headroomText(sz, peak int64) string {
	if sz <= 0 || peak >= sz {
		return "none"
	}
	return fmt.Sprintf("%.1f%%", math.Floor(1000*float64(sz-peak)/float64(sz))/10)
}

// writeDeepest shows where a stack's measured peak was reached, the
// measured path beside the static worst path, outermost frame first.
func writeDeepest(w io.Writer, s *StackResult) {
	d := s.Deepest
	if d == nil {
		if s.DeepestNote != "" && s.Peak != nil {
			fmt.Fprintf(w, "  %s stack: no deepest path: %s\n", s.Name, s.DeepestNote)
		}
		return
	}
	loc := ""
	if d.File != "" {
		loc = fmt.Sprintf(" (%s:%d)", d.File, d.Line)
	}
	fmt.Fprintf(w, "  %s stack: deepest write %s at %#x in %s%s, sp %#x", s.Name, size.Format(d.Depth), d.PC, d.Function, loc, d.SP)
	if d.Note != "" {
		fmt.Fprintf(w, "; %s", d.Note)
	}
	fmt.Fprintln(w)
	var measured []Frame
	for i := len(d.Backtrace) - 1; i >= 0; i-- {
		measured = append(measured, d.Backtrace[i])
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    MEASURED PATH\tFRAME\tSTATIC WORST PATH\t")
	for i := 0; i < max(len(measured), len(s.StaticPath)); i++ {
		m, fr, st := "", "", ""
		if i < len(measured) {
			m = measured[i].Function
			fr = size.Format(measured[i].Size)
		}
		if i < len(s.StaticPath) {
			st = s.StaticPath[i]
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t\n", m, fr, st)
	}
	tw.Flush()
}
