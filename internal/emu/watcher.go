package emu

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
)

// watcher is what a firmware run adds to the main stack's paint: the
// watchpoint ratchet on the main stack, and FreeRTOS's tasks (painted at
// main, a ratchet each from the scheduler's start, read at the end).
type watcher struct {
	f         *binfile.File
	res       *analysis.Result
	main      *mainMeasure
	mainR     *ratchet
	tasks     *freertosTasks
	u         *unwinder
	noRatchet bool
	warn      func(string)
	// trap are RISC-V trap handlers' own stacks (set by the caller).
	trap []*trapStack
}

func newWatcher(f *binfile.File, res *analysis.Result, main *mainMeasure, noRatchet bool, warn func(string)) *watcher {
	w := &watcher{f: f, res: res, main: main, noRatchet: noRatchet, warn: warn}
	tab, err := cfi.Load(f.ELF)
	if err != nil {
		warn("call-frame information unreadable, backtraces stop at the first frame: " + err.Error())
	}
	w.u = &unwinder{f: f, cfi: tab, lines: res.Lines}
	w.tasks = newFreeRTOSTasks(f, res, warn)
	if w.tasks != nil {
		w.tasks.noRatchet = noRatchet
	}
	return w
}

// start arms the main stack's ratchet before the first instruction.
func (w *watcher) start(m *Machine) error {
	if w.noRatchet || !w.main.painted {
		return nil
	}
	w.mainR = &ratchet{name: "main", limit: w.main.Limit, top: w.main.Top, lowest: w.main.Top,
		untouched: func(v uint32) bool { return v == Paint }}
	return w.mainR.arm(m, w.mainR.lowest)
}

// breakpoints adds the watcher's: main (paint the task stacks) and the
// port's xPortStartScheduler (arm the tasks' ratchets).
func (w *watcher) breakpoints(bps map[uint64]string) {
	if w.tasks == nil && len(w.trap) == 0 {
		return
	}
	set := func(name, what string) {
		if fn, ok := w.f.Lookup(name); ok {
			if _, taken := bps[fn.Addr&^1]; !taken {
				bps[fn.Addr&^1] = what
			}
		}
	}
	set("main", "rtos-main")
	if w.tasks == nil {
		return
	}
	// The tasks' entries are read when the scheduler starts (and their
	// ratchets armed): a breakpoint gone before the first tick.
	set("xPortStartScheduler", "rtos-scheduler")
}

// breakpoint handles the watcher's own breakpoints (and removes them):
// handled is false for the others.
func (w *watcher) breakpoint(m *Machine, what string, pc uint64) (bool, error) {
	switch what {
	case "rtos-main":
		if err := w.atMain(m); err != nil {
			return true, err
		}
	case "rtos-scheduler":
		if err := w.tasks.atScheduler(m); err != nil {
			return true, err
		}
	default:
		return false, nil
	}
	return true, m.RemoveBreakpoint(pc)
}

// watchStop moves the ratchet whose watchpoint fired; handled is false
// for a watchpoint the watcher did not set.
func (w *watcher) watchStop(m *Machine, st *Stop) (bool, error) {
	r := w.tasks.fired(st.WatchAddr)
	if r == nil && w.mainR != nil && w.mainR.covers(st.WatchAddr) {
		r = w.mainR
	}
	if r == nil {
		return false, nil
	}
	return true, r.fire(m, st.Regs, w.u)
}

// ratchets are every armed or pending ratchet: the main stack's, then the
// tasks'.
func (w *watcher) ratchets() []*ratchet {
	var out []*ratchet
	if w.mainR != nil {
		out = append(out, w.mainR)
	}
	if w.tasks != nil {
		for _, tcb := range w.tasks.order {
			out = append(out, w.tasks.ratchets[tcb])
		}
	}
	return out
}

// mainRepainted starts the main stack's ratchet again below sp: the
// stack was painted again at main (it lies in .bss or .data, which the
// startup code wrote).
func (w *watcher) mainRepainted(m *Machine, sp uint64) error {
	r := w.mainR
	if r == nil {
		return nil
	}
	if err := r.disarm(m); err != nil {
		return err
	}
	r.pending, r.deepest, r.steps = nil, nil, 0
	r.lowest = min(max(sp, r.limit), r.top)
	return r.arm(m, r.lowest)
}

// atMain paints FreeRTOS's heap and static task stacks, once.
func (w *watcher) atMain(m *Machine) error {
	for _, ts := range w.trap {
		if !ts.painted {
			if err := ts.paint(m); err != nil {
				return err
			}
		}
	}
	if w.tasks == nil || w.tasks.paintedAtMain {
		return nil
	}
	w.tasks.paintedAtMain = true
	return w.tasks.atMain(m)
}

func (w *watcher) measure(m *Machine) error {
	for _, r := range w.ratchets() {
		if err := r.settle(m); err != nil {
			return err
		}
		if r.stepped > 0 {
			w.warn(fmt.Sprintf("the ratchet on the %s stack single-stepped %d store(s) whose target it could not tell: QEMU steps with interrupts masked, so an interrupt due there came an instruction late", r.name, r.stepped))
		}
	}
	for _, ts := range w.trap {
		if err := ts.measure(m); err != nil {
			return err
		}
	}
	if w.tasks == nil {
		return nil
	}
	return w.tasks.measure(m)
}

// results are the main stack's result with its deepest path, then the
// tasks'.
func (w *watcher) results(main StackResult, measured bool) []StackResult {
	if reset := w.resetEntry(); reset != nil {
		main.StaticPath = reset.Path
	}
	if main.Peak != nil && w.mainR != nil {
		switch {
		case w.mainR.deepest != nil && w.main.disturbed && w.mainR.lowest == w.main.lowest:
			main.Deepest = w.mainR.deepest
		case w.main.disturbed:
			main.DeepestNote = "the deepest word was written without a watchpoint stop (an exception entry's stacking, which QEMU does not report to watchpoints)"
		}
	}
	out := []StackResult{main}
	for _, ts := range w.trap {
		out = append(out, ts.result())
	}
	if w.tasks == nil {
		return out
	}
	if !measured {
		return out
	}
	if w.tasks.why != "" {
		return append(out, StackResult{Name: "FreeRTOS tasks", Kind: "task", NotMeasured: "the kernel's task lists could not be read: " + w.tasks.why})
	}
	return append(out, w.tasks.results...)
}

func (w *watcher) resetEntry() *analysis.Entry {
	for i := range w.res.Entries {
		if w.res.Entries[i].Kind == "reset" {
			return &w.res.Entries[i]
		}
	}
	return nil
}
