package report

import (
	"encoding/json"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/stackscope/stackscope/internal/layout"
)

// layoutJSON adds the contract's top-level "verdict" and "headroom" (bytes
// or null) to the layout model.
type layoutJSON struct {
	Kind string `json:"kind"` // KindLayout
	*layout.Report
	Verdict  *string `json:"verdict"`
	Headroom *int64  `json:"headroom"`
}

// LayoutJSON writes the layout report as JSON.
func LayoutJSON(w io.Writer, r *layout.Report) error {
	out := layoutJSON{Kind: KindLayout, Report: r}
	if r.Verdict != "" {
		v := r.Verdict
		out.Verdict = &v
	}
	if r.Headroom != nil {
		out.Headroom = r.Headroom.Bytes
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func hex(a uint64) string { return fmt.Sprintf("%#08x", a) }

func span(a, b uint64) string { return hex(a) + "–" + hex(b) }

// symList names the first n symbols with their sizes.
func symList(s []layout.Symbol, n int) string {
	var parts []string
	for i, x := range s {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(s)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", x.Name, Bytes(int64(x.Size))))
	}
	return strings.Join(parts, ", ")
}

// LayoutText writes the report a person reads: the verdict first, then the
// stack, the headroom, the overflow path, the fix, the fault handlers, and
// the memory map.
func LayoutText(w io.Writer, r *layout.Report) {
	switch r.Verdict {
	case layout.Safe:
		fmt.Fprintf(w, "%s: SAFE: %s\n", r.Binary, r.VerdictReason)
	case layout.Unsafe:
		fmt.Fprintf(w, "%s: UNSAFE: %s\n", r.Binary, r.VerdictReason)
	case layout.Unknown:
		fmt.Fprintf(w, "%s: UNKNOWN: %s\n", r.Binary, r.VerdictReason)
	default:
		fmt.Fprintf(w, "%s (%s): %s\n", r.Binary, r.Arch, r.VerdictReason)
	}
	if r.Kernel != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(r.Kernel, 78, ""))
		segmentsText(w, r)
		warnings(w, r)
		return
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "\nNOT FOUND (partial report)\n")
		for _, m := range r.Missing {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	if st := r.Stack; st != nil {
		stackSize := Bytes(int64(st.Size))
		if st.Size == 0 && !st.LimitFound {
			stackSize = "size not known"
		}
		fmt.Fprintf(w, "\nMAIN STACK  %s  %s, grows %s (toward lower addresses)\n", span(st.Limit, st.Top), stackSize, st.Grows)
		fmt.Fprintf(w, "  top    %s  %s\n", hex(st.Top), st.TopFrom)
		fmt.Fprintf(w, "  limit  %s  %s\n", hex(st.Limit), st.LimitFrom)
		if st.Reservation != "" {
			fmt.Fprintf(w, "%s\n", wrap("  note   "+st.Reservation, 78, "         "))
		}
		if len(st.Tried) > 0 {
			fmt.Fprintf(w, "%s\n", wrap("  tried  "+strings.Join(st.Tried, ", "), 78, "         "))
		}
	}
	if h := r.Heap; h != nil {
		used := ""
		if !h.Used {
			used = " (no malloc/_sbrk in the image: reserved, holds nothing)"
		}
		fmt.Fprintf(w, "HEAP        %s  %s, %s%s\n", span(h.Start, h.End), Bytes(int64(h.End-h.Start)), h.From, used)
	}
	if h := r.Headroom; h != nil {
		for i, line := range headroomLines(h) {
			label := "HEADROOM"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(w, "%-12s%s\n", label, line)
		}
	}
	if r.Stack != nil && r.Verdict != "" {
		overflowText(w, r)
	}
	if r.Verdict == layout.Unsafe && len(r.NotChecked) > 0 {
		riscvFixText(w)
		if r.MemoryMap == nil {
			fmt.Fprint(w, "  Then prove it: only the memory map (--ld FILE.ld, or [memory] in stackscope.toml)\n  can show that no RAM lies below the stack.\n")
		}
	} else if r.Verdict == layout.Unsafe {
		fixText(w)
		if r.MemoryMap == nil {
			fmt.Fprint(w, "  Then prove it: only the memory map (--ld FILE.ld, or [memory] in stackscope.toml)\n  can show that no RAM lies below the stack.\n")
		}
	}
	if r.Verdict == layout.Unknown && r.MemoryMap == nil {
		fmt.Fprint(w, "\nPROVE IT  give the memory map: stackscope layout --ld FILE.ld (the linker script with the\n          MEMORY block), or [memory] in stackscope.toml (docs/layout.md)\n")
	}
	handlersText(w, r)
	notCheckedText(w, r)
	if len(r.TaskStacks) > 0 {
		fmt.Fprintf(w, "\nSTATIC STACKS (task stacks in RAM: an overflow of one corrupts what lies below it)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range r.TaskStacks {
			below := "the start of RAM"
			if t.Below != nil {
				below = fmt.Sprintf("%s (%s) at %s", t.Below.Name, Bytes(int64(t.Below.Size)), hex(t.Below.Addr))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\toverflows into %s\n", t.Name, span(t.Addr, t.Addr+t.Size), Bytes(int64(t.Size)), t.Section, below)
		}
		tw.Flush()
	}
	mapText(w, r)
	warnings(w, r)
}

func warnings(w io.Writer, r *layout.Report) {
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

// maxHeadroomReasons is how many unbounded entries the text names; the
// JSON (headroom_detail.unbounded_reasons) has them all.
const maxHeadroomReasons = 3

// headroomLines are the headroom in short lines: the number or why it is
// unknown, what is known of the worst case, and the first few reasons.
func headroomLines(h *layout.Headroom) []string {
	if h.Bytes != nil {
		// The room and the stack are capacities: rounded down (size.FormatCapacity).
		of := "reset path + interrupts"
		if h.TotalOf != "" {
			of = h.TotalOf
		}
		s := fmt.Sprintf("%s (%.1f%%) = stack %s - worst case %s (%s, as analyze computes it)",
			size.FormatCapacity(*h.Bytes), math.Floor(*h.Percent*10)/10, size.FormatCapacity(h.StackSize), Bytes(*h.Total), of)
		if *h.Bytes < 0 {
			return []string{"NEGATIVE: the stack WILL overflow by " + Bytes(-*h.Bytes), s}
		}
		return []string{s}
	}
	lines := []string{"unknown: " + h.Unknown}
	if h.TotalAtLeast > 0 {
		if h.WillOverflowBy > 0 {
			lines = append(lines, fmt.Sprintf("the worst case is at least %s: the %s stack WILL overflow by at least %s", Bytes(h.TotalAtLeast), Bytes(h.StackSize), Bytes(h.WillOverflowBy)))
		} else {
			lines = append(lines, fmt.Sprintf("the worst case is at least %s of the %s stack", Bytes(h.TotalAtLeast), Bytes(h.StackSize)))
		}
	}
	for i, why := range h.UnboundedReasons {
		if i == maxHeadroomReasons {
			lines = append(lines, fmt.Sprintf("  and %d more (all in --format json, headroom_detail.unbounded_reasons)", len(h.UnboundedReasons)-i))
			break
		}
		lines = append(lines, strings.Split(wrap("  "+why, 78, "    "), "\n")...)
	}
	return lines
}

// headroomText is the headroom on one line (the picture's footer).
func headroomText(h *layout.Headroom) string {
	lines := headroomLines(h)
	return strings.Join(lines[:min(2, len(lines))], "; ")
}

func overflowText(w io.Writer, r *layout.Report) {
	st := r.Stack
	fmt.Fprintf(w, "\nOVERFLOW PATH (from the stack limit %s down)\n", hex(st.Limit))
	if len(r.OverflowInto) == 0 {
		if r.Verdict == layout.Safe {
			fmt.Fprintf(w, "  %s  start of RAM: the memory map has no writable memory below it, so the first push past the limit\n  faults instead of corrupting data\n", hex(st.Limit))
		} else {
			fmt.Fprintf(w, "  %s  nothing the image places lies below it; whether RAM does is not proved\n", hex(st.Limit))
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, h := range r.OverflowInto {
		desc := h.Section
		switch h.Kind {
		case "unused":
			desc = "unused RAM: no fault here, the overflow runs through it silently"
			if h.Assumed {
				desc = "unused, assumed RAM (no memory map): the overflow runs through it silently"
			}
		case "heap":
			desc = "heap"
			if !strings.HasPrefix(h.Section, "(") {
				desc = h.Section + " (heap)"
			}
		}
		if len(h.SymbolDetail) > 0 {
			desc += ": " + symList(h.SymbolDetail, 4)
		}
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\n", i+1, span(h.Start, h.End), rightBytes(h.Size), desc)
	}
	tw.Flush()
	if first, ok := firstSymbols(r.OverflowInto); ok {
		fmt.Fprintf(w, "  %s\n", first)
	}
}

func rightBytes(n uint64) string { return fmt.Sprintf("%10s", Bytes(int64(n))) }

// firstSymbols is the sentence naming the first objects an overflow hits:
// "the first 16 bytes past the stack limit hold ticks (4 B), ... in .bss".
func firstSymbols(hits []layout.Hit) (string, bool) {
	var skipped uint64
	for _, h := range hits {
		if len(h.SymbolDetail) == 0 {
			skipped += h.Size
			continue
		}
		n := min(3, len(h.SymbolDetail))
		low := h.SymbolDetail[n-1].Addr
		if skipped > 0 {
			return fmt.Sprintf("the first data it reaches, %s below the limit, is %s in %s", Bytes(int64(skipped+h.End-h.SymbolDetail[0].Addr-h.SymbolDetail[0].Size)), symList(h.SymbolDetail[:n], n), h.Section), true
		}
		return fmt.Sprintf("the first %s past the stack limit hold %s in %s", Bytes(int64(h.End-low)), symList(h.SymbolDetail[:n], n), h.Section), true
	}
	return "", false
}

func fixText(w io.Writer) {
	fmt.Fprint(w, `
FIX  put the stack first in RAM: an overflow then runs off the start of RAM and
     faults at once (HardFault) instead of corrupting data.
  GNU ld: place the stack section before .data and .bss, and use its end as
          word 0 of the vector table:
            SECTIONS {
              .isr_vector : { KEEP(*(.isr_vector)) } > FLASH
              .text       : { *(.text*) *(.rodata*) } > FLASH
              .stack (NOLOAD) : {
                  . = ALIGN(8);
                  __stack_start__ = .;
                  . = . + STACK_SIZE;
                  . = ALIGN(8);
                  __stack_end__ = .;      /* initial SP */
              } > RAM                     /* first in RAM */
              .data : { *(.data*) } > RAM AT > FLASH
              .bss  : { *(.bss*) *(COMMON) } > RAM
              .heap : { ... } > RAM
            }
  IAR:    place at start of RAM_region { block CSTACK };
          place in RAM_region { readwrite, block HEAP };
`)
}

func handlersText(w io.Writer, r *layout.Report) {
	if len(r.FaultHandlers) == 0 && len(r.EndlessLoops) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFAULT HANDLERS\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	needNaked := false
	for _, h := range r.FaultHandlers {
		var notes []string
		switch {
		case h.UsesStackBeforeSPCheck:
			notes = append(notes, fmt.Sprintf("USES THE STACK before checking SP (%s at %s)", h.FirstStackUse.What, hex(h.FirstStackUse.Addr)))
			needNaked = true
		case h.SPCheck != nil:
			notes = append(notes, fmt.Sprintf("checks SP first (%s at %s)", h.SPCheck.What, hex(h.SPCheck.Addr)))
		default:
			notes = append(notes, "does not touch the stack")
		}
		if h.EndlessLoop {
			notes = append(notes, "ENDLESS LOOP")
		}
		if h.RequestsReset {
			notes = append(notes, "requests a reset")
		}
		if h.Unknown != "" {
			notes = append(notes, "partly unchecked: "+h.Unknown)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Name, strings.Join(shortVectors(h.Vectors), ", "), strings.Join(notes, "; "))
	}
	tw.Flush()
	faults := map[uint64]bool{}
	for _, h := range r.FaultHandlers {
		faults[h.Addr] = true
	}
	var others []string
	for _, h := range r.EndlessLoops {
		if !faults[h.Addr] {
			others = append(others, fmt.Sprintf("%s (%s)", h.Name, strings.Join(shortVectors(h.Vectors), ", ")))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(w, "%s\n", wrap("  other endless-loop handlers: "+strings.Join(others, "; "), 78, "    "))
	}
	if needNaked {
		fmt.Fprint(w, `  A handler that uses the stack before checking SP faults again when the stack
  has overflowed past the start of RAM, and the core locks up. Make it
  stackless: __attribute__((naked)) with asm that reads SP first, e.g.
      mov r0, sp; ldr r1, =__stack_start__; cmp r0, r1; bcs 1f
      ldr r0, =__stack_end__; mov sp, r0; b stack_overflow   @ reset SP, then C
  1:  b fault_in_c                                            @ IAR: __stackless
`)
	}
	if len(r.EndlessLoops) > 0 {
		fmt.Fprint(w, "  An endless-loop handler locks the device up in the field instead of\n  resetting it: log what you need, then NVIC_SystemReset().\n")
	}
}

// shortVectors keeps a long vector list readable.
func shortVectors(v []string) []string {
	if len(v) <= 4 {
		return v
	}
	return append(append([]string{}, v[:4]...), fmt.Sprintf("%d more", len(v)-4))
}

func mapText(w io.Writer, r *layout.Report) {
	from := "inferred: no memory map given"
	if r.MemoryMap != nil {
		from = "from " + r.MemoryMap.From
	}
	fmt.Fprintf(w, "\nMEMORY MAP (%s)\n", from)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, reg := range r.Regions {
		name := strings.ToUpper(reg.Kind)
		if reg.Name != "" {
			name = reg.Name + " " + reg.Kind
			if reg.Attributes != "" {
				name = reg.Name + " (" + reg.Attributes + ") " + reg.Kind
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, span(reg.Start, reg.End), rightBytes(reg.End-reg.Start))
		for _, ln := range groupSections(regionItems(r, reg, false)) {
			it := ln.item
			if ln.more > 0 {
				fmt.Fprintf(tw, "    and %d more %s\t%s\t%s\t%s, the smaller ones (all in --format json)\n", ln.more, it.name, span(it.start, it.end), rightBytes(ln.bytes), it.kind)
				continue
			}
			extra := it.kind
			if it.loadAddr != 0 {
				extra += fmt.Sprintf(", loaded from %s", hex(it.loadAddr))
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", it.name, span(it.start, it.end), rightBytes(it.end-it.start), extra)
		}
	}
	tw.Flush()
	if r.MemoryMap == nil && r.RAMInference != "" {
		fmt.Fprintf(w, "%s\n", wrap("  "+r.RAMInference+".", 78, "  "))
	}
	segmentsText(w, r)
}

// Sections of one family (.text.*, .rodata.*: a -ffunction-sections build
// linked without merging has hundreds) beyond groupLimit are listed as the
// largest groupShow, then one line for the rest.
const (
	groupLimit = 8
	groupShow  = 5
)

// mapLine is one line of a region in the map: an item, or (more > 0) the
// summary of the items of a family left out.
type mapLine struct {
	item item
	// more sections are left out; item spans them, holding bytes in all.
	more  int
	bytes uint64
}

// groupSections keeps the items in address order, showing of each large
// family only its largest few and, after the last shown, one line for the
// rest (with the padding between them).
func groupSections(items []item) []mapLine {
	families := map[string][]int{}
	for i, it := range items {
		if f := family(it.name); f != "" {
			families[f] = append(families[f], i)
		}
	}
	hide := map[int]bool{}
	summaryAfter := map[int]mapLine{}
	for f, idx := range families {
		if len(idx) <= groupLimit {
			continue
		}
		bySize := append([]int(nil), idx...)
		sort.SliceStable(bySize, func(a, b int) bool {
			return items[bySize[a]].end-items[bySize[a]].start > items[bySize[b]].end-items[bySize[b]].start
		})
		rest := item{name: f + ".*", kind: items[idx[0]].kind, start: ^uint64(0)}
		var bytes uint64
		last := 0
		for rank, i := range bySize {
			if rank < groupShow {
				last = max(last, i)
				continue
			}
			hide[i] = true
			rest.start, rest.end = min(rest.start, items[i].start), max(rest.end, items[i].end)
			bytes += items[i].end - items[i].start
		}
		// Alignment padding between the family's sections says nothing.
		for i := idx[0]; i < idx[len(idx)-1]; i++ {
			if items[i].kind == "unused" {
				hide[i] = true
			}
		}
		summaryAfter[last] = mapLine{item: rest, more: len(idx) - groupShow, bytes: bytes}
	}
	var out []mapLine
	for i, it := range items {
		if !hide[i] {
			out = append(out, mapLine{item: it})
		}
		if s, ok := summaryAfter[i]; ok {
			out = append(out, s)
		}
	}
	return out
}

// family is ".text" for ".text.foo" (the output section a -ffunction-sections
// input section keeps its name in), "" for a name without one.
func family(name string) string {
	if !strings.HasPrefix(name, ".") {
		return ""
	}
	dot := strings.IndexByte(name[1:], '.')
	if dot < 0 {
		return ""
	}
	return name[:dot+1]
}

func segmentsText(w io.Writer, r *layout.Report) {
	if len(r.Segments) == 0 {
		return
	}
	fmt.Fprintf(w, "\nLOAD SEGMENTS\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  VADDR\tPADDR\tFILESZ\tMEMSZ\tFLAGS\tSECTIONS\n")
	for _, s := range r.Segments {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", hex(s.VAddr), hex(s.PAddr), Bytes(int64(s.FileSize)), Bytes(int64(s.MemSize)), s.Flags, strings.Join(s.Sections, " "))
	}
	tw.Flush()
}

// item is one stretch of a region in the map: a section, the stack, the
// heap, or unused memory.
type item struct {
	name       string
	kind       string // code, rodata, data, bss, stack, heap, unused, other
	start, end uint64
	loadAddr   uint64
	hit        int // 1-based position in the overflow path, 0 if not in it
}

// regionItems cuts a region into items in address order: the stack wins
// over the sections it lies in, sections over the heap, the heap over
// unused memory.
func regionItems(r *layout.Report, reg layout.Region, tasks bool) []item {
	type iv struct {
		it   item
		prio int
	}
	var ivs []iv
	for _, s := range reg.Sections {
		ivs = append(ivs, iv{item{name: s.Name, kind: s.Kind, start: s.Addr, end: s.Addr + s.Size, loadAddr: s.LoadAddr}, 2})
	}
	if st := r.Stack; st != nil && reg.Kind == "ram" && st.Top > reg.Start && st.Top <= reg.End && st.Size > 0 {
		ivs = append(ivs, iv{item{name: "main stack", kind: "stack", start: st.Limit, end: st.Top}, 3})
	}
	if tasks && reg.Kind == "ram" {
		for _, t := range r.TaskStacks {
			if t.Addr >= reg.Start && t.Addr+t.Size <= reg.End {
				ivs = append(ivs, iv{item{name: t.Name, kind: "task stack", start: t.Addr, end: t.Addr + t.Size}, 3})
			}
		}
	}
	if h := r.Heap; h != nil && reg.Kind == "ram" && h.Start >= reg.Start && h.End <= reg.End {
		ivs = append(ivs, iv{item{name: "heap", kind: "heap", start: h.Start, end: h.End}, 1})
	}
	pts := map[uint64]bool{reg.Start: true, reg.End: true}
	for _, v := range ivs {
		pts[max(v.it.start, reg.Start)] = true
		pts[min(v.it.end, reg.End)] = true
	}
	var ps []uint64
	for p := range pts {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	var out []item
	for i := 0; i+1 < len(ps); i++ {
		a, b := ps[i], ps[i+1]
		best := iv{item{name: "(unused)", kind: "unused"}, 0}
		for _, v := range ivs {
			if v.it.start <= a && v.it.end >= b && v.prio > best.prio {
				best = v
			}
		}
		it := best.it
		it.start, it.end = a, b
		if n := len(out); n > 0 && out[n-1].name == it.name && out[n-1].kind == it.kind && out[n-1].end == a {
			out[n-1].end = b
			continue
		}
		out = append(out, it)
	}
	for i := range out {
		for j, h := range r.OverflowInto {
			if out[i].start < h.End && h.Start < out[i].end && out[i].kind != "stack" {
				out[i].hit = j + 1
				break
			}
		}
	}
	return out
}

// wrap breaks s into lines of at most width characters; continuation
// lines start with indent.
func wrap(s string, width int, indent string) string {
	words := strings.Fields(s)
	lead := s[:len(s)-len(strings.TrimLeft(s, " "))]
	var b strings.Builder
	line := lead
	for _, wd := range words {
		if len(line)+len(wd)+1 > width && strings.TrimSpace(line) != "" {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		if strings.TrimSpace(line) != "" {
			line += " "
		}
		line += wd
	}
	b.WriteString(line)
	return b.String()
}

// riscvFixText is the fix for RISC-V firmware: the stack first in RAM,
// and SP loaded from its end by the reset code.
func riscvFixText(w io.Writer) {
	fmt.Fprint(w, `
FIX  put the stack first in RAM: an overflow then runs off the start of RAM
     into unmapped memory (a store access fault) instead of corrupting data;
     or guard the limit with a PMP region.
  GNU ld: place the stack section before .data and .bss; the reset code
          loads its end (la sp, __stack_top):
            SECTIONS {
              .text : { *(.text.init) *(.text*) *(.rodata*) } > FLASH
              .stack (NOLOAD) : {
                  . = ALIGN(16);
                  __stack_bottom = .;
                  . = . + STACK_SIZE;
                  . = ALIGN(16);
                  __stack_top = .;        /* la sp, __stack_top */
              } > RAM                     /* first in RAM */
              .data : { *(.data*) *(.sdata*) } > RAM AT > FLASH
              .bss  : { *(.sbss*) *(.bss*) *(COMMON) } > RAM
            }
  picolibc: its picolibc.ld puts the stack at the top of RAM (__stack); copy
          it and move the stack section first, or link with -T your script.
`)
}

// notCheckedText lists the checks that do not apply to this image.
func notCheckedText(w io.Writer, r *layout.Report) {
	if len(r.NotChecked) == 0 {
		return
	}
	fmt.Fprintf(w, "\nNOT CHECKED\n")
	for _, n := range r.NotChecked {
		fmt.Fprintf(w, "%s\n", wrap("  "+n, 78, "    "))
	}
}
