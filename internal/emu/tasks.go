package emu

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/rtos"
)

// kernelFill is the word FreeRTOS fills a new task's stack with
// (tskSTACK_FILL_BYTE 0xa5) when it is built to measure stacks
// (INCLUDE_uxTaskGetStackHighWaterMark, configCHECK_FOR_STACK_OVERFLOW > 1,
// configUSE_TRACE_FACILITY). It overwrites stackscope's paint, so a task's
// word is untouched when it holds either.
const kernelFill = 0xa5a5a5a5

func taskUntouched(w uint32) bool { return w == Paint || w == kernelFill }

// freertosTasks is a FreeRTOS image's tasks through a run: what is painted
// at main, the ratchets armed when the scheduler starts, and every task
// read from the kernel's lists at the end.
type freertosTasks struct {
	k   *rtos.FreeRTOS
	f   *binfile.File
	res *analysis.Result
	// painted are the ranges painted at main: the heap arena (ucHeap) and
	// the static stack buffers the thread model found.
	toPaint []namedRange
	painted []namedRange
	// entries are the tasks' entry functions by TCB, read from the first
	// frame the kernel built on each stack before the task first ran.
	entries  map[uint64]string
	ratchets map[uint64]*ratchet
	order    []uint64 // TCBs in the order the ratchets were armed
	results  []StackResult
	// why is set when the tasks could not be read at the end.
	why string
	// known are the tasks as the scheduler's start found them: a task the
	// end cannot find (an overflow wrote over its TCB or the lists) is
	// still measured where it was.
	known         []rtos.Task
	paintedAtMain bool
	// noRatchet: read the entries at the scheduler's start, arm nothing.
	noRatchet bool
	// word is StackType_t's size (4; 8 on RV64): a task's size and
	// peak are whole words of it, as the kernel counts them. riscv: the
	// port is FreeRTOS's RISC-V one (its initial frame differs).
	word  uint64
	riscv bool
}

type namedRange struct {
	name       string
	start, end uint64
}

// newFreeRTOSTasks returns nil when the image has no FreeRTOS kernel; a
// kernel whose layout cannot be read is a warning.
func newFreeRTOSTasks(f *binfile.File, res *analysis.Result, warn func(string)) *freertosTasks {
	k, err := rtos.LoadFreeRTOS(f.ELF)
	if errors.Is(err, rtos.ErrNotFreeRTOS) {
		return nil
	}
	if err != nil {
		warn("FreeRTOS tasks not measured: " + err.Error())
		return nil
	}
	t := &freertosTasks{k: k, f: f, res: res, entries: map[uint64]string{}, ratchets: map[uint64]*ratchet{}, word: 4}
	syms, _ := f.ELF.Symbols()
	byName := map[string]elf.Symbol{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 {
			byName[s.Name] = s
		}
	}
	add := func(name string) {
		if s, ok := byName[name]; ok {
			// Inside whole words only: a byte array's ends may share a
			// word with another variable.
			start, end := (s.Value+3)&^3, (s.Value+s.Size)&^3
			if end > start {
				t.toPaint = append(t.toPaint, namedRange{name, start, end})
			}
		}
	}
	add("ucHeap")
	for _, th := range res.Threads {
		if th.StackBuffer != "" {
			add(th.StackBuffer)
		}
	}
	return t
}

// atMain paints the heap arena and the static stacks: .bss is zeroed by
// now, and no task exists yet.
func (t *freertosTasks) atMain(m *Machine) error {
	for _, r := range t.toPaint {
		if err := m.Paint(r.start, r.end, Paint); err != nil {
			return fmt.Errorf("painting %s: %v", r.name, err)
		}
		t.painted = append(t.painted, r)
	}
	return nil
}

// atScheduler reads the tasks created before the scheduler starts (it
// has just created the idle and timer tasks), their entries, and arms a
// ratchet on each stack.
func (t *freertosTasks) atScheduler(m *Machine) error {
	tasks, err := t.k.Tasks(m)
	if err != nil {
		return fmt.Errorf("reading FreeRTOS's tasks: %v", err)
	}
	t.known = tasks
	for _, tk := range tasks {
		if e := t.initialEntry(m, tk); e != "" {
			t.entries[tk.TCB] = e
		}
		g := t.geometry(m, tk)
		if t.noRatchet || g.top == 0 || !t.measurable(m, tk, g) {
			continue
		}
		r := &ratchet{name: tk.Name, limit: tk.Stack, top: g.top, untouched: taskUntouched, lowest: g.top, task: true, entry: t.entries[tk.TCB]}
		a, ok, err := r.scan(m, g.top)
		if err != nil {
			return err
		}
		if ok {
			r.lowest = a
		}
		if err := r.arm(m, r.lowest); err != nil {
			return err
		}
		t.ratchets[tk.TCB] = r
		t.order = append(t.order, tk.TCB)
	}
	return nil
}

// fired finds the ratchet a watchpoint stop belongs to.
func (t *freertosTasks) fired(addr uint64) *ratchet {
	if t == nil {
		return nil
	}
	for _, tcb := range t.order {
		if r := t.ratchets[tcb]; r.covers(addr) {
			return r
		}
	}
	return nil
}

// initialEntry reads the entry function from the frame the port built
// on a new task's stack (r0-r3, r12, lr, pc, xPSR with only the Thumb
// bit): "" once the task has run and the frame is gone.
func (t *freertosTasks) initialEntry(m *Machine, tk rtos.Task) string {
	if t.riscv {
		return t.initialEntryRISCV(m, tk)
	}
	b, err := m.ReadMemory(tk.TopOfStack, 32*4)
	if err != nil {
		return ""
	}
	for i := 4; i+4 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:]) != 0x01000000 {
			continue
		}
		pc := uint64(binary.LittleEndian.Uint32(b[i-4:]))
		if fn, ok := t.f.FunctionAt(pc &^ 1); ok && fn.Addr&^1 == pc&^1 {
			return fn.Name()
		}
		return ""
	}
	return ""
}

// taskGeometry is a task's stack: its top and where its size came from.
type taskGeometry struct {
	top    uint64
	source string
	why    string // why the size is not known
}

// geometry finds a task's stack top: pxEndOfStack when the kernel records
// it; else the thread model's size for its entry; else the static buffer
// at pxStack; else heap_4's block header.
func (t *freertosTasks) geometry(m *Machine, tk rtos.Task) taskGeometry {
	if tk.HasEndOfStack && tk.EndOfStack >= tk.Stack {
		return taskGeometry{top: tk.EndOfStack + t.word, source: fmt.Sprintf("pxEndOfStack - pxStack + %d (configRECORD_STACK_HIGH_ADDRESS)", t.word)}
	}
	if th := t.thread(t.entries[tk.TCB]); th != nil && th.StackSize != nil && !th.SizeAtLeast {
		return taskGeometry{top: tk.Stack + uint64(*th.StackSize), source: "the static thread model: " + th.SizeSource}
	}
	for _, r := range t.painted {
		if r.start == tk.Stack && r.name != "ucHeap" {
			return taskGeometry{top: r.end, source: "the static buffer " + r.name}
		}
	}
	for _, r := range t.painted {
		// heap_4's header as Cortex-M lays it out: on RISC-V it is
		// rounded to portBYTE_ALIGNMENT (16), and its size is not read.
		if t.riscv {
			break
		}
		if r.name == "ucHeap" && tk.Stack >= r.start+8 && tk.Stack < r.end {
			// heap_4's BlockLink_t {next, size} sits just below the block;
			// the size has the allocated bit (the top bit) set and counts
			// the 8-byte header.
			b, err := m.ReadMemory(tk.Stack-4, 4)
			if err == nil {
				n := uint64(binary.LittleEndian.Uint32(b))
				if n&(1<<31) != 0 {
					n &^= 1 << 31
					if n > 8 && tk.Stack+n-8 <= r.end {
						return taskGeometry{top: tk.Stack + n - 8, source: "the heap_4 block header (the allocation rounded up to 8 bytes)"}
					}
				}
			}
		}
	}
	return taskGeometry{why: "its stack size is not known (build with configRECORD_STACK_HIGH_ADDRESS 1, or create it where the static thread model sees a constant depth)"}
}

// thread is the thread model's task for an entry function, nil when
// there is none or more than one.
func (t *freertosTasks) thread(entry string) *analysis.Thread {
	var found *analysis.Thread
	for i := range t.res.Threads {
		th := &t.res.Threads[i]
		if th.Entry == entry && entry != "" {
			if found != nil {
				return nil
			}
			found = th
		}
	}
	return found
}

// measurable: the stack was painted by stackscope or filled by the
// kernel, so an untouched word means one nothing wrote.
func (t *freertosTasks) measurable(m *Machine, tk rtos.Task, g taskGeometry) bool {
	for _, r := range t.painted {
		if tk.Stack >= r.start && g.top <= r.end {
			return true
		}
	}
	b, err := m.ReadMemory(tk.Stack, 4)
	return err == nil && taskUntouched(binary.LittleEndian.Uint32(b))
}

// measure reads every task at the end of the run.
func (t *freertosTasks) measure(m *Machine) error {
	tasks, err := t.k.Tasks(m)
	lost := map[uint64]bool{}
	if err != nil {
		if len(t.known) == 0 {
			t.why = err.Error()
			return nil
		}
		tasks = nil
	}
	seen := map[uint64]bool{}
	for _, tk := range tasks {
		seen[tk.TCB] = true
	}
	for _, tk := range t.known {
		if !seen[tk.TCB] {
			tasks = append(tasks, tk)
			lost[tk.TCB] = true
		}
	}
	// Did the kernel fill the stacks? Then a stack it filled whose lowest
	// word changed was used to its end, not left unpainted.
	kernelFills := false
	for _, tk := range tasks {
		if b, err := m.ReadMemory(tk.Stack, 64); err == nil {
			for i := 0; i+4 <= len(b); i += 4 {
				if binary.LittleEndian.Uint32(b[i:]) == kernelFill {
					kernelFills = true
				}
			}
		}
	}
	t.results = t.results[:0]
	for _, tk := range tasks {
		if _, ok := t.entries[tk.TCB]; !ok {
			if e := t.initialEntry(m, tk); e != "" {
				t.entries[tk.TCB] = e
			}
		}
		if lost[tk.TCB] && err == nil {
			// In none of the lists: deleted, and its stack maybe freed
			// and reused, so whatever is there now is not its peak.
			t.results = append(t.results, StackResult{Name: tk.Name, Kind: "task", TCB: tk.TCB, Limit: tk.Stack, State: "deleted",
				Entry: t.entries[tk.TCB], NotMeasured: "it is in none of the kernel's lists at the end (deleted during the run)"})
			continue
		}
		sr := t.result(m, tk, kernelFills)
		if lost[tk.TCB] {
			sr.State = "lost"
			sr.SizeSource += "; the kernel's lists could not be read at the end (" + err.Error() + "): measured where it was when the scheduler started"
		}
		t.results = append(t.results, sr)
	}
	sort.SliceStable(t.results, func(i, j int) bool { return t.results[i].Name < t.results[j].Name })
	return nil
}

func (t *freertosTasks) result(m *Machine, tk rtos.Task, kernelFills bool) StackResult {
	s := StackResult{Name: tk.Name, Kind: "task", Limit: tk.Stack, TCB: tk.TCB, State: tk.State, Entry: t.entries[tk.TCB]}
	pr := tk.Priority
	s.Priority = &pr
	if th := t.thread(s.Entry); th != nil {
		if th.Bound != nil {
			b := *th.Bound + th.Context
			s.StaticBound, s.Bounded = &b, true
		}
		s.StaticAtLeast = th.AtLeast + th.Context
		s.StaticContext = th.Context
		s.StaticPath = th.Path
	}
	g := t.geometry(m, tk)
	if g.top == 0 {
		s.NotMeasured = g.why
		return s
	}
	s.Top, s.Size, s.SizeSource = g.top, int64(g.top-tk.Stack), g.source
	painted := t.measurable(m, tk, g)
	r := t.ratchets[tk.TCB]
	if r == nil {
		r = &ratchet{name: tk.Name, limit: tk.Stack, top: g.top, untouched: taskUntouched, lowest: g.top}
	}
	a, disturbed, err := r.scan(m, g.top)
	if err != nil {
		s.NotMeasured = err.Error()
		return s
	}
	if !painted && !(kernelFills && disturbed && a == tk.Stack) {
		s.NotMeasured = "its stack was neither painted by stackscope (it is not in ucHeap nor a static buffer the analysis found) nor filled by the kernel (INCLUDE_uxTaskGetStackHighWaterMark or configCHECK_FOR_STACK_OVERFLOW > 1)"
		return s
	}
	if disturbed && t.word > 4 {
		// A whole stack word counts as used when any of its bytes is, as
		// uxTaskGetStackHighWaterMark counts free words.
		a = tk.Stack + (a-tk.Stack)/t.word*t.word
	}
	peak := int64(0)
	if disturbed {
		peak = int64(g.top - a)
	}
	s.Peak = &peak
	s.Overflowed = disturbed && a == tk.Stack
	h := s.Size - peak
	s.Headroom = &h
	if r.deepest != nil && r.lowest == a {
		s.Deepest = r.deepest
	} else if r.deepest != nil || t.ratchets[tk.TCB] != nil {
		s.DeepestNote = "the deepest word was written without a watchpoint stop (an exception entry's stacking, which QEMU does not report to watchpoints, or before the ratchet was armed)"
	} else {
		s.DeepestNote = "no ratchet on this stack (a task created after the scheduler started)"
	}
	return s
}
