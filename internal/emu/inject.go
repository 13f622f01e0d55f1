package emu

// Fault injection on firmware: run the image with its main stack made
// too small (the initial SP lowered) or with SP moved near the limit when
// a function is entered (the debugger method), with the memory below the
// limit faulting as the real part's would (guard.go), and watch what the
// overflow writes, whether a fault is taken, and what the fault handler
// does with it.

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/trace"
)

// InjectOptions say how to fire.
type InjectOptions struct {
	Machine string
	// Stack runs the firmware with a main stack of this many bytes: the
	// initial SP is limit+Stack, the limit stays where the image put it.
	Stack int64
	// At moves SP to AtSlack bytes above the limit when this function is
	// entered (its first call).
	At string
	// Safe names a function whose entry is a safe end (assert_failed).
	Safe string
	// Until ends the run when this function is reached (handler "until").
	Until string
	// ArmAtReset (--stack) watches below the limit from the first
	// instruction instead of from main (minstack: an overflow in the
	// startup code counts).
	ArmAtReset bool
	Timeout    time.Duration
	// RunOn is how long the program may run on after the overflow was
	// fired before the run stops ("ran on"); 0: 2 s.
	RunOn  time.Duration
	ICount int
	Output interface{ Write([]byte) (int, error) }
	// Analysis and Memory as for RunFirmware.
	Analysis analysis.Options
	Memory   *layout.MemoryMap
	QEMU     string
	Started  func(*Machine)
	// Task (with Stack) shrinks this FreeRTOS task's stack instead of the
	// main stack (inject_task.go).
	Task string
}

// ErrInterrupted: the context ended (Ctrl-C) during an injection; there
// is no verdict.
var ErrInterrupted = errors.New("interrupted before a verdict")

// AtSlack is how far above the limit --at puts SP: room for nothing.
const AtSlack = 8

// watchSpan is how far below the limit writes are watched.
const watchSpan = 1024

// maxWrites bounds the writes recorded below the limit.
const maxWrites = 256

// Verdicts of an injection.
const (
	VerdictContained  = "CONTAINED"
	VerdictSilent     = "SILENT CORRUPTION"
	VerdictLockup     = "LOCKUP"
	VerdictHang       = "HANG"
	VerdictUndetected = "UNDETECTED OVERFLOW" // ran on; wrote only unused memory
	VerdictNoOverflow = "NO OVERFLOW"         // nothing was written below the limit and no fault
)

// Injection is the result: the JSON contract of `stackscope inject
// --format json` (kind "firmware-injection"). Keys are only ever added.
type Injection struct {
	Kind     string `json:"kind"`
	Version  string `json:"version"`
	Firmware string `json:"firmware"`
	// Executable identifies the ELF, as in a firmware run's record.
	Executable *trace.Executable `json:"executable,omitempty"`
	Machine    string            `json:"machine"`
	CPU        string            `json:"cpu"`
	QEMU       []string          `json:"qemu"`
	// Fired says how: "stack" (--stack) or "at" (--at), with FiredAt the
	// function and the SP it was given.
	Fired   string `json:"fired"`
	FiredAt string `json:"fired_at,omitempty"`
	FiredSP uint64 `json:"fired_sp"`
	// Restored (--at): the function returned at the depth it was given
	// and SP was put back for its caller.
	Restored bool `json:"restored"`
	// StackTop and StackLimit are the image's main stack; StackSize the
	// size the run gave it.
	StackTop   uint64 `json:"stack_top"`
	StackLimit uint64 `json:"stack_limit"`
	StackSize  int64  `json:"stack_size"`
	Guard      Guard  `json:"guard"`
	// Writes are the stores below the limit, in order (the first is the
	// first corruption); Corrupted lists each object written, first
	// written first.
	Writes    []Write  `json:"writes"`
	Corrupted []string `json:"corrupted"`
	// WritesTruncated: more than the recorded writes happened.
	WritesTruncated bool `json:"writes_truncated,omitempty"`
	// Fault is the first fault handler entered after firing, null when none.
	Fault *FaultTaken `json:"fault"`
	// Handler is what happened after: "safe-end", "endless-loop",
	// "lockup", "ran-on", "exit" (the firmware exited by itself),
	// "timeout".
	Handler       string `json:"handler"`
	HandlerDetail string `json:"handler_detail"`
	// LockupInstr is, for a lockup, the handler's instruction that
	// touched the overflowed stack (static: layout's first stack use).
	LockupInstr string `json:"lockup_instr,omitempty"`
	Verdict     string `json:"verdict"`
	// Predicted is layout's static verdict for the same overflow, and
	// Disagree says where run and prediction differ ("" when they agree).
	Predicted string   `json:"predicted"`
	Disagree  string   `json:"disagree,omitempty"`
	Output    string   `json:"output"`
	Warnings  []string `json:"warnings"`
	// Task is the FreeRTOS task --task shrank (fired "task"; stack_limit
	// and stack_top are then its pxStack and the top it was given), and
	// Hook the kernel's vApplicationStackOverflowHook call, null when it
	// was not called.
	Task string    `json:"task,omitempty"`
	Hook *HookCall `json:"hook,omitempty"`
}

// Write is one store below the stack limit.
type Write struct {
	Addr   uint64 `json:"addr"`
	Object string `json:"object"`
	PC     uint64 `json:"pc"`
	Where  string `json:"where"`
	SP     uint64 `json:"sp"`
	// Backtrace: the function at PC, then its callers ("called from
	// ..."): the whole chain from the call-frame information for the
	// first write, the caller LR points into for the others.
	Backtrace []string `json:"backtrace"`
}

// FaultTaken is a fault handler's entry.
type FaultTaken struct {
	Vector  string       `json:"vector"`
	Handler string       `json:"handler"`
	SP      uint64       `json:"sp"`
	Status  *FaultStatus `json:"status"`
}

// ExitStatus: 0 for CONTAINED, 1 otherwise.
func (r *Injection) ExitStatus() int {
	if r.Verdict == VerdictContained {
		return 0
	}
	return 1
}

// Inject fires the gun once. Errors: *InputError (exit 2), ErrNoQEMU, or
// an emulator failure.
func Inject(ctx context.Context, path string, opts InjectOptions) (*Injection, error) {
	if opts.Task != "" {
		return injectTask(ctx, path, opts)
	}
	if (opts.Stack > 0) == (opts.At != "") {
		return nil, &InputError{Path: path, Problem: "give one of --stack BYTES or --at FUNCTION"}
	}
	f, res, lay, err := openFirmwareFor(path, opts.Analysis, opts.Memory, "inject")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := lay.Stack
	if st == nil || !st.LimitFound || st.Size == 0 {
		return nil, &InputError{Path: path, Problem: "the main stack's limit is not known (no stack-limit symbol or section: see stackscope layout); inject needs it"}
	}
	im := ImageOf(f)
	im.Stack = &Range{st.Limit, st.Top}
	var board *Board
	if opts.Machine != "" {
		board, err = BoardByName(opts.Machine)
	} else {
		board, err = PickBoard(im)
	}
	if err != nil {
		return nil, &InputError{Path: path, Problem: err.Error()}
	}
	r := &Injection{Kind: "firmware-injection", Firmware: path, Machine: board.Name, CPU: board.CPU,
		StackTop: st.Top, StackLimit: st.Limit, StackSize: int64(st.Size), Writes: []Write{}, Corrupted: []string{}, Warnings: []string{}}
	if opts.Stack > 0 {
		if ram := ramHolding(board, st.Limit); opts.Stack > int64(ram.End-ram.Start) {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("--stack %d is larger than the RAM the stack is in (%d bytes at %#x)", opts.Stack, ram.End-ram.Start, ram.Start)}
		}
		if opts.Stack > int64(st.Size) {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("--stack %d is larger than the image's main stack (%d bytes): inject makes the stack smaller", opts.Stack, st.Size)}
		}
		if opts.Stack < 8 {
			return nil, &InputError{Path: path, Problem: "--stack must be at least 8 bytes"}
		}
		r.Fired, r.StackSize = "stack", opts.Stack&^7
		r.FiredSP = st.Limit + uint64(r.StackSize)
	}
	var at, safe *binfile.Function
	if opts.At != "" {
		fn, ok := f.Lookup(opts.At)
		if !ok {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("no function named %q (--at)", opts.At)}
		}
		at, r.Fired, r.FiredAt = fn, "at", opts.At
		r.FiredSP = st.Limit + AtSlack
		r.StackSize = AtSlack
	}
	if opts.Safe != "" {
		fn, ok := f.Lookup(opts.Safe)
		if !ok {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("no function named %q (--safe)", opts.Safe)}
		}
		safe = fn
	}
	var until *binfile.Function
	if opts.Until != "" {
		fn, ok := f.Lookup(opts.Until)
		if !ok {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("no function named %q (--until)", opts.Until)}
		}
		until = fn
	}
	objs := dataObjects(f)
	frames, _ := cfi.Load(f.ELF) // none: backtraces say so

	m, err := Start(Config{Firmware: path, Board: board, ICount: opts.ICount, Output: opts.Output, QEMU: opts.QEMU})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	r.QEMU = m.Args
	if opts.Started != nil {
		opts.Started(m)
	}
	r.Guard, err = installGuard(m, f, lay, board, im)
	if err != nil {
		return nil, err
	}
	r.Predicted = predict(lay, r.Guard.Mechanism == GuardMSPLIM)

	reset, _ := f.Lookup("Reset_Handler")
	if vt := f.VectorTable(); vt != nil {
		for _, v := range vt.Vectors {
			if fn, ok := f.Containing(v.Handler); ok && v.Index == 1 {
				reset = fn
			}
		}
	}
	bps := map[uint64]string{}
	faultVec := map[uint64]string{}
	if vt := f.VectorTable(); vt != nil {
		for _, v := range vt.Vectors {
			if v.Index >= 3 && v.Index <= 7 && v.Handler != 0 {
				a := v.Handler
				if _, dup := faultVec[a]; !dup {
					faultVec[a] = binfile.ExceptionName(v.Index)
				} else {
					faultVec[a] += "/" + binfile.ExceptionName(v.Index)
				}
				bps[a] = "fault"
			}
		}
	}
	if safe != nil {
		bps[safe.Addr&^1] = "safe"
	}
	if until != nil {
		bps[until.Addr&^1] = "until"
	}
	if at != nil {
		bps[at.Addr&^1] = "fire"
	}
	deadline := time.Now().Add(opts.Timeout)
	if opts.Timeout <= 0 {
		deadline = time.Now().Add(20 * time.Second)
	}
	watchLo, watchHi := watchRange(lay, st.Limit)
	armed := false
	runOn := opts.RunOn
	if runOn <= 0 {
		runOn = 2 * time.Second
	}
	// The reset handler's breakpoint (a system reset ends the run) is set
	// once the core has left it: one at the PC the core resumes from would
	// stop it at once.
	resetSet := false
	setReset := func() error {
		if reset == nil || resetSet {
			return nil
		}
		regs, err := m.Registers()
		if err != nil {
			return err
		}
		if a := uint64(regs.PC()); a >= reset.Addr&^1 && a < (reset.Addr&^1)+reset.Size {
			return nil
		}
		resetSet = true
		bps[reset.Addr&^1] = "reset"
		return m.SetBreakpoint(reset.Addr &^ 1)
	}
	arm := func() error {
		armed = true
		if d := time.Now().Add(runOn); d.Before(deadline) {
			deadline = d
		}
		if watchHi > watchLo {
			if err := m.SetWriteWatch(watchLo, int(watchHi-watchLo)); err != nil {
				return fmt.Errorf("watching %#x-%#x: %v", watchLo, watchHi, err)
			}
		}
		return setReset()
	}
	if r.Fired == "stack" {
		if err := m.WriteRegister(13, uint32(r.FiredSP)); err != nil {
			return nil, err
		}
		// Watch from main on (the startup code's own writes to .bss are
		// not an overflow), or at once when there is no main. At main, SP
		// must be at or below the lowered one: startup code that loads SP
		// itself (ldr sp, =_estack) undoes --stack, and every size would
		// then look enough.
		mainFn, hasMain := f.Lookup("main")
		if hasMain {
			bps[mainFn.Addr&^1] = "check-sp"
			if !opts.ArmAtReset {
				bps[mainFn.Addr&^1] = "arm"
			}
		}
		if !hasMain || opts.ArmAtReset {
			if err := arm(); err != nil {
				return nil, err
			}
		}
	}
	for a := range bps {
		if err := m.SetBreakpoint(a); err != nil {
			return nil, fmt.Errorf("breakpoint at %#x: %v", a, err)
		}
	}
	handlers := handlerRanges(f, faultVec)
	seen := map[string]bool{}
	var origSP, ret uint64
	var stop *Stop
loop:
	for {
		stop, err = m.Run(ctx, RunOptions{Deadline: deadline, LoopCheck: true})
		if err != nil {
			return nil, err
		}
		if armed && stop.Alive && !resetSet {
			if err := setReset(); err != nil {
				return nil, err
			}
		}
		switch stop.Kind {
		case StopWatch:
			wc := writeCatcher{m: m, f: f, res: res, frames: frames, objs: objs, lay: lay, r: r, seen: seen,
				lo: watchLo, hi: watchHi, splice: map[uint64]uint64{r.FiredSP: origSP}}
			if err := wc.catch(stop); err != nil {
				return nil, err
			}
			continue
		case StopBreakpoint:
			pc := uint64(stop.Regs.PC())
			switch bps[pc] {
			case "return":
				if uint64(stop.Regs.SP()) != r.FiredSP {
					continue // a return from another call
				}
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				if err := m.WriteRegister(13, uint32(origSP)); err != nil {
					return nil, err
				}
				r.Restored = true
				continue
			case "arm", "check-sp":
				if sp := uint64(stop.Regs.SP()); sp > r.FiredSP {
					return nil, &InputError{Path: path, Problem: fmt.Sprintf("--stack %d: SP at main is %#x, above the lowered %#x: the startup code loads SP itself, so the stack cannot be shrunk this way (use --at FUNCTION)", r.StackSize, sp, r.FiredSP)}
				}
				what := bps[pc]
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				if what == "arm" {
					if err := arm(); err != nil {
						return nil, err
					}
				}
				continue
			case "fire":
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				if err := m.WriteRegister(13, uint32(r.FiredSP)); err != nil {
					return nil, err
				}
				// When the function returns to its caller at the depth it
				// was given, SP goes back where it was: the caller runs on
				// with its own frame, as if only the function's frame had
				// been too deep.
				origSP, ret = uint64(stop.Regs.SP()), uint64(stop.Regs.LR())&^1
				if _, taken := bps[ret]; !taken {
					if err := m.SetBreakpoint(ret); err != nil {
						return nil, err
					}
					bps[ret] = "return"
				}
				if err := arm(); err != nil {
					return nil, err
				}
				continue
			case "fault":
				if err := r.recordFault(m, f, stop.Regs, pc, armed); err != nil {
					return nil, err
				}
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				continue
			case "reset":
				r.Handler, r.HandlerDetail = "safe-end", "system reset: the core restarted at the reset vector ("+reset.Name()+")"
			case "safe":
				r.Handler, r.HandlerDetail = "safe-end", opts.Safe+" reached (--safe)"
			case "until":
				r.Handler, r.HandlerDetail = "until", opts.Until+" reached (--until)"
			default:
				r.Handler, r.HandlerDetail = "stopped", stop.Detail
			}
			break loop
		case StopCancelled:
			return nil, ErrInterrupted
		default:
			r.endedBy(stop, f, res, handlers, armed, fmt.Sprintf("%v after the overflow", runOn))
		}
		break
	}
	if r.Fired == "at" && !armed {
		return nil, &InputError{Path: path, Problem: fmt.Sprintf("--at %s: the function was never reached (the run ended: %s)", opts.At, stop.Detail)}
	}
	if r.Handler == "lockup" && r.Fault != nil {
		for _, h := range lay.FaultHandlers {
			if h.Name == r.Fault.Handler && h.FirstStackUse != nil {
				r.LockupInstr = fmt.Sprintf("%#x %s (%s)", h.FirstStackUse.Addr, h.FirstStackUse.What, where(f, res, h.FirstStackUse.Addr))
			}
		}
	}
	out, _ := m.Output()
	r.Output = out
	r.Verdict = verdict(r, handlers)
	r.Disagree = disagreement(r)
	return r, nil
}

// stepOnce executes one instruction.
func (m *Machine) stepOnce() error {
	return m.guard(requestTimeout, func() error { _, err := m.rsp.Step(); return err })
}

func ramHolding(b *Board, a uint64) Range {
	for _, r := range b.RAM {
		if a >= r.Start && a < r.End {
			return r
		}
	}
	if len(b.RAM) > 0 {
		return b.RAM[0]
	}
	return Range{}
}

// installGuard decides how the memory below the limit faults and sets it
// up.
func installGuard(m *Machine, f *binfile.File, lay *layout.Report, b *Board, im Image) (Guard, error) {
	// The overflow runs down from the limit through memory (the part
	// writes it without a fault) to the start of that memory, below which
	// the part raises a bus error: guard there.
	edge := lay.Stack.Limit
	if rg, ok := regionHolding(lay, edge-4); ok {
		edge = rg.Start
	}
	if _, ok := regionHolding(lay, edge-4); ok || edge == 0 {
		return Guard{Mechanism: GuardNone, Note: "below the stack limit is memory all the way down: the part writes it without a fault too, and nothing guards it"}, nil
	}
	below := "below the stack limit"
	if edge != lay.Stack.Limit {
		below = fmt.Sprintf("below the start of the memory under the stack (%#x; between it and the limit the part writes without a fault, as here)", edge)
	}
	v8 := b.Arch == archV8MM || b.Arch == archV8MB
	if v8 && SetsMSPLIM(f) {
		return Guard{Mechanism: GuardMSPLIM, Note: "the startup code sets MSPLIM: the core's own stack-limit check (UsageFault STKOF), as on the part"}, nil
	}
	if ProgramsMPU(f) {
		return Guard{Mechanism: GuardWatchOnly, Note: "the firmware programs the MPU itself, so stackscope leaves it alone", Differs: below + " QEMU 7.2 does not fault where the part raises a BusFault: the fault the part would take there is not emulated"}, nil
	}
	var avoid []Range
	for _, rg := range lay.Regions {
		avoid = append(avoid, Range{rg.Start, rg.End})
	}
	avoid = append(avoid, b.Flash...)
	for _, s := range im.Segments {
		avoid = append(avoid, Range{s.VAddr, s.VAddr + s.MemSize}, Range{s.PAddr, s.PAddr + s.FileSize})
	}
	g, ok := guardRegion(edge, v8, avoid)
	scratch, sok := scratchArea(b, im, 64)
	if !ok || !sok {
		return Guard{Mechanism: GuardWatchOnly, Note: "no room for an MPU guard region " + below, Differs: "QEMU 7.2 does not fault there where the part raises a BusFault: the fault the part would take is not emulated"}, nil
	}
	if err := m.InstallMPUGuard(g, v8, scratch); err != nil {
		return Guard{}, fmt.Errorf("installing the stack guard: %v", err)
	}
	note := fmt.Sprintf("an MPU region with no access over %#x-%#x, %s, programmed before the first instruction, faults where the part's bus does", g.Start, g.End, below)
	if g.End != edge {
		note += fmt.Sprintf(" (the %d bytes between it and %#x are not guarded)", edge-g.End, edge)
	}
	differs := "the fault is a MemManage (DACCVIOL, MSTKERR, MMFAR), escalated to HardFault as a disabled BusFault would be, where the part reports a BusFault (PRECISERR or IMPRECISERR, STKERR, BFAR); a firmware that enables MemManage but not BusFault would see MemManage_Handler; HFNMIENA is set so that a HardFault handler's own push faults (lockup) as a bus error would; the debugger cannot read the guarded range"
	return Guard{Mechanism: GuardMPU, Start: g.Start, End: g.End, Note: note, Differs: differs}, nil
}

// regionHolding is the memory region (from the memory map, or inferred)
// holding a.
func regionHolding(lay *layout.Report, a uint64) (layout.Region, bool) {
	for _, rg := range lay.Regions {
		if a >= rg.Start && a < rg.End {
			return rg, true
		}
	}
	return layout.Region{}, false
}

func inRegions(lay *layout.Report, a uint64) bool {
	for _, rg := range lay.Regions {
		if a >= rg.Start && a < rg.End {
			return true
		}
	}
	return false
}

// watchRange is what the write watch covers: up to watchSpan bytes below
// the limit, within the memory that holds them. When the word below the
// limit is not memory there is nothing to watch (the stub cannot read
// it): the guard, or the guard's note, covers it.
func watchRange(lay *layout.Report, limit uint64) (uint64, uint64) {
	rg, ok := regionHolding(lay, limit-4)
	if !ok {
		return limit, limit
	}
	return max(limit-min(limit, watchSpan), rg.Start), limit
}

type object struct {
	name       string
	addr, size uint64
}

// dataObjects are the ELF's data symbols with a size, by address.
func dataObjects(f *binfile.File) []object {
	var out []object
	for _, s := range f.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 {
			out = append(out, object{s.Name, s.Value, s.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

// objectAt names what lies at a: a data object, the heap, a section, or
// unused memory.
func objectAt(objs []object, lay *layout.Report, a uint64) string {
	for _, o := range objs {
		if a >= o.addr && a < o.addr+o.size {
			return o.name
		}
	}
	if h := lay.Heap; h != nil && a >= h.Start && a < h.End {
		return "(heap)"
	}
	for _, rg := range lay.Regions {
		for _, s := range rg.Sections {
			if a >= s.Addr && a < s.End() {
				if st := lay.Stack; st != nil && s.Addr < st.Limit && s.End() > st.Limit {
					return "(" + s.Name + ", below the limit)"
				}
				return "(" + s.Name + ")"
			}
		}
	}
	if inRegions(lay, a) {
		return "(unused RAM)"
	}
	return "(outside memory)"
}

type fnRange struct{ lo, hi uint64 }

// handlerRanges are the fault handlers' code and the functions they call
// directly (for "the core sits in the handler").
func handlerRanges(f *binfile.File, faultVec map[uint64]string) []fnRange {
	var out []fnRange
	for a := range faultVec {
		if fn, ok := f.Containing(a); ok {
			out = append(out, fnRange{fn.Addr &^ 1, (fn.Addr &^ 1) + fn.Size})
		}
	}
	return out
}

func inAny(rs []fnRange, a uint64) bool {
	for _, r := range rs {
		if a >= r.lo && a < r.hi {
			return true
		}
	}
	return false
}

// verdict judges the run.
func verdict(r *Injection, handlers []fnRange) string {
	named := false
	for _, c := range r.Corrupted {
		if !strings.HasPrefix(c, "(unused") && c != "(outside memory)" {
			named = true
		}
	}
	handlerWrote := false
	for _, w := range r.Writes {
		if inAny(handlers, w.PC) {
			handlerWrote = true
		}
	}
	// Detected: a fault taken, or (--task) the kernel's stack check
	// calling its hook.
	detected := r.Fault != nil || r.Hook != nil
	switch {
	case r.Handler == "lockup":
		return VerdictLockup
	case detected && r.Handler == "safe-end" && !handlerWrote && !named:
		return VerdictContained
	case detected && r.Handler == "endless-loop":
		return VerdictHang
	case named:
		return VerdictSilent
	case r.Handler == "endless-loop":
		return VerdictHang
	case len(r.Writes) > 0 || detected:
		return VerdictUndetected
	}
	return VerdictNoOverflow
}

// predict is layout's static expectation for an overflow of the main
// stack, as a verdict. With MSPLIM armed by the startup code the core
// stops the overflow at the limit (layout does not look for it), so the
// fault handlers decide.
func predict(lay *layout.Report, msplim bool) string {
	if len(lay.OverflowInto) > 0 && !msplim {
		h := lay.OverflowInto[0]
		if h.Kind == "unused" || h.Kind == "heap" && len(h.Symbols) == 0 {
			return VerdictUndetected
		}
		return VerdictSilent
	}
	for _, h := range lay.FaultHandlers {
		for _, v := range h.Vectors {
			if v != "HardFault" {
				continue
			}
			switch {
			case h.UsesStackBeforeSPCheck:
				return VerdictLockup
			case h.EndlessLoop:
				return VerdictHang
			}
			return VerdictContained
		}
	}
	return ""
}

// disagreement says where the run and the static prediction differ.
func disagreement(r *Injection) string {
	if r.Predicted == "" || r.Verdict == r.Predicted || r.Verdict == VerdictNoOverflow {
		return ""
	}
	return fmt.Sprintf("layout predicted %s, the run shows %s", r.Predicted, r.Verdict)
}

// writeCatcher records the stores below a stack limit at a watch stop.
type writeCatcher struct {
	m      *Machine
	f      *binfile.File
	res    *analysis.Result
	frames *cfi.Table
	objs   []object
	lay    *layout.Report
	r      *Injection
	seen   map[string]bool
	// lo-hi is the watched range; splice joins a moved SP to the one it
	// replaced for the backtrace.
	lo, hi uint64
	splice map[uint64]uint64
	// counts, when set, must also accept a store (at or above SP) as the
	// overflow's: --task counts only the shrunk task's own.
	counts func(addr, sp uint64) bool
	// plainDiff: find the words written by comparing them before and
	// after the step, without inverting them first. Below a task's stack
	// lie other tasks' live TCBs and stacks; inverted for the step, they
	// changed the program's course (TestInjectTask: the IDLE and Tmr Svc
	// names came out inverted and the run ended normally, where the run
	// without the watch takes a HardFault). The cost: a store of the
	// value already there is not seen.
	plainDiff bool
}

// catch handles one watch stop.
func (w *writeCatcher) catch(stop *Stop) error {
	m, f, res, frames, objs, lay, r, seen := w.m, w.f, w.res, w.frames, w.objs, w.lay, w.r, w.seen
	// QEMU reports an ARM write watchpoint before the store, with
	// the watched range's start rather than the store's address.
	// So: take the watch out, invert every watched word, step the
	// one instruction, and every word that no longer holds its
	// inverse was written (also a store of the value already
	// there); the others get their value back. One instruction
	// only stores, so the program never sees the inverted words.
	pc, lr := uint64(stop.Regs.PC()), uint64(stop.Regs.LR())
	n := int(w.hi - w.lo)
	if err := m.RemoveWriteWatch(w.lo, n); err != nil {
		return err
	}
	orig, err := m.ReadMemory(w.lo, n)
	if err != nil {
		return err
	}
	inv := make([]byte, n)
	for i := range orig {
		inv[i] = ^orig[i]
	}
	if w.plainDiff {
		// Not inverted: a word written is one whose value changed.
		copy(inv, orig)
	} else if err := m.WriteMemory(w.lo, inv); err != nil {
		return err
	}
	if err := m.stepOnce(); err != nil {
		return err
	}
	regs, err := m.Registers()
	if err != nil {
		return err
	}
	sp := uint64(regs.SP())
	now, err := m.ReadMemory(w.lo, n)
	if err != nil {
		return err
	}
	written := make([]bool, n/4)
	for i := 0; i+4 <= n; i += 4 {
		if string(now[i:i+4]) == string(inv[i:i+4]) {
			copy(now[i:i+4], orig[i:i+4])
		} else {
			written[i/4] = true
		}
	}
	if !w.plainDiff {
		if err := m.WriteMemory(w.lo, now); err != nil {
			return err
		}
	}
	// Highest address first: the stack grows down, so the word
	// nearest the limit is the first one past it.
	for i := len(now)/4*4 - 4; i >= 0; i -= 4 {
		if !written[i/4] {
			continue
		}
		addr := w.lo + uint64(i)
		// A store below the limit is the overflow's when it lands
		// in the stack's own space, at or above SP once the
		// instruction (or an exception entry's stacking) is done:
		// code never stores below SP. Other stores there are the
		// program's own, to the objects it owns.
		if addr < sp || w.counts != nil && !w.counts(addr, sp) {
			continue
		}
		if len(r.Writes) >= maxWrites {
			r.WritesTruncated = true
			break
		}
		obj := objectAt(objs, lay, addr)
		var bt []string
		if len(r.Writes) == 0 {
			// The first store past the limit: the whole chain, from
			// the registers before it (memory is as it was then).
			bt = backtrace(m, f, res, frames, stop.Regs, w.splice)
		} else if _, ok := f.Containing(lr &^ 1); ok {
			bt = []string{where(f, res, pc), "called from " + where(f, res, lr&^1)}
		} else {
			bt = []string{where(f, res, pc), fmt.Sprintf("caller not known (LR %#x does not point into code)", lr)}
		}
		r.Writes = append(r.Writes, Write{Addr: addr, Object: obj, PC: pc, Where: where(f, res, pc), SP: sp, Backtrace: bt})
		if !seen[obj] {
			seen[obj] = true
			r.Corrupted = append(r.Corrupted, obj)
		}
	}
	if !r.WritesTruncated {
		if err := m.SetWriteWatch(w.lo, int(w.hi-w.lo)); err != nil {
			return err
		}
	}
	return nil
}

// recordFault notes the first fault handler entered once the gun fired
// (armed), at a breakpoint on a handler's first instruction pc. IPSR
// (xPSR's exception number) says which exception entered: a handler
// shared with interrupts is a fault's only when a fault (3-7) is active.
func (r *Injection) recordFault(m *Machine, f *binfile.File, regs *Registers, pc uint64, armed bool) error {
	exc := int(regs.XPSR & 0x1ff)
	if r.Fault != nil || !armed || exc < 3 || exc > 7 {
		return nil
	}
	fs, err := m.ReadFaultStatus()
	if err != nil {
		return err
	}
	name := ""
	if fn, ok := f.Containing(pc); ok {
		name = fn.Name()
	}
	r.Fault = &FaultTaken{Vector: binfile.ExceptionName(exc), Handler: name, SP: uint64(regs.SP()), Status: fs}
	return nil
}

// endedBy records how a run that the injection did not stop itself ended:
// the firmware's exit (a safe end once a fault or the kernel's hook was
// seen), an endless loop, a lockup, or the time limit (the program ran
// on after firing, described by since; or sat in a fault handler).
func (r *Injection) endedBy(stop *Stop, f *binfile.File, res *analysis.Result, handlers []fnRange, armed bool, since string) {
	at := func() string { return where(f, res, uint64(stop.Regs.PC())) }
	switch stop.Kind {
	case StopExit:
		r.Handler, r.HandlerDetail = "exit", stop.Detail
		if r.Fault != nil || r.Hook != nil {
			r.Handler = "safe-end"
		}
	case StopLoop:
		r.Handler, r.HandlerDetail = "endless-loop", "endless loop at "+at()
	case StopLockup:
		r.Handler, r.HandlerDetail = "lockup", stop.Detail
		if stop.Regs != nil {
			r.HandlerDetail += " at " + at()
		}
	case StopTimeout:
		r.Handler, r.HandlerDetail = "timeout", "still running at "+at()+" when the time limit passed"
		if armed {
			r.Handler, r.HandlerDetail = "ran-on", "still running at "+at()+" "+since
		}
		if inAny(handlers, uint64(stop.Regs.PC())) {
			r.Handler = "endless-loop"
		}
	default:
		r.Handler, r.HandlerDetail = stop.Kind, stop.Detail
	}
}
