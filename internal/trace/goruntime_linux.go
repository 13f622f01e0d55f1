//go:build linux && amd64

package trace

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/stackscope/stackscope/internal/symbolize"
	"golang.org/x/sys/unix"
)

// A Go program (built by gc, without cgo) does not run its code on the
// stacks the kernel or a C library would give a thread:
//
//   - each OS thread (an M) other than the first is started by the runtime's
//     own clone() on its g0 stack, 16 KiB x StackGuardMultiplier carved out
//     of the Go heap (proc.go: allocm, malg(16384*...)); the mapping that
//     holds it is a heap arena of many MiB with reserved PROT_NONE address
//     space below, which is neither the stack nor a guard page;
//   - the first thread (m0) runs g0 on the kernel's [stack], but the runtime
//     gives it only 64 KiB of it (asm_amd64.s, rt0_go) and throws before
//     going deeper;
//   - goroutines run on heap-allocated stacks that the runtime grows by
//     copying, up to a limit (1 GB on 64-bit, debug.SetMaxStack); past it
//     the runtime prints "fatal error: stack overflow" and exits with
//     status 2, without a signal.
//
// So stackscope recognises a Go program by its ELF and reads the sizes the
// runtime gave instead of taking mappings for stacks. A cgo program creates
// its threads with pthread_create: those are ordinary pthreads, and are
// described as such.

// KindGoThread is a Go runtime thread (an M) running on a g0 stack that the
// runtime allocated itself.
const KindGoThread = "go-thread"

// goRuntime is what the ELF of a Go program tells about its runtime.
type goRuntime struct {
	path   string
	g0     uint64 // link-time address of runtime.g0 (m0's g0), 0 when stripped
	allgs  uint64 // link-time address of runtime.allgs ([]*g), 0 when stripped
	goid   int64  // offset of g.goid, from DWARF; -1 unknown
	status int64  // offset of g.atomicstatus, from DWARF; -1 unknown
	cgo    bool   // linked with cgo: threads come from pthread_create
}

var (
	goCacheMu sync.Mutex
	goCache   = map[string]*goRuntime{}
)

// detectGo returns the runtime description of the program at path, or nil
// when it is not a Go program.
func detectGo(path string) *goRuntime {
	if path == "" {
		return nil
	}
	goCacheMu.Lock()
	defer goCacheMu.Unlock()
	if g, ok := goCache[path]; ok {
		return g
	}
	g := readGoRuntime(path)
	goCache[path] = g
	return g
}

func readGoRuntime(path string) (g *goRuntime) {
	defer func() {
		if recover() != nil { // an odd file must not end the supervisor
			g = nil
		}
	}()
	f, err := symbolize.Open(path)
	if err != nil {
		return nil
	}
	ef := f.ELF
	g = &goRuntime{path: path, goid: -1, status: -1}
	isGo := ef.Section(".go.buildinfo") != nil
	if syms, err := ef.Symbols(); err == nil {
		for _, s := range syms {
			switch s.Name {
			case "runtime.g0":
				g.g0 = s.Value
				isGo = true
			case "runtime.m0":
				isGo = true
			case "runtime.allgs":
				g.allgs = s.Value
			case "x_cgo_thread_start": // runtime/cgo's C code, only in cgo builds
				g.cgo = true
			}
		}
	}
	if !isGo {
		return nil
	}
	if libs, err := ef.ImportedLibraries(); err == nil && !g.cgo {
		// Stripped: a program that needs the C library is linked with cgo
		// (a pure Go one needs none, PIE or not).
		for _, l := range libs {
			if strings.HasPrefix(l, "libc.so") || strings.HasPrefix(l, "libpthread.so") {
				g.cgo = true
			}
		}
	}
	if d, err := ef.DWARF(); err == nil {
		g.goid, g.status = gStructOffsets(d)
	}
	return g
}

// gStructOffsets finds the offsets of goid and atomicstatus in runtime.g:
// they move between Go versions, DWARF says where they are in this one.
func gStructOffsets(d *dwarf.Data) (goid, status int64) {
	goid, status = -1, -1
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		if e.Tag != dwarf.TagStructType {
			if e.Tag != dwarf.TagCompileUnit {
				r.SkipChildren()
			}
			continue
		}
		if name, _ := e.Val(dwarf.AttrName).(string); name != "runtime.g" || !e.Children {
			r.SkipChildren()
			continue
		}
		for {
			m, err := r.Next()
			if err != nil || m == nil || m.Tag == 0 {
				return
			}
			off, ok := m.Val(dwarf.AttrDataMemberLoc).(int64)
			if !ok {
				continue
			}
			switch m.Val(dwarf.AttrName) {
			case "goid":
				goid = off
			case "atomicstatus":
				status = off
			}
		}
	}
}

// bias is the load bias of the Go executable in the process (0 unless it
// was built as a PIE).
func (g *goRuntime) bias(maps []mapping) (uint64, bool) {
	f, err := symbolize.Open(g.path)
	if err != nil {
		return 0, false
	}
	if f.ELF.Type == elf.ET_EXEC {
		return 0, true
	}
	for _, m := range maps {
		if m.path == g.path {
			return f.LoadBias(m.start, m.off)
		}
	}
	return 0, false
}

// goStack reads the stack field that opens runtime.g: struct stack { lo, hi
// uintptr } at offset 0, which the runtime's assembly relies on.
func goStack(mem *memReader, gp uint64) (lo, hi uint64, ok bool) {
	var b [16]byte
	if gp == 0 || !mem.read(gp, b[:]) {
		return 0, 0, false
	}
	lo, hi = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	return lo, hi, lo != 0 && lo < hi
}

// maxG0 bounds what is believed to be a g0 stack read from memory: the
// runtime's are 16 or 32 KiB (64 KiB for m0); anything above this is a
// misread.
const maxG0 = 1 << 20

// goThread describes a thread the Go runtime starts with its own clone():
// runtime.clone (sys_linux_amd64.s) passes the new M's g0 in R9 and its
// stack top, g0.stack.hi, as the clone stack. The g0 read through R9 must
// agree with the stack argument; if it does not, the size is unknown, and
// the heap arena that holds the top is not taken for a stack either way.
func (tr *tracer) goThread(parent, c *thread, r *unix.PtraceRegs, top uint64) {
	c.Kind = KindGoThread
	c.StackTop = top
	c.Region = "go g0 stack"
	c.heapStack = true // inside the Go heap: no guard, no pagemap evidence
	c.GuardSize = 0
	mem := openMem(parent.TID)
	defer mem.close()
	lo, hi, ok := goStack(mem, r.R9)
	if !ok || hi != top || hi-lo > maxG0 {
		c.Region = "go runtime stack (size not read)"
		return
	}
	size := hi - lo
	c.StackSize, c.StackBottom, c.lo = &size, lo, lo
}

// goMainStack gives a Go program's main thread the bounds the runtime set
// for m0's g0 (runtime.g0.stack), read when the thread exits; the rest of
// the kernel's [stack] is never used by Go code.
func (tr *tracer) goMainStack(t *thread) {
	g := t.gort
	if g == nil || g.g0 == 0 || t.Kind != KindMain || t.StackTop == 0 {
		return
	}
	maps := readMaps(t.TID)
	bias, ok := g.bias(maps)
	if !ok {
		return
	}
	mem := openMem(t.TID)
	defer mem.close()
	lo, hi, ok := goStack(mem, g.g0+bias)
	if !ok || hi > t.StackTop || t.StackTop-lo > maxG0+t.StartUse+(64<<10) {
		return
	}
	if t.StackSize != nil && t.StackTop-lo > *t.StackSize {
		return
	}
	size := t.StackTop - lo
	t.StackSize, t.StackBottom = &size, lo
}

const goNotMeasured = "goroutine stacks are heap-allocated and grown by the Go runtime; stackscope does not measure their peaks"

// readGoroutines walks runtime.allgs while a thread of the program is
// stopped at its exit (the memory is still there).
func (tr *tracer) readGoroutines(t *thread) {
	g := t.gort
	if g == nil || tr.res.Go != nil && tr.res.Go.Goroutines >= 0 {
		return
	}
	info := &GoInfo{Goroutines: -1, Note: goNotMeasured}
	tr.res.Go = info
	if g.allgs == 0 {
		info.Note += " (runtime.allgs not found: the binary has no symbol table)"
		return
	}
	maps := readMaps(t.TID)
	bias, ok := g.bias(maps)
	if !ok {
		return
	}
	mem := openMem(t.TID)
	defer mem.close()
	var hdr [16]byte
	if !mem.read(g.allgs+bias, hdr[:]) {
		return
	}
	ptr, n := binary.LittleEndian.Uint64(hdr[0:]), binary.LittleEndian.Uint64(hdr[8:])
	if n > 1<<24 {
		return // not a slice header: misread
	}
	gps := make([]byte, 8*n)
	if n > 0 && !mem.read(ptr, gps) {
		return
	}
	info.Goroutines = int(n)
	for i := uint64(0); i < n; i++ {
		gp := binary.LittleEndian.Uint64(gps[8*i:])
		lo, hi, ok := goStack(mem, gp)
		if !ok {
			continue // a dead goroutine whose stack was freed
		}
		if d := info.Deepest; d != nil && hi-lo <= d.StackSize {
			continue
		}
		gr := &Goroutine{ID: -1, StackSize: hi - lo, StackLo: lo, StackHi: hi}
		if g.goid >= 0 {
			if v, ok := mem.u64(gp + uint64(g.goid)); ok {
				gr.ID = int64(v)
			}
		}
		info.Deepest = gr
	}
	info.Note = "goroutine stacks are heap-allocated and grown by the Go runtime: sizes are read from runtime.allgs at the end of the run, peaks are not measured"
}

// goExiting runs at PTRACE_EVENT_EXIT of a thread of a Go program.
func (tr *tracer) goExiting(t *thread, ws unix.WaitStatus) {
	if t.gort == nil {
		return
	}
	tr.goMainStack(t)
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(t.TID, &regs) != nil {
		return
	}
	if regs.Orig_rax == sysExitGroup || t.Kind == KindMain {
		tr.readGoroutines(t)
	}
	if ws.Exited() && ws.ExitStatus() == 2 && regs.Orig_rax == sysExitGroup && tr.goFatal == nil {
		// The runtime's fatal errors end the process with exit(2) from the
		// thread that hit them: keep that thread, and its backtrace, which
		// shows runtime.newstack for a goroutine stack overflow even when
		// stderr is not scanned.
		mem := openMem(t.TID)
		defer mem.close()
		probe := &Crash{}
		tr.fillBacktrace(newAddrSpace(t.TID, mem), probe, &regs)
		probe.SP = regs.Rsp
		tr.goFatal = &goFatal{t: t, probe: probe}
	}
}

// goFatal is the thread of a Go program that called exit_group(2).
type goFatal struct {
	t     *thread
	probe *Crash
}

func (f *goFatal) inNewstack() bool {
	throw := false
	for _, fr := range f.probe.all {
		switch fr.Function {
		case "runtime.throw", "runtime.fatalthrow":
			throw = true
		case "runtime.newstack":
			return throw
		}
	}
	return false
}

// applyGoOverflow makes the crash of a Go goroutine stack overflow: the
// runtime's message on stderr (or, without stderr, runtime.newstack calling
// throw in the exiting thread's backtrace) and the goroutine's traceback.
func (tr *tracer) applyGoOverflow() {
	f := tr.goFatal
	if f == nil || tr.res.Crash != nil {
		return
	}
	var gs goScan
	if tr.scan != nil {
		tr.scan.mu.Lock()
		gs = tr.scan.gos
		tr.scan.mu.Unlock()
	}
	if !gs.overflow && !f.inNewstack() {
		return
	}
	t := f.t
	c := &Crash{Class: ClassStackOverflow, TID: t.TID, Kind: t.Kind, Signal: "none",
		Code: "Go runtime fatal error, exit 2", Goroutine: gs.goid, SP: gs.sp}
	if len(gs.frames) > 0 {
		c.Frames = gs.frames
		if len(c.Frames) > maxShown {
			c.Frames = c.Frames[:maxShown]
		}
		c.all = gs.frames
		c.Depth = len(gs.frames) + gs.elided // the runtime counts what it elides
	} else {
		// No traceback from stderr: the exiting thread's own frames (the
		// runtime's, on g0).
		c.Frames, c.Backtrace = f.probe.Frames, f.probe.Backtrace
		c.all, c.Depth, c.Truncated = f.probe.all, f.probe.Depth, f.probe.Truncated
	}
	c.Backtrace = make([]string, len(c.Frames))
	for i, fr := range c.Frames {
		c.Backtrace[i] = fr.Name()
	}
	if len(c.Frames) > 0 {
		c.PC = c.Frames[0].String()
	}
	keys := make([]uint64, len(c.all))
	ids := map[string]uint64{}
	for i, fr := range c.all {
		k := fmt.Sprintf("%s %s:%d +%x", fr.Function, fr.File, fr.Line, fr.Offset)
		if _, ok := ids[k]; !ok {
			ids[k] = uint64(len(ids) + 1)
		}
		keys[i] = ids[k]
	}
	if s, p, ok := findCycle(keys); ok {
		for _, fr := range c.all[s : s+p] {
			c.Cycle = append(c.Cycle, fr.Function)
		}
		c.CycleName = c.Cycle[0]
		c.cycleEnd = s + 2*p
	}
	c.Function = c.CycleName
	if c.Function == "" {
		for _, fr := range c.all {
			if fr.Function != "" && !strings.HasPrefix(fr.Function, "runtime.") {
				c.Function = fr.Function
				break
			}
		}
	}
	who := "a goroutine"
	if gs.goid > 0 {
		who = fmt.Sprintf("goroutine %d", gs.goid)
	} else if d := tr.res.Go; d != nil && d.Deepest != nil && d.Deepest.ID > 0 {
		who = fmt.Sprintf("a goroutine (the largest goroutine stack at the end was goroutine %d's, %s)", d.Deepest.ID, HumanBytes(d.Deepest.StackSize))
	}
	if c.SP == 0 {
		c.SP = f.probe.SP // the thread's, on its g0 stack
	}
	c.Detail = fmt.Sprintf("%s (running on thread %d) overflowed its stack: ", who, t.TID)
	switch {
	case gs.limit > 0:
		c.Detail += fmt.Sprintf("it needed more than the runtime's goroutine stack limit of %s (fatal error: stack overflow)", HumanBytes(gs.limit))
	case gs.overflow:
		c.Detail += "the Go runtime said \"fatal error: stack overflow\""
	default:
		c.Detail += "runtime.newstack threw and the program exited with status 2 (stderr not scanned: the runtime's message was not read)"
	}
	if gs.hi > gs.lo {
		c.Detail += fmt.Sprintf("; its stack was %#x-%#x (%s)", gs.lo, gs.hi, HumanBytes(gs.hi-gs.lo))
	}
	if c.CycleName != "" {
		c.Detail += "; deep recursion in " + c.CycleName
	}
	tr.res.Crash = c
	t.Ended = EndedCrash
}
