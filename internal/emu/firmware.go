package emu

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/size"
)

// Paint is the word painted over a stack before the run: a peak is the
// top minus the lowest word that no longer holds it.
const Paint = 0xdeadbeef

// Options are a measured firmware run's settings.
type Options struct {
	// Machine names the board ("" picks one the image fits).
	Machine string
	// Until stops the run when the core reaches this function.
	Until string
	// Timeout is the wall-clock limit (0: none).
	Timeout time.Duration
	// ICount is the -icount shift (negative: off).
	ICount int
	// Output receives the firmware's UART and semihosting output.
	Output io.Writer
	// Analysis and Memory are passed to the static pipeline (the same
	// options analyze and layout take).
	Analysis analysis.Options
	Memory   *layout.MemoryMap
	// QEMU overrides the emulator's path.
	QEMU string
	// NoRatchet turns the watchpoint ratchet off: no deepest path, and
	// no watchpoint stops (see docs/PERFORMANCE.md for what it costs).
	NoRatchet bool
	// Started, when set, is called with the machine right after QEMU
	// started (tests use it to see the process and its directory).
	Started func(*Machine)
}

// InputError is a firmware the emulator cannot run: one line naming the
// file and the problem (exit status 2).
type InputError struct {
	Path    string
	Problem string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Problem }

// IsFirmware reports whether f is a bare-metal image: EM_ARM with no
// program interpreter and a vector table, or EM_RISCV with no program
// interpreter (whether a RISC-V board fits it is PickBoard's business).
// The reason says what is missing when it is not.
func IsFirmware(f *binfile.File) (bool, string) {
	if f.ELF.Machine == elf.EM_RISCV {
		for _, p := range f.ELF.Progs {
			if p.Type == elf.PT_INTERP {
				return false, "a RISC-V program with a program interpreter (a Linux executable), not bare-metal firmware"
			}
		}
		return true, ""
	}
	if f.ELF.Machine != elf.EM_ARM {
		return false, fmt.Sprintf("a %s file, not ARM firmware", machineName(f.ELF.Machine))
	}
	for _, p := range f.ELF.Progs {
		if p.Type == elf.PT_INTERP {
			return false, "an ARM program with a program interpreter (a Linux executable), not bare-metal firmware"
		}
	}
	if f.VectorTable() == nil {
		return false, "no Cortex-M vector table (an initial SP and a reset handler at the start of the image)"
	}
	return true, ""
}

func machineName(m elf.Machine) string {
	if m == elf.EM_X86_64 {
		return "x86-64"
	}
	return m.String()
}

// RunFirmware runs the firmware at path in QEMU: paints the main stack
// before the first instruction (and FreeRTOS's task stacks at main), runs
// to a stop, reads the stacks back, and sets the measured peaks beside the
// static bounds. ctx ending (Ctrl-C) stops the run and still reports.
// Errors are *InputError (the firmware cannot be run: exit 2), ErrNoQEMU,
// or a failure of the emulator.
//
// The deepest paths come from a second run with the watchpoint ratchet
// (unless opts.NoRatchet; then no stack says why it has none, since none
// was asked for): its stops change where QEMU takes an interrupt
// by a few instructions (see ratchetRun), so the peaks and the verdict are
// always the first run's, which nothing but the paint and the exit
// breakpoints touched.
func RunFirmware(ctx context.Context, path string, opts Options) (*Result, error) {
	plain := opts
	plain.NoRatchet = true
	res, err := runOnce(ctx, path, plain)
	if err == nil && !opts.NoRatchet && res.riscv {
		noDeepestOnRISCV(res)
		return res, nil
	}
	if err != nil || opts.NoRatchet || ctx.Err() != nil {
		if err == nil && opts.NoRatchet {
			noDeepestAsked(res)
		}
		return res, err
	}
	switch res.Stop.Kind {
	case StopCancelled, StopTimeout:
		return res, nil
	}
	second := opts
	second.Output, second.Started = nil, nil
	if opts.Timeout > 0 {
		second.Timeout = 2 * opts.Timeout
	}
	ratcheted, err := runOnce(ctx, path, second)
	if err != nil {
		res.Warnings = append(res.Warnings, "no deepest paths: the watchpoint ratchet's run failed: "+err.Error())
		return res, nil
	}
	mergeDeepest(res, ratcheted)
	return res, nil
}

// mergeDeepest takes the deepest paths of the ratchet's run into the
// measured run: as they are where both runs reached the same peak, and
// otherwise as a note that says what the ratchet's run reached.
//
// Why a second run: QEMU 7.2 stops before a store that hits a watchpoint,
// and whatever lets the store go on (a single step, which QEMU runs with
// interrupts masked; a breakpoint after it, which makes QEMU translate the
// code around it an instruction at a time; a stop at all, in a running
// scheduler) moved the point where a pended PendSV or a tick was taken in
// the tests, and with it the tasks' peaks.
func mergeDeepest(res, ratcheted *Result) {
	for i := range res.Stacks {
		s := &res.Stacks[i]
		var o *StackResult
		for j := range ratcheted.Stacks {
			if ratcheted.Stacks[j].Name == s.Name && ratcheted.Stacks[j].Kind == s.Kind {
				o = &ratcheted.Stacks[j]
			}
		}
		switch {
		case o == nil || s.Peak == nil:
		case o.Deepest == nil:
			s.DeepestNote = o.DeepestNote
		case o.Peak != nil && *o.Peak == *s.Peak:
			s.Deepest, s.DeepestNote = o.Deepest, ""
		default:
			var path []string
			for k := len(o.Deepest.Backtrace) - 1; k >= 0; k-- {
				path = append(path, o.Deepest.Backtrace[k].Function)
			}
			s.DeepestNote = fmt.Sprintf("the ratchet's run reached %s, not %s (its watchpoint stops move interrupts by a few instructions), through %s", size.Format(o.Deepest.Depth), size.Format(*s.Peak), strings.Join(path, " > "))
			res.Warnings = append(res.Warnings, ratchetOverBound(s, o.Deepest.Depth)...)
		}
	}
	have := map[string]bool{}
	for _, w := range res.Warnings {
		have[w] = true
	}
	for _, w := range ratcheted.Warnings {
		if !have[w] {
			res.Warnings = append(res.Warnings, w)
		}
	}
}

// ratchetOverBound: the ratchet's run is the same firmware with interrupts
// taken a few instructions elsewhere, a timing the hardware can produce
// too; a depth it reached over the static bound is an analysis bug even
// though the measured run's peak is within it (recorded on s: exit 1).
func ratchetOverBound(s *StackResult, depth int64) []string {
	if !s.Bounded || s.StaticBound == nil || depth <= *s.StaticBound {
		return nil
	}
	s.RatchetOverBound = depth
	return []string{fmt.Sprintf("analysis bug: the %s stack reached %s in the ratchet's run, over its static bound %s; please report with the ELF", s.Name, size.Format(depth), size.Format(*s.StaticBound))}
}

// openFirmware opens a firmware image with what every emulator command
// needs from the static side: its analysis and its layout (the main
// stack's top and limit). The caller closes f.
func openFirmware(path string, aopts analysis.Options, mem *layout.MemoryMap) (*binfile.File, *analysis.Result, *layout.Report, error) {
	return openFirmwareFor(path, aopts, mem, "")
}

// openFirmwareFor is openFirmware for a command that runs Cortex-M
// firmware only (cortexOnly names it; "" accepts RISC-V too).
func openFirmwareFor(path string, aopts analysis.Options, mem *layout.MemoryMap, cortexOnly string) (*binfile.File, *analysis.Result, *layout.Report, error) {
	f, err := binfile.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	if ok, why := IsFirmware(f); !ok {
		f.Close()
		return nil, nil, nil, &InputError{Path: path, Problem: why}
	}
	if cortexOnly != "" && f.ELF.Machine != elf.EM_ARM {
		f.Close()
		return nil, nil, nil, &InputError{Path: path, Problem: "RISC-V firmware: " + cortexOnly + " runs Cortex-M firmware only (stackscope run measures RISC-V firmware on QEMU virt)"}
	}
	res, err := analysis.RunFile(f, aopts)
	if err != nil {
		f.Close()
		return nil, nil, nil, &InputError{Path: path, Problem: err.Error()}
	}
	return f, res, layout.AnalyzeFile(f, layout.Options{Result: res, Memory: mem}), nil
}

// runOnce is one run in QEMU.
func runOnce(ctx context.Context, path string, opts Options) (*Result, error) {
	f, res, lay, err := openFirmware(path, opts.Analysis, opts.Memory)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	im := ImageOf(f)
	var board *Board
	if opts.Machine != "" {
		if board, err = BoardByName(opts.Machine); err != nil {
			return nil, &InputError{Path: path, Problem: err.Error()}
		}
		if why := board.isaMismatch(im); why != "" {
			return nil, &InputError{Path: path, Problem: "--machine " + board.Name + ": " + why}
		}
	} else {
		if st := lay.Stack; st != nil && st.Size > 0 {
			im.Stack = &Range{st.Limit, st.Top}
		}
		if board, err = PickBoard(im); err != nil {
			return nil, &InputError{Path: path, Problem: err.Error()}
		}
	}
	var until *binfile.Function
	if opts.Until != "" {
		fn, ok := f.Lookup(opts.Until)
		if !ok {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("no function named %q (--until)", opts.Until)}
		}
		until = fn
	}

	r := &Result{Kind: "firmware-run", Firmware: path, Machine: board.Name, CPU: board.CPU, ICount: opts.ICount,
		Stacks: []StackResult{}, Warnings: []string{}, riscv: board.RISCV()}
	if board.RISCV() {
		// The ratchet knows Thumb stores and Cortex-M exception frames.
		opts.NoRatchet = true
	}
	if opts.ICount < 0 {
		r.ICount = -1
	}
	m, err := Start(Config{Firmware: path, Board: board, ICount: opts.ICount, Output: opts.Output, QEMU: opts.QEMU})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	r.QEMU = m.Args
	if opts.Started != nil {
		opts.Started(m)
	}

	main := mainStack(lay, res)
	if main.painted {
		if err := m.Paint(main.Limit, main.Top, Paint); err != nil {
			return nil, fmt.Errorf("painting the main stack: %v", err)
		}
	}
	w := newWatcher(f, res, main, opts.NoRatchet, func(s string) { r.Warnings = append(r.Warnings, s) })
	if board.RISCV() {
		w.trap = trapStacks(res)
	}
	if w.tasks != nil && board.RISCV() {
		w.tasks.word = uint64(board.XLEN / 8)
		w.tasks.riscv = true
	}
	if err := w.start(m); err != nil {
		return nil, err
	}
	// A stack inside .bss or .data is cleared or overwritten by the
	// startup code after the paint: every word would look used (a false
	// overflow). Paint it again below the SP at main's entry.
	var repaintAt uint64
	if sec := initializedOverlap(lay, main); sec != "" && main.painted {
		if fn, ok := f.Lookup("main"); ok {
			repaintAt = fn.Addr &^ 1
			main.repaint = sec
		} else {
			main.painted = false
			main.why = fmt.Sprintf("the main stack lies in %s, which the startup code initializes after any paint, and there is no main to paint it again at", sec)
		}
	}
	// Breakpoints: --until; the HardFault handler when it is a branch to
	// itself (the core would sit there until the timeout); every
	// semihosting call, because on SYS_EXIT QEMU ends at once and the
	// stacks must be read before.
	bps := map[uint64]string{}
	if repaintAt != 0 {
		bps[repaintAt] = "repaint"
	}
	if until != nil {
		bps[until.Addr&^1] = "until"
	}
	for _, h := range lay.EndlessLoops {
		for _, v := range h.Vectors {
			if v == "HardFault" {
				bps[h.Addr&^1] = "hardfault"
			}
		}
	}
	calls := semihostingCalls(f)
	if board.RISCV() {
		calls = riscvSemihostingCalls(f)
	}
	for _, a := range calls {
		if _, taken := bps[a]; !taken {
			bps[a] = "semihosting"
		}
	}
	w.breakpoints(bps)
	for a := range bps {
		if err := m.SetBreakpoint(a); err != nil {
			return nil, fmt.Errorf("breakpoint at %#x: %v", a, err)
		}
	}
	if w := pageSharers(f, bps, board); w != "" {
		r.Warnings = append(r.Warnings, w)
	}

	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = time.Now().Add(opts.Timeout)
	}
	var stop *Stop
	measured := false
	for {
		stop, err = m.Run(ctx, RunOptions{Deadline: deadline, LoopCheck: true})
		if err != nil {
			return nil, err
		}
		if stop.Kind == StopWatch {
			if handled, err := w.watchStop(m, stop); err != nil {
				return nil, err
			} else if handled {
				continue
			}
			break
		}
		if stop.Kind != StopBreakpoint {
			break
		}
		pc := uint64(stop.Regs.PC())
		what := bps[pc]
		if handled, err := w.breakpoint(m, what, pc); err != nil {
			return nil, err
		} else if handled {
			delete(bps, pc)
			continue
		}
		if what == "repaint" {
			// main: FreeRTOS's task stacks are painted here too.
			if err := w.atMain(m); err != nil {
				return nil, err
			}
			sp := uint64(stop.Regs.SP()) &^ 3
			if sp > main.Limit && sp <= main.Top {
				if err := m.Paint(main.Limit, sp, Paint); err != nil {
					return nil, fmt.Errorf("painting the main stack again at main: %v", err)
				}
			}
			main.repainted = true
			if err := w.mainRepainted(m, sp); err != nil {
				return nil, err
			}
			delete(bps, pc)
			if err := m.RemoveBreakpoint(pc); err != nil {
				return nil, err
			}
			continue
		}
		if what == "semihosting" {
			op := stop.Regs.Arg(0)
			if op != sysExit && op != sysExitExtended {
				if err := stepOver(m, pc); err != nil {
					return nil, err
				}
				continue
			}
			// The firmware is about to exit: read the stacks now, then let
			// it go to pass its status through.
			if err := main.measure(m); err != nil {
				return nil, err
			}
			if err := w.measure(m); err != nil {
				return nil, err
			}
			measured = true
			for a := range bps {
				m.RemoveBreakpoint(a)
			}
			continue
		}
		switch what {
		case "until":
			stop.Kind, stop.Detail = "until", fmt.Sprintf("reached %s (--until)", opts.Until)
		case "hardfault":
			stop.Kind, stop.Detail = "hardfault", hardFaultDetail(m, f, stop.Regs)
		}
		break
	}
	if stop.Alive && !measured {
		if err := main.measure(m); err != nil {
			return nil, err
		}
		if err := w.measure(m); err != nil {
			return nil, err
		}
		measured = true
	}
	r.Stop = StopResult{Kind: stop.Kind, Detail: stop.Detail}
	if stop.Kind == StopExit {
		st := stop.ExitStatus
		r.Stop.ExitStatus = &st
	}
	if stop.Regs != nil {
		if stop.Regs.RISCV {
			r.Stop.X = stop.Regs.X[:]
		} else {
			r.Stop.Registers = stop.Regs.R[:]
			r.Stop.XPSR = stop.Regs.XPSR
		}
		r.Stop.PC = uint64(stop.Regs.PC())
		r.Stop.Where = where(f, res, uint64(stop.Regs.PC()))
	}
	if !measured {
		main.notMeasured = "QEMU ended (" + stop.Kind + ") before the stack could be read"
	}
	r.Stacks = append(r.Stacks, w.results(main.result(), measured)...)
	if !stop.Alive {
		// QEMU has ended or is ending: its last output is still in the
		// pipe until it has gone.
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
		}
	}
	out, trunc := m.Output()
	r.Output, r.OutputTruncated = out, trunc
	return r, nil
}

// Semihosting operations (r0 at "bkpt 0xab") that end the program.
const (
	sysExit         = 0x18
	sysExitExtended = 0x20
)

// semihostingCalls finds the "bkpt 0xab" instructions (0xbeab) in the
// image's code: 2-byte aligned halfwords of executable sections, outside
// the literal pools. A halfword that is really the second half of a
// 32-bit instruction only costs a breakpoint that never fires.
func semihostingCalls(f *binfile.File) []uint64 {
	var out []uint64
	execSections(f, func(addr uint64, data []byte) {
	next:
		for i := 0; i+2 <= len(data); i += 2 {
			if binary.LittleEndian.Uint16(data[i:]) != 0xbeab {
				continue
			}
			a := addr + uint64(i)
			for _, d := range f.DataInCode {
				if a >= d.Begin && a < d.End {
					continue next
				}
			}
			out = append(out, a)
		}
	})
	return out
}

// stepOver executes the instruction at a breakpoint: out, one step, back.
func stepOver(m *Machine, pc uint64) error {
	if err := m.RemoveBreakpoint(pc); err != nil {
		return err
	}
	var st error
	m.guard(requestTimeout, func() error {
		_, st = m.rsp.Step()
		return st
	})
	if st != nil {
		if m.exitedNow() {
			return nil
		}
		return fmt.Errorf("stepping over %#x: %v", pc, st)
	}
	return m.SetBreakpoint(pc)
}

func (m *Machine) exitedNow() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// hardFaultDetail describes a HardFault entry from the exception frame
// the core pushed (r0-r3, r12, lr, pc, xpsr) on the main stack.
func hardFaultDetail(m *Machine, f *binfile.File, regs *Registers) string {
	const excReturnPSP = 1 << 2
	if regs.LR()&excReturnPSP != 0 {
		return "HardFault (the faulting code ran on the process stack; its frame is there)"
	}
	b, err := m.ReadMemory(uint64(regs.SP()), 32)
	if err != nil {
		return "HardFault (the exception frame could not be read: " + err.Error() + ")"
	}
	pc := binary.LittleEndian.Uint32(b[24:])
	return fmt.Sprintf("HardFault: the fault was at %#x%s", pc, fnSuffix(f, uint64(pc)))
}

func fnSuffix(f *binfile.File, pc uint64) string {
	if fn, ok := f.Containing(pc &^ 1); ok {
		return fmt.Sprintf(" (%s+%#x)", fn.Name(), (pc&^1)-(fn.Addr&^1))
	}
	return ""
}

// where names the function and line of pc.
func where(f *binfile.File, res *analysis.Result, pc uint64) string {
	s := fmt.Sprintf("%#x", pc)
	if fn, ok := f.Containing(pc &^ 1); ok {
		s = fmt.Sprintf("%s+%#x", fn.Name(), (pc&^1)-(fn.Addr&^1))
	}
	if res.Lines != nil {
		if loc, ok := res.Lines.At(pc &^ 1); ok {
			s += fmt.Sprintf(" (%s)", loc)
		}
	}
	return s
}

// mainMeasure is the main stack as layout found it, with the static
// bounds analyze gives it, and what the run measured.
type mainMeasure struct {
	Top, Limit  uint64
	painted     bool
	why         string // why it was not painted
	total       *int64
	totalLeast  int64
	reset       *int64
	repaint     string // the initialized section the stack lies in: painted again at main
	repainted   bool
	lowest      uint64
	disturbed   bool
	measured    bool
	notMeasured string
}

func mainStack(lay *layout.Report, res *analysis.Result) *mainMeasure {
	mm := &mainMeasure{}
	if in := res.Interrupts; in != nil {
		mm.total, mm.totalLeast, mm.reset = in.Total, in.TotalAtLeast, in.Reset
	}
	st := lay.Stack
	switch {
	case st == nil:
		mm.why = "the main stack was not found (no initial SP)"
	case st.Size == 0 || !st.LimitFound:
		mm.Top, mm.Limit = st.Top, st.Limit
		mm.why = "the main stack's limit is not known (no stack-limit symbol or section: see stackscope layout)"
	case st.Top%4 != 0 || st.Limit%4 != 0:
		mm.Top, mm.Limit = st.Top, st.Limit
		mm.why = "the main stack's top or limit is not word-aligned"
	default:
		mm.Top, mm.Limit, mm.painted = st.Top, st.Limit, true
	}
	return mm
}

func (mm *mainMeasure) measure(m *Machine) error {
	if !mm.painted {
		return nil
	}
	a, ok, err := m.LowestDisturbed(mm.Limit, mm.Top, Paint)
	if err != nil {
		return fmt.Errorf("reading the main stack back: %v", err)
	}
	mm.lowest, mm.disturbed, mm.measured = a, ok, true
	return nil
}

func (mm *mainMeasure) result() StackResult {
	s := StackResult{Name: "main", Kind: "main", Top: mm.Top, Size: int64(mm.Top - mm.Limit), Limit: mm.Limit,
		StaticBound: mm.total, StaticAtLeast: mm.totalLeast, Bounded: mm.total != nil, ResetBound: mm.reset}
	switch {
	case !mm.painted:
		s.NotMeasured = mm.why
		s.Size = 0
		if mm.Top > mm.Limit {
			s.Size = int64(mm.Top - mm.Limit)
		}
	case !mm.measured:
		s.NotMeasured = mm.notMeasured
	case mm.repaint != "" && !mm.repainted:
		s.NotMeasured = fmt.Sprintf("the main stack lies in %s, which the startup code initializes after the paint, and the run stopped before main, where it is painted again", mm.repaint)
	default:
		if mm.repaint != "" {
			s.PaintedAt = "main"
			s.Note = fmt.Sprintf("the stack lies in %s, which the startup code initializes: painted again at main, so use before main is not seen", mm.repaint)
		}
		peak := int64(0)
		if mm.disturbed {
			peak = int64(mm.Top - mm.lowest)
		}
		s.Peak = &peak
		// The word at the limit changed: the stack reached its end, and
		// whatever lies below was not painted, so the peak is a lower
		// bound. Never report it below the size.
		if mm.disturbed && mm.lowest == mm.Limit {
			s.Overflowed = true
		}
		h := s.Size - peak
		s.Headroom = &h
	}
	return s
}

// qemuPage is QEMU's target page for ARM (TARGET_PAGE_BITS 10): code in
// the same page as a GDB breakpoint runs one instruction at a time.
// RISC-V's is 4 KiB (TARGET_PAGE_BITS 12).
const qemuPage = 1 << 10

func qemuPageOf(b *Board) uint64 {
	if b != nil && b.RISCV() {
		return 1 << 12
	}
	return qemuPage
}

// pageSharers names the functions that share a 1 KiB page with a
// breakpoint stackscope set and are not the breakpoint's own function:
// QEMU 7.2 runs them one instruction per translation block, several
// times slower (the results do not change). "" when there are none.
func pageSharers(f *binfile.File, bps map[uint64]string, b *Board) string {
	qemuPage := qemuPageOf(b)
	seen := map[string]bool{}
	var names []string
	for a := range bps {
		own, _ := f.Containing(a)
		page := a &^ (qemuPage - 1)
		for i := range f.Functions {
			fn := &f.Functions[i]
			if fn.Addr >= page+qemuPage || fn.Addr+fn.Size <= page || own != nil && fn.Addr == own.Addr || seen[fn.Name()] {
				continue
			}
			seen[fn.Name()] = true
			names = append(names, fn.Name())
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	if len(names) > 6 {
		names = append(names[:6], fmt.Sprintf("and %d more", len(names)-6))
	}
	return fmt.Sprintf("%s share a %d KiB page with a breakpoint stackscope set (%s): QEMU runs them one instruction at a time, slower but the same", strings.Join(names, ", "), qemuPage>>10, breakpointKinds(bps))
}

// breakpointKinds says what the breakpoints in bps are for, in words.
func breakpointKinds(bps map[uint64]string) string {
	words := map[string]string{"semihosting": "a semihosting call", "hardfault": "the HardFault loop",
		"until": "--until", "repaint": "where a stack is painted again",
		"rtos-main": "main, where the RTOS's stacks are found", "rtos-scheduler": "the scheduler's start, where the tasks are read"}
	seen := map[string]bool{}
	var kinds []string
	for _, k := range bps {
		if w, ok := words[k]; ok && !seen[w] {
			seen[w] = true
			kinds = append(kinds, w)
		}
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		return "the run's own stops"
	}
	return strings.Join(kinds, "; ")
}

// initializedOverlap names a .data or .bss section that overlaps the main
// stack: the startup code writes those before main. "" when none does.
func initializedOverlap(lay *layout.Report, mm *mainMeasure) string {
	for _, rg := range lay.Regions {
		for _, sec := range rg.Sections {
			if (sec.Kind == "bss" || sec.Kind == "data") && sec.Addr < mm.Top && sec.End() > mm.Limit {
				return sec.Name
			}
		}
	}
	return ""
}

// noDeepestAsked drops the per-stack notes of why a stack has no deepest
// path when the ratchet was not asked for: every stack lacks one, and a
// line per stack saying so would bury the lines that matter.
func noDeepestAsked(res *Result) {
	for i := range res.Stacks {
		res.Stacks[i].DeepestNote = ""
	}
}
