package layout

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/size"
)

// Conventional linker-script names, from vendor and toolchain startup files
// (GNU ld scripts of ST, NXP, Nordic, CMSIS, newlib, cortex-m-rt; IAR).
var (
	// Symbols that may mark the low end (limit) of the main stack. A
	// symbol is taken as the limit only when it lies below the initial SP:
	// _stack_start is the top in cortex-m-rt but the limit elsewhere.
	stackLimitNames = []string{"__stack_start__", "_sstack", "__StackLimit", "_stack_start", "__main_stack_start",
		"__stack_limit", "_stack_limit", "__stack_bottom", "_stack_bottom", "__main_stack_limit", "CSTACK$$Base",
		"_stack_end", "__stack", "__stack_base", "__StackBottom", "metal_segment_stack_begin"}
	// Symbols that may mark the top of the main stack (the initial SP).
	stackTopNames = []string{"_estack", "__stack_end__", "__StackTop", "__stack", "_stack_end", "_stack_start",
		"__stack_top", "_stack_top", "__initial_sp", "__main_stack_end", "CSTACK$$Limit", "_eram", "__StackTop__",
		// RISC-V: SiFive's freedom-metal and Nuclei/GD32V SDK scripts.
		"_sp", "metal_segment_stack_end"}
	// Absolute symbols that hold the main stack's size.
	stackSizeNames = []string{"_Min_Stack_Size", "__stack_size__", "__STACK_SIZE", "_stack_size", "__stack_size",
		"STACK_SIZE", "_Stack_Size", "__Stack_Size", "__main_stack_size__", "__MSP_STACK_SIZE"}
	heapStartNames = []string{"__heap_start__", "__HeapBase", "_heap_start", "_sheap", "__heap_base", "__heap_start",
		"_heap_bottom", "__end__", "_end", "end"}
	heapEndNames = []string{"__heap_end__", "__HeapLimit", "_heap_end", "_eheap", "__heap_limit", "__heap_end", "_heap_top"}
)

// maxStack bounds how far below the top a limit symbol may lie.
const maxStack = 16 << 20

func grows(arch string) string { return "down" } // Cortex-M and x86-64 both have descending stacks

// findStack locates the main stack: its top from the initial SP, its limit
// from linker symbols, a stack section, a data object that ends at the top
// (a static stack array), or else the nearest section below the top.
func findStack(f *binfile.File, vt *binfile.VectorTable, syms []elf.Symbol, secs []Section) *Stack {
	st := &Stack{Grows: grows(f.Arch.String())}
	switch {
	case riscvFirmware(f):
		st.Top, st.TopFrom = riscvEntryTop(f, syms)
	case vt != nil && vt.InitialSP != 0:
		st.Top = vt.InitialSP
		st.TopFrom = fmt.Sprintf("initial SP (word 0 of the vector table in %s)", vt.Section)
		for _, n := range stackTopNames {
			if s, ok := lookupSym(syms, n); ok && s.Value == st.Top {
				st.TopFrom += " = " + n
				break
			}
		}
	}
	if st.Top == 0 {
		why := "(no vector table)"
		if riscvFirmware(f) {
			why = "(the ELF entry does not set SP to a constant)"
		}
		for _, n := range stackTopNames {
			if s, ok := lookupSym(syms, n); ok && s.Value != 0 && s.Section != elf.SHN_UNDEF {
				st.Top, st.TopFrom = s.Value, "symbol "+n+" "+why
				break
			}
		}
	}
	if st.Top == 0 {
		return nil
	}
	top := st.Top
	setLimit := func(limit uint64, from string) {
		st.Limit, st.LimitFrom, st.LimitFound = limit, from, true
	}
	for _, n := range stackLimitNames {
		if s, ok := lookupSym(syms, n); ok && s.Value < top && top-s.Value <= maxStack {
			setLimit(s.Value, "symbol "+n)
			break
		}
	}
	if !st.LimitFound {
		for _, s := range secs {
			if s.Kind == "stack" && s.Addr < top && s.End() >= top {
				setLimit(s.Addr, "start of section "+s.Name)
				break
			}
		}
	}
	if !st.LimitFound {
		for _, n := range stackSizeNames {
			if s, ok := lookupSym(syms, n); ok && s.Value > 0 && s.Value <= maxStack && s.Value < top {
				setLimit(top-s.Value, fmt.Sprintf("initial SP - %s (%d)", n, s.Value))
				break
			}
		}
	}
	if !st.LimitFound {
		for _, s := range secs {
			if s.Kind == "stack" && s.Size < top {
				setLimit(top-s.Size, fmt.Sprintf("initial SP - size of section %s (%d)", s.Name, s.Size))
				break
			}
		}
	}
	if !st.LimitFound {
		// A static array the vector table's word 0 points just past: the
		// main stack of many RTOS demos and hand-written startups.
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size >= 32 && s.Value < top && s.Value+s.Size == top {
				setLimit(s.Value, "data object "+s.Name+" (the initial SP is its end)")
				break
			}
		}
	}
	for _, s := range secs {
		if s.Addr < top && s.End() >= top && writable(s) {
			st.Section = s.Name
		}
	}
	if !st.LimitFound {
		for _, n := range stackLimitNames {
			st.Tried = append(st.Tried, n)
		}
		st.Tried = append(st.Tried, stackSizeNames...)
		st.Tried = append(st.Tried, "sections .stack/.stack_dummy", "a data object ending at the initial SP")
		// Use the nearest writable section below the top.
		var best *Section
		for i := range secs {
			s := &secs[i]
			if !writable(*s) {
				continue
			}
			if s.Addr < top && s.End() >= top { // the top is inside a section
				best = nil
				st.Limit, st.LimitFrom = s.Addr, "start of "+s.Name+", the section that holds the initial SP (no stack-limit symbol found)"
				break
			}
			if s.End() <= top && (best == nil || s.End() > best.End()) {
				best = s
			}
		}
		if best != nil {
			st.Limit, st.LimitFrom = best.End(), "end of "+best.Name+", the nearest section below the initial SP (no stack-limit symbol found)"
		}
		if st.Limit == 0 {
			st.Limit, st.LimitFrom = top, "unknown (no stack-limit symbol and no RAM section below the initial SP)"
		}
	}
	st.Size = top - st.Limit
	return st
}

// findHeap locates the heap: a heap section, or heap symbols.
func findHeap(f *binfile.File, syms []elf.Symbol, secs []Section, st *Stack) *Heap {
	used := false
	for _, n := range []string{"malloc", "_malloc_r", "_sbrk", "_sbrk_r", "sbrk", "calloc"} {
		if _, ok := f.Lookup(n); ok {
			used = true
		}
	}
	var start, end uint64
	var from string
	for _, n := range heapStartNames {
		if s, ok := lookupSym(syms, n); ok && s.Value != 0 {
			start, from = s.Value, "symbol "+n
			break
		}
	}
	for _, n := range heapEndNames {
		if s, ok := lookupSym(syms, n); ok && s.Value > start && start != 0 {
			end, from = s.Value, from+" to "+n
			break
		}
	}
	if start != 0 && end == 0 && used && st != nil && st.Limit > start {
		// newlib's _sbrk (and CubeMX's, up to _estack - _Min_Stack_Size)
		// grows the heap from `end` up to the stack: a heap section is only
		// the reserved minimum.
		return &Heap{Start: start, End: st.Limit, From: from + " up to the stack limit (sbrk grows toward the stack)", Used: true}
	}
	for _, s := range secs {
		if s.Kind == "heap" && (start == 0 || start >= s.Addr && start <= s.End()) {
			if st != nil && s.Addr <= st.Limit && s.End() >= st.Top {
				continue // the stack lives in it
			}
			if start == 0 || end == 0 {
				start, end, from = s.Addr, s.End(), "section "+s.Name
			}
			break
		}
	}
	if start == 0 {
		return nil
	}
	if end == 0 {
		if st == nil || st.Limit <= start {
			return nil
		}
		// newlib's _sbrk grows the heap from `end` up to the stack.
		end, from = st.Limit, from+" up to the stack limit (sbrk grows toward the stack)"
	}
	if end <= start {
		return nil
	}
	return &Heap{Start: start, End: end, From: from, Used: used}
}

// overflowPath fills OverflowInto and the verdict: walk down from the
// stack limit through RAM, to the floor the memory map proves or, without
// one, to the lowest writable section near the stack.
func overflowPath(r *Report, secs []Section, m *MemoryMap, syms []elf.Symbol) {
	st := r.Stack
	var fl floor
	if m != nil {
		fl = mapFloor(m, st, secs)
		if fl.problem != "" {
			r.Verdict, r.VerdictReason = Unknown, fl.problem
			return
		}
	} else {
		reg := regionHolding(r.Regions, st.Top)
		if reg == nil {
			r.VerdictReason = "no verdict: the initial SP is not in RAM"
			return
		}
		fl.addr = reg.Start
	}
	secs = withoutReservation(st, secs, syms)
	r.OverflowInto = walkDown(st.Limit, fl.addr, secs, r.Heap, syms, m == nil)
	judge(r, m, fl)
}

// regionHolding is the RAM region the initial SP lies in (or just past).
func regionHolding(regions []Region, top uint64) *Region {
	for i := range regions {
		if regions[i].Kind == "ram" && top > regions[i].Start && top <= regions[i].End {
			return &regions[i]
		}
	}
	return nil
}

// walkDown lists what lies in [floor, limit), from the limit down: the
// writable sections and the unused memory between them (assumed to be RAM
// when no memory map says so).
func walkDown(limit, floor uint64, secs []Section, heap *Heap, syms []elf.Symbol, assumed bool) []Hit {
	var below []Section
	for _, s := range secs {
		if !writable(s) || s.Addr >= limit || s.End() <= floor {
			continue
		}
		if s.End() > limit {
			s.Size = limit - s.Addr
		}
		below = append(below, s)
	}
	sort.SliceStable(below, func(i, j int) bool { return below[i].End() > below[j].End() })
	cursor := limit
	hits := []Hit{}
	gap := func(a, b uint64) {
		for _, h := range gapHits(a, b, heap) {
			h.Assumed = assumed
			hits = append(hits, h)
		}
	}
	for _, s := range below {
		if s.End() < cursor {
			gap(s.End(), cursor)
		}
		end := min(cursor, s.End())
		if end > s.Addr {
			h := Hit{Section: s.Name, Kind: s.Kind, Start: s.Addr, End: end, Size: end - s.Addr}
			h.SymbolDetail = dataSymbols(syms, s.Addr, end)
			hits = append(hits, h)
		}
		cursor = min(cursor, s.Addr)
	}
	if !assumed && cursor > floor {
		gap(floor, cursor) // RAM by the memory map, down to its floor
	}
	for i := range hits {
		if hits[i].SymbolDetail == nil {
			hits[i].SymbolDetail = []Symbol{}
		}
		hits[i].Symbols = []string{}
		for _, s := range hits[i].SymbolDetail {
			hits[i].Symbols = append(hits[i].Symbols, s.Name)
		}
	}
	return hits
}

// judge gives the verdict from the overflow path. SAFE needs the memory
// map: the path is empty and no writable region ends at the stack limit.
func judge(r *Report, m *MemoryMap, fl floor) {
	hits := r.OverflowInto
	switch {
	case len(hits) > 0:
		r.Verdict, r.VerdictReason = Unsafe, unsafeReason(r, fl)
	case m == nil:
		r.Verdict = Unknown
		r.VerdictReason = "nothing the image places in RAM lies below the stack limit, but without the memory map nothing proves there is no RAM below it: give the memory map (--ld FILE.ld, or [memory] in stackscope.toml)"
	case fl.unknown != nil:
		r.Verdict = Unknown
		r.VerdictReason = fmt.Sprintf("the stack is at the start of region %s, but region %s ends there and its attributes (%q) do not say whether it is writable: mark it (rx) or (rw) in the memory map (%s)",
			fl.home.Name, fl.unknown.Name, fl.unknown.Attributes, m.From)
	default:
		r.Verdict, r.OverflowEnd = Safe, "start of RAM"
		r.VerdictReason = fmt.Sprintf("the stack is at the start of region %s (ORIGIN %#x, %s) and no writable region ends there: an overflow runs off the start of RAM instead of corrupting data",
			fl.home.Name, fl.home.Origin, m.From)
	}
}

// unsafeReason says what an overflow runs through and what it corrupts.
func unsafeReason(r *Report, fl floor) string {
	hits := r.OverflowInto
	// Stretches that hold nothing (unused RAM, a heap the image never
	// allocates from) are passed through silently.
	var quiet []string
	i := 0
	for ; i < len(hits); i++ {
		h := hits[i]
		if h.Kind == "unused" {
			q := bytesText(h.Size) + " of unused RAM"
			if h.Assumed {
				q += " (assumed RAM: no memory map given)"
			}
			quiet = append(quiet, q)
		} else if h.Kind == "heap" && r.Heap != nil && !r.Heap.Used && len(h.SymbolDetail) == 0 {
			quiet = append(quiet, fmt.Sprintf("the %s heap reservation (%s)", bytesText(h.Size), h.Section))
		} else {
			break
		}
	}
	var b strings.Builder
	b.WriteString("an overflow of the main stack ")
	if len(quiet) > 0 {
		fmt.Fprintf(&b, "runs silently through %s, then ", strings.Join(quiet, " and "))
	}
	switch {
	case i < len(hits):
		h := hits[i]
		fmt.Fprintf(&b, "corrupts %s", hitName(h))
		if len(h.SymbolDetail) > 0 {
			fmt.Fprintf(&b, " (%s first)", h.SymbolDetail[0].Name)
		}
	case fl.unknown != nil:
		fmt.Fprintf(&b, "reaches region %s, which may be writable", fl.unknown.Name)
	default:
		b.WriteString("reaches the start of RAM")
	}
	return b.String()
}

func hitName(h Hit) string {
	switch h.Kind {
	case "unused":
		return "unused RAM"
	case "heap":
		if strings.HasPrefix(h.Section, "(") {
			return "the heap"
		}
		return "the heap (" + h.Section + ")"
	}
	return h.Section
}

// gapHits is the unused RAM [a, b), split where the heap covers it.
func gapHits(a, b uint64, heap *Heap) []Hit {
	mk := func(x, y uint64, kind, name string) Hit {
		return Hit{Section: name, Kind: kind, Start: x, End: y, Size: y - x, Symbols: []string{}, SymbolDetail: []Symbol{}}
	}
	if heap == nil || !heap.Used || heap.End <= a || heap.Start >= b {
		return []Hit{mk(a, b, "unused", "(unused RAM)")}
	}
	hs, he := max(a, heap.Start), min(b, heap.End)
	var out []Hit // from the top down
	if he < b {
		out = append(out, mk(he, b, "unused", "(unused RAM)"))
	}
	out = append(out, mk(hs, he, "heap", "(heap)"))
	if hs > a {
		out = append(out, mk(a, hs, "unused", "(unused RAM)"))
	}
	return out
}

// dataSymbols lists the data objects in [a, b), highest address first (the
// order an overflow of a descending stack reaches them).
func dataSymbols(syms []elf.Symbol, a, b uint64) []Symbol {
	var out []Symbol
	seen := map[uint64]bool{}
	for _, s := range syms {
		if !isDataSymbol(s) || s.Value < a || s.Value >= b {
			continue
		}
		if seen[s.Value] {
			continue
		}
		seen[s.Value] = true
		out = append(out, Symbol{Name: s.Name, Addr: s.Value, Size: s.Size})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr > out[j].Addr })
	return out
}

func isDataSymbol(s elf.Symbol) bool {
	if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS || s.Name == "" || strings.HasPrefix(s.Name, "$") {
		return false
	}
	switch elf.ST_TYPE(s.Info) {
	case elf.STT_OBJECT, elf.STT_TLS:
		return true
	case elf.STT_NOTYPE:
		return s.Size > 0
	}
	return false
}

// taskStacks finds statically allocated stacks: data objects named like a
// stack, in writable sections, and the object just below each one (what its
// own overflow corrupts first).
func taskStacks(syms []elf.Symbol, secs []Section, st *Stack) []TaskStack {
	out := []TaskStack{}
	var objs []elf.Symbol
	for _, s := range syms {
		if isDataSymbol(s) && s.Size > 0 {
			objs = append(objs, s)
		}
	}
	inWritable := func(addr uint64) string {
		for _, s := range secs {
			if writable(s) && addr >= s.Addr && addr < s.End() {
				return s.Name
			}
		}
		return ""
	}
	seen := map[uint64]bool{}
	for _, s := range objs {
		if s.Size < 64 || !strings.Contains(strings.ToLower(s.Name), "stack") || seen[s.Value] {
			continue
		}
		sec := inWritable(s.Value)
		if sec == "" {
			continue
		}
		if st != nil && s.Value == st.Limit && s.Value+s.Size == st.Top {
			continue // the main stack itself
		}
		seen[s.Value] = true
		ts := TaskStack{Name: s.Name, Addr: s.Value, Size: s.Size, Section: sec}
		for _, o := range objs {
			if o.Value+o.Size <= s.Value && inWritable(o.Value) != "" && (ts.Below == nil || o.Value > ts.Below.Addr) {
				ts.Below = &Symbol{Name: o.Name, Addr: o.Value, Size: o.Size}
			}
		}
		out = append(out, ts)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// headroom is the stack size minus the analysed main-stack total.
func headroom(f *binfile.File, st *Stack, opts Options) *Headroom {
	h := &Headroom{StackSize: int64(st.Size)}
	if st.Size == 0 {
		h.Unknown = "the stack size is not known (no stack limit)"
		if riscvFirmware(f) {
			h.Unknown = "the stack size is not known (no stack-limit or stack-size symbol: see NOT FOUND)"
		}
		return h
	}
	res, err := opts.Result, error(nil)
	if res == nil {
		res, err = analysis.RunFile(f, opts.Analysis)
	}
	if err != nil {
		h.Unknown = "the stack analysis failed: " + err.Error()
		return h
	}
	in := res.Interrupts
	if in == nil && riscvFirmware(f) {
		return riscvResetHeadroom(f, res, h)
	}
	if in == nil {
		h.Unknown = "no vector table: the main-stack total is not known"
		return h
	}
	h.TotalAtLeast = in.TotalAtLeast
	h.Unbounded = in.Unbounded
	if !in.Bounded || in.Total == nil {
		h.Unknown = "the worst case is not bounded"
		var why []string
		for _, e := range res.Entries {
			if !e.Bounded && len(e.Reasons) > 0 {
				rs := e.Reasons[0]
				w := fmt.Sprintf("%s: %s in %s at %#x", e.Name, rs.Kind, rs.Function, rs.Addr)
				if rs.Detail != "" {
					w += " (" + rs.Detail + ")"
				}
				why = append(why, w)
			}
		}
		if len(why) == 0 {
			why = in.Unbounded
		}
		h.UnboundedReasons = why
		if len(why) > 0 {
			h.Unknown += fmt.Sprintf(" (%d %s not bounded)", len(why), plural(len(why), "entry", "entries"))
		}
		if in.TotalAtLeast > h.StackSize {
			h.WillOverflowBy = in.TotalAtLeast - h.StackSize
		}
		return h
	}
	return h.withTotal(*in.Total)
}

// withTotal sets h's bounded total need and the room it leaves, in bytes
// and as a share of the stack.
func (h *Headroom) withTotal(t int64) *Headroom {
	h.Total = &t
	b := h.StackSize - t
	pc := float64(b) * 100 / float64(h.StackSize)
	h.Bytes, h.Percent = &b, &pc
	return h
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// bytesText writes a size in the one text style (size.Format).
func bytesText(n uint64) string { return size.Format(int64(n)) }

// riscvEntryTop is the top of a RISC-V firmware's main stack: the
// constant its ELF entry first sets SP to (la sp, __stack), which is what
// the analysis takes as the top too (0 when the entry shows none).
func riscvEntryTop(f *binfile.File, syms []elf.Symbol) (uint64, string) {
	dec, _ := analysis.DecoderFor(f.Arch)
	top := callgraph.EntryStackTop(f, dec)
	if top == 0 {
		return 0, ""
	}
	where := fmt.Sprintf("%#x", f.Entry)
	if fn, ok := f.FunctionAt(f.Entry); ok {
		where = fmt.Sprintf("%s at %#x", fn.Name(), f.Entry)
	}
	from := "SP set by the reset code (the ELF entry, " + where + ")"
	for _, n := range stackTopNames {
		if s, ok := lookupSym(syms, n); ok && s.Value == top {
			from += " = " + n
			break
		}
	}
	return top, from
}

// riscvResetHeadroom is the headroom of a RISC-V image without trap
// handlers (the analysis found no mret and no write of mtvec): the
// main-stack total is the ELF entry's path alone.
func riscvResetHeadroom(f *binfile.File, res *analysis.Result, h *Headroom) *Headroom {
	fn, ok := f.FunctionAt(f.Entry)
	if !ok {
		h.Unknown = fmt.Sprintf("no function at the ELF entry %#x: the reset path is not known", f.Entry)
		return h
	}
	for _, e := range res.Entries {
		if e.Name != fn.Name() {
			continue
		}
		h.TotalOf = "reset path from " + fn.Name() + " only: no trap handler found"
		h.TotalAtLeast = e.AtLeast
		if !e.Bounded || e.Bound == nil {
			h.Unknown = "the worst case is not bounded (1 entry not bounded)"
			h.Unbounded = []string{e.Name}
			if len(e.Reasons) > 0 {
				rs := e.Reasons[0]
				w := fmt.Sprintf("%s: %s in %s at %#x", e.Name, rs.Kind, rs.Function, rs.Addr)
				if rs.Detail != "" {
					w += " (" + rs.Detail + ")"
				}
				h.UnboundedReasons = []string{w}
			}
			if e.AtLeast > h.StackSize {
				h.WillOverflowBy = e.AtLeast - h.StackSize
			}
			return h
		}
		return h.withTotal(*e.Bound)
	}
	h.Unknown = "the analysis has no entry for " + fn.Name() + ", the ELF entry"
	return h
}

// withoutReservation drops from secs a stack section that only reserves
// the stack's size somewhere else than where the stack is: picolibc's
// picolibc.ld ends .bss with `.stack (NOLOAD) : { . += __stack_size; }`
// so that the link fails when RAM is too small, while SP starts at the
// top of RAM (__stack). Nothing lives in it (no symbol; the heap may hand
// it out, which gapHits then shows), so an overflow reaching it corrupts
// nothing there. Stack.Reservation names it.
func withoutReservation(st *Stack, secs []Section, syms []elf.Symbol) []Section {
	if st.Size == 0 {
		return secs
	}
	out := secs[:0:0]
	for _, s := range secs {
		if s.Kind == "stack" && s.Size == st.Size && s.End() < st.Top && s.Name != st.Section && len(dataSymbols(syms, s.Addr, s.End())) == 0 {
			st.Reservation = fmt.Sprintf("section %s (%s at %#x) only reserves the stack's size: the stack itself lies below %#x", s.Name, bytesText(s.Size), s.Addr, st.Top)
			continue
		}
		out = append(out, s)
	}
	return out
}
