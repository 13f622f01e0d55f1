// Package layout reads a firmware image's memory map from its ELF file and
// says where the main stack is and what a stack overflow would run into;
// it also checks the fault handlers that run when the stack overflows.
//
// The ELF file has no MEMORY regions (the linker script's MEMORY block is
// not recorded). Given the memory map (Options.Memory, from the linker
// script), a verdict is proved from it: SAFE needs the stack's limit at the
// ORIGIN of its region with no writable region ending there. Without it,
// RAM is inferred from the writable sections and the gaps between them in
// one 512 MiB block are assumed to be RAM; the verdict is then UNSAFE (data
// below the stack) or UNKNOWN, never SAFE.
package layout

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
)

// Options tune Analyze.
type Options struct {
	// NoHeadroom skips the stack analysis (the headroom is then unknown).
	NoHeadroom bool
	// Analysis is passed to analysis.RunFile for the headroom.
	Analysis analysis.Options
	// Result, when set, is the analysis of the same file already done (a
	// combined report): the headroom uses it instead of analysing again.
	Result *analysis.Result
	// Memory is the memory map (the linker script's MEMORY regions), nil
	// when none is given: only with it can a layout be SAFE.
	Memory *MemoryMap
}

// Verdicts.
const (
	Safe   = "safe"
	Unsafe = "unsafe"
	// Unknown: nothing the image places lies below the stack, but no
	// memory map proves that no RAM does.
	Unknown = "unknown"
)

// Report is the layout of one ELF file: the JSON contract of
// `stackscope layout --format json`. Keys are only ever added.
type Report struct {
	// StackscopeVersion names the stackscope build that wrote this report
	// (`stackscope version`); set by the command, empty in tests of the library.
	StackscopeVersion string `json:"stackscope_version,omitempty"`

	Binary string `json:"binary"`
	Arch   string `json:"arch"`
	// Verdict is "safe", "unsafe", "unknown" (not proved either way: give
	// the memory map), or "" (no verdict: not firmware, or the main stack
	// could not be found); VerdictReason says why in one line.
	Verdict       string `json:"-"`
	VerdictReason string `json:"verdict_reason"`

	Regions  []Region  `json:"regions"`
	Segments []Segment `json:"segments"`
	// RAMInference says how RAM was inferred (the ELF has no MEMORY
	// regions), or where the memory map came from.
	RAMInference string `json:"ram_inference"`
	// MemoryMap is the memory map given (null when none: RAM is inferred).
	MemoryMap *MemoryMap `json:"memory_map"`

	Stack *Stack `json:"stack"`
	Heap  *Heap  `json:"heap"`
	// OverflowInto is what an overflow of the main stack runs into, nearest
	// the limit first.
	OverflowInto []Hit `json:"overflow_into"`
	// OverflowEnd says where the path ends: "start of RAM" (safe) or
	// "unmapped memory" (safe); empty when the path runs into data.
	OverflowEnd string `json:"overflow_end,omitempty"`

	Headroom      *Headroom      `json:"headroom_detail"`
	FaultHandlers []FaultHandler `json:"fault_handlers"`
	// EndlessLoops are the exception handlers (any vector) that are endless loops.
	EndlessLoops []FaultHandler `json:"endless_loop_handlers"`
	// TaskStacks are statically allocated stacks (RTOS task stacks) found
	// among the data symbols, with what their own overflow would hit.
	TaskStacks []TaskStack `json:"task_stacks"`

	// Kernel is set for a hosted program (x86-64): process stacks are
	// guarded by the kernel and no verdict is given.
	Kernel string `json:"kernel_guard,omitempty"`
	// NotChecked lists the checks of Cortex-M firmware that do not apply
	// to this image (RISC-V: no vector table, MSPLIM, MPU or HardFault),
	// one line each, so their absence is not read as a pass.
	NotChecked []string `json:"not_checked,omitempty"`
	// Missing lists what could not be found (a partial report).
	Missing  []string `json:"missing"`
	Warnings []string `json:"warnings"`
}

// Region is a memory: "ram" or "flash" (inferred, or by the memory map), or
// "memory" (a region of the map whose attributes do not say).
type Region struct {
	Kind string `json:"kind"`
	// Name and Attributes are the memory map's, when one is given.
	Name       string    `json:"name,omitempty"`
	Attributes string    `json:"attributes,omitempty"`
	Start      uint64    `json:"start"`
	End        uint64    `json:"end"`
	Sections   []Section `json:"sections"`
}

// Section is one allocated section.
type Section struct {
	Name  string `json:"name"`
	Addr  uint64 `json:"addr"`
	Size  uint64 `json:"size"`
	Flags string `json:"flags"` // "rwx" subset
	// Kind: code, rodata, data, bss, stack, heap or other.
	Kind string `json:"kind"`
	// LoadAddr is where the section's initial contents are in flash, when
	// that differs from Addr (.data).
	LoadAddr uint64 `json:"load_addr,omitempty"`
}

// End is the first address after the section.
func (s Section) End() uint64 { return s.Addr + s.Size }

// Segment is one PT_LOAD program header.
type Segment struct {
	VAddr    uint64   `json:"vaddr"`
	PAddr    uint64   `json:"paddr"`
	FileSize uint64   `json:"file_size"`
	MemSize  uint64   `json:"mem_size"`
	Flags    string   `json:"flags"`
	Sections []string `json:"sections"`
}

// Stack is the main stack.
type Stack struct {
	Top   uint64 `json:"top"`
	Limit uint64 `json:"limit"`
	Size  uint64 `json:"size"`
	Grows string `json:"grows"`
	// TopFrom and LimitFrom say where the numbers came from.
	TopFrom   string `json:"top_from"`
	LimitFrom string `json:"limit_from"`
	// LimitFound is false when no stack-limit symbol or section was found
	// and the nearest section below the top was used; Tried lists the names.
	LimitFound bool     `json:"limit_found"`
	Tried      []string `json:"tried,omitempty"`
	// Section is the section that holds the stack, if any.
	Section string `json:"section,omitempty"`
	// Reservation says which section only reserves the stack's size
	// elsewhere (picolibc's .stack): it is not in the overflow path.
	Reservation string `json:"reservation,omitempty"`
}

// Heap is the heap region, from symbols or a section.
type Heap struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
	From  string `json:"from"`
	// Used is false when the image has no malloc/_sbrk: the region is then
	// reserved but holds nothing.
	Used bool `json:"used"`
}

// Hit is one stretch of memory an overflow runs through, in order.
type Hit struct {
	// Section is the section name, "(unused RAM)" or "(heap)".
	Section string `json:"section"`
	// Kind: unused, heap, bss, data, stack, code, rodata or other.
	Kind    string   `json:"kind"`
	Start   uint64   `json:"start"`
	End     uint64   `json:"end"`
	Size    uint64   `json:"size"`
	Symbols []string `json:"symbols"` // nearest the limit first
	// Assumed is set for unused memory taken to be RAM without a memory map.
	Assumed bool `json:"assumed,omitempty"`
	// SymbolDetail has the address and size of each symbol in Symbols.
	SymbolDetail []Symbol `json:"symbol_detail"`
}

// Symbol is a data object in the overflow path.
type Symbol struct {
	Name string `json:"name"`
	Addr uint64 `json:"addr"`
	Size uint64 `json:"size"`
}

// Headroom is the stack size minus the analysed worst case.
type Headroom struct {
	StackSize int64 `json:"stack_size"`
	// Total is the main-stack total (reset path plus interrupts), null
	// when not bounded; TotalAtLeast is then a lower bound.
	Total        *int64   `json:"total"`
	TotalAtLeast int64    `json:"total_at_least"`
	Bytes        *int64   `json:"bytes"`
	Percent      *float64 `json:"percent"`
	// WillOverflowBy is set when the lower bound alone exceeds the stack.
	WillOverflowBy int64 `json:"will_overflow_by,omitempty"`
	// TotalOf says what Total adds up when it is not the reset path plus
	// the interrupts (RISC-V firmware without trap handlers).
	TotalOf string `json:"total_of,omitempty"`
	// Unknown says why the headroom is not known, in one short line.
	Unknown   string   `json:"unknown,omitempty"`
	Unbounded []string `json:"unbounded,omitempty"`
	// UnboundedReasons: for each entry that is not bounded, its first
	// reason with the function and the address.
	UnboundedReasons []string `json:"unbounded_reasons,omitempty"`
}

// TaskStack is a statically allocated stack (a data object named like a
// stack) and what its own overflow would corrupt.
type TaskStack struct {
	Name    string  `json:"name"`
	Addr    uint64  `json:"addr"`
	Size    uint64  `json:"size"`
	Section string  `json:"section"`
	Below   *Symbol `json:"below"` // the object just below it, or null
}

// Analyze reads the ELF file at path and works out its layout. Errors are
// *binfile.InputError for a file that cannot be read.
func Analyze(path string, opts Options) (*Report, error) {
	f, err := binfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return AnalyzeFile(f, opts), nil
}

// AnalyzeFile works out the layout of an opened file. It never fails: what
// it cannot find is listed in Report.Missing.
func AnalyzeFile(f *binfile.File, opts Options) (r *Report) {
	r = &Report{Binary: f.Path, Arch: f.Arch.String(), Regions: []Region{}, Segments: segments(f),
		OverflowInto: []Hit{}, FaultHandlers: []FaultHandler{}, EndlessLoops: []FaultHandler{},
		TaskStacks: []TaskStack{}, Missing: []string{}, Warnings: []string{}}
	defer func() {
		// The analysis must never crash the tool on a strange file.
		if p := recover(); p != nil {
			r.Verdict = ""
			r.VerdictReason = "internal error while reading the layout"
			r.Warnings = append(r.Warnings, fmt.Sprintf("internal error: %v", p))
		}
	}()
	secs := sections(f)
	riscv := riscvFirmware(f)
	if f.Arch != binfile.ArchThumb && !riscv {
		r.Regions = hostedRegions(secs)
		r.Kernel = "process stacks are guarded by the kernel: the stack grows down; the main thread's stack grows down toward a guard gap and each pthread stack has a guard page, so an overflow faults (SIGSEGV) instead of running into data; there is no linker-placed stack to check"
		r.VerdictReason = "no verdict: a hosted " + r.Arch + " program, not firmware"
		return r
	}
	syms := f.Symbols()
	vt := f.VectorTable()
	st := findStack(f, vt, syms, secs)
	r.Stack = st
	if riscv {
		r.NotChecked = riscvNotChecked
	} else if vt == nil {
		r.Missing = append(r.Missing, "vector table (no initial SP, no fault handlers)")
	}
	var misfits []Section
	if opts.Memory != nil {
		r.MemoryMap = opts.Memory
		r.RAMInference = "memory regions from " + opts.Memory.From
		r.Regions, misfits = mapRegions(opts.Memory, secs, st)
		useRegionForLimit(st, opts.Memory)
	} else {
		ram, flash, inference := inferMemory(secs, st)
		r.RAMInference = inference
		r.Regions = append(flash, ram...)
	}
	r.Heap = findHeap(f, syms, secs, st)
	if st == nil {
		if riscv {
			r.Missing = append(r.Missing, "main stack (the ELF entry does not set SP to a constant, la sp, SYMBOL, and no stack-top symbol: define _stack_top or __stack, or give the stack in [memory])")
		} else {
			r.Missing = append(r.Missing, "main stack (no initial SP from a vector table and no stack-top symbol)")
		}
		r.VerdictReason = "no verdict: the main stack was not found"
	} else {
		switch {
		case !st.LimitFound && riscv:
			// No made-up size: the overflow path still starts at the
			// nearest data below the top, but the size is not known.
			st.Size = 0
			r.Missing = append(r.Missing, riscvLimitMissing(st))
		case !st.LimitFound:
			r.Missing = append(r.Missing, "stack limit: no symbol or section names it ("+fmt.Sprint(len(st.Tried))+" names tried, listed under MAIN STACK); the limit is "+st.LimitFrom)
		}
		if problem := misfitProblem(opts.Memory, misfits); problem != "" {
			r.Verdict, r.VerdictReason = Unknown, problem
		} else {
			overflowPath(r, secs, opts.Memory, syms)
		}
	}
	if vt != nil {
		r.FaultHandlers, r.EndlessLoops = checkHandlers(f, vt)
	}
	r.TaskStacks = taskStacks(syms, secs, st)
	if st != nil && !opts.NoHeadroom {
		r.Headroom = headroom(f, st, opts)
	}
	return r
}

// Failing reports whether the layout is a finding: unsafe, not proved safe
// (unknown), or a stack that will overflow (exit status 1).
func (r *Report) Failing() bool {
	if r.Verdict == Unsafe || r.Verdict == Unknown {
		return true
	}
	if h := r.Headroom; h != nil {
		if h.Bytes != nil && *h.Bytes < 0 || h.WillOverflowBy > 0 {
			return true
		}
	}
	return false
}

func flagString(fl elf.SectionFlag) string {
	s := "r"
	if fl&elf.SHF_WRITE != 0 {
		s += "w"
	}
	if fl&elf.SHF_EXECINSTR != 0 {
		s += "x"
	}
	return s
}

// sections lists the allocated sections with a size, in address order.
func sections(f *binfile.File) []Section {
	var out []Section
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 || s.Flags&elf.SHF_TLS != 0 && s.Type == elf.SHT_NOBITS {
			continue
		}
		sec := Section{Name: s.Name, Addr: s.Addr, Size: s.Size, Flags: flagString(s.Flags)}
		switch {
		case s.Flags&elf.SHF_EXECINSTR != 0:
			sec.Kind = "code"
		case s.Flags&elf.SHF_WRITE == 0:
			sec.Kind = "rodata"
		case isStackSection(s.Name):
			sec.Kind = "stack"
		case isHeapSection(s.Name):
			sec.Kind = "heap"
		case s.Type == elf.SHT_NOBITS:
			sec.Kind = "bss"
		default:
			sec.Kind = "data"
		}
		for _, p := range f.ELF.Progs {
			if p.Type == elf.PT_LOAD && s.Type != elf.SHT_NOBITS && s.Addr >= p.Vaddr && s.Addr < p.Vaddr+p.Memsz && p.Paddr != p.Vaddr {
				sec.LoadAddr = s.Addr - p.Vaddr + p.Paddr
			}
		}
		out = append(out, sec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

func isStackSection(name string) bool {
	switch name {
	case ".stack", ".stack_dummy", ".stacks", ".main_stack", ".cstack", "CSTACK", ".co_stack":
		return true
	}
	return false
}

func isHeapSection(name string) bool {
	switch name {
	case ".heap", "._user_heap_stack", "HEAP", ".heap_dummy":
		return true
	}
	return false
}

func writable(s Section) bool { return strings.Contains(s.Flags, "w") }

func segments(f *binfile.File) []Segment {
	out := []Segment{}
	for _, p := range f.ELF.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		fl := ""
		for _, c := range []struct {
			bit elf.ProgFlag
			ch  string
		}{{elf.PF_R, "r"}, {elf.PF_W, "w"}, {elf.PF_X, "x"}} {
			if p.Flags&c.bit != 0 {
				fl += c.ch
			} else {
				fl += "-"
			}
		}
		seg := Segment{VAddr: p.Vaddr, PAddr: p.Paddr, FileSize: p.Filesz, MemSize: p.Memsz, Flags: fl, Sections: []string{}}
		for _, s := range f.ELF.Sections {
			if s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 && s.Addr >= p.Vaddr && s.Addr+s.Size <= p.Vaddr+p.Memsz {
				seg.Sections = append(seg.Sections, s.Name)
			}
		}
		out = append(out, seg)
	}
	return out
}

// hostedRegions groups a program's sections into one region per kind, for
// the memory map of a hosted program.
func hostedRegions(secs []Section) []Region {
	var ro, rw []Section
	for _, s := range secs {
		if writable(s) {
			rw = append(rw, s)
		} else {
			ro = append(ro, s)
		}
	}
	var out []Region
	for _, g := range []struct {
		kind string
		s    []Section
	}{{"image (read-only)", ro}, {"image (writable)", rw}} {
		if len(g.s) > 0 {
			out = append(out, Region{Kind: g.kind, Start: g.s[0].Addr, End: maxEnd(g.s), Sections: g.s})
		}
	}
	return out
}

func maxEnd(s []Section) uint64 {
	var e uint64
	for _, x := range s {
		e = max(e, x.End())
	}
	return e
}

func symName(s elf.Symbol) string { return s.Name }

// lookupSym returns the first defined symbol with this name.
func lookupSym(syms []elf.Symbol, name string) (elf.Symbol, bool) {
	for _, s := range syms {
		if s.Name == name && s.Section != elf.SHN_UNDEF {
			return s, true
		}
	}
	return elf.Symbol{}, false
}

// riscvFirmware says whether f is a RISC-V image for bare metal: an
// executable without a program interpreter.
func riscvFirmware(f *binfile.File) bool {
	return f.Arch.IsRISCV() && f.Type == elf.ET_EXEC && f.ELF.Section(".interp") == nil
}

// riscvNotChecked says which Cortex-M checks a RISC-V report leaves out.
var riscvNotChecked = []string{
	"fault handlers: not checked on RISC-V (whether the trap handler survives an overflow, i.e. does not use the overflowed SP, is not analysed)",
	"stack guard: not checked on RISC-V (no PMP region or stack-limit register at the stack limit is looked for; Cortex-M's MSPLIM and MPU checks do not apply)",
}

// riscvLimitMissing says that a RISC-V image's stack limit is not known,
// and what would give it.
func riscvLimitMissing(st *Stack) string {
	return fmt.Sprintf("stack limit and size: no symbol or section names them (%d names tried, listed under MAIN STACK); "+
		"fix: define __stack_size (the size) or __StackLimit (the low end) in the linker script, or give the memory map "+
		"(--ld, or [memory] in stackscope.toml) with the stack in a region of its own; the overflow path below starts at %s",
		len(st.Tried), st.LimitFrom)
}
