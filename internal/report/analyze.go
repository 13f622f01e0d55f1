// Package report renders results for people (text) and for programs (JSON,
// and later SARIF, HTML, DOT). It only reads the result models.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/size"
)

// AnalyzeOptions tune the text report.
type AnalyzeOptions struct {
	Budget     int64 // 0: none
	MaxReasons int   // per entry in text; 0: 8
	TopFrames  int   // 0: 10
}

// Bytes writes a size in the one text style (size.Format): "3,040 B",
// "77.4 KiB". JSON keeps exact bytes.
func Bytes(n int64) string { return size.Format(n) }

// AnalyzeJSON writes the results as one JSON document: an object for one
// file, an array for several.
func AnalyzeJSON(w io.Writer, results []*analysis.Result) error {
	if len(results) > 0 && resultFieldsOK {
		return streamAnalyses(w, results)
	}
	return encodeAnalyses(w, results)
}

// encodeAnalyses is AnalyzeJSON through encoding/json's encoder, whole
// (the bytes streamAnalyses matches, and what it falls back to).
func encodeAnalyses(w io.Writer, results []*analysis.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	list := make([]kindedAnalysis, len(results))
	for i, r := range results {
		list[i] = kindedAnalysis{Kind: KindAnalyze, Result: r}
	}
	if len(list) == 1 {
		return enc.Encode(list[0])
	}
	return enc.Encode(list)
}

// AnalyzeText writes the report a person reads: the verdict per entry
// first, then the worst paths and reasons, then the largest frames.
func AnalyzeText(w io.Writer, r *analysis.Result, o AnalyzeOptions) {
	if o.MaxReasons == 0 {
		o.MaxReasons = 8
	}
	if o.TopFrames == 0 {
		o.TopFrames = 10
	}
	fmt.Fprintf(w, "%s (%s, %d functions", r.Binary, r.Arch, len(r.Functions))
	if len(r.Libraries) > 0 {
		fmt.Fprintf(w, ", followed into %d libraries", len(r.Libraries))
	}
	fmt.Fprintln(w, ")")
	if r.Interrupts != nil {
		interruptsText(w, r.Interrupts, o)
	}
	if len(r.Entries) == 0 {
		fmt.Fprintln(w, "\nno entry points found (use --entry NAME)")
	} else {
		fmt.Fprintln(w)
		t := newTable("", true, false, false, false)
		t.row("BOUND", "VERDICT", "KIND", "ENTRY")
		verdicts := newVerdictMemo(o.Budget)
		for _, e := range r.Entries {
			t.row(EntryBound(e), verdicts.of(e), e.Kind, e.Name)
		}
		t.write(w)
	}
	entriesText(w, r.Entries, o)
	neverReturnsText(w, r)
	threadsText(w, r)
	largestFrames(w, r, o.TopFrames)
	for _, m := range r.MissingLibraries {
		fmt.Fprintf(w, "warning: library %s not found; its functions are external (use --lib-path)\n", m)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// SourceLine shortens a DWARF file name for a terminal: relative to the
// working directory when the file is under it, else its base name (a
// relative DWARF name is relative to the compilation directory, not to
// ours); "" when unknown.
func SourceLine(file string, line int) string {
	if file == "" {
		return ""
	}
	short := filepath.Base(file)
	if wd, err := os.Getwd(); err == nil && filepath.IsAbs(file) {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			short = rel
		}
	} else if !filepath.IsAbs(file) && !strings.HasPrefix(file, "..") {
		short = file // relative to the compilation directory
	}
	if line <= 0 {
		return short
	}
	return fmt.Sprintf("%s:%d", short, line)
}

// at is " (at file:line)" for a reason's or assumption's address, or "".
func at(file string, line int) string {
	if s := SourceLine(file, line); s != "" {
		return " (" + s + ")"
	}
	return ""
}

// EntryBound is an entry's bound as a column shows it: "416 B", or
// "≥ 368 B" for the depth an unbounded entry reaches at least.
func EntryBound(e analysis.Entry) string {
	if e.Bounded {
		return Bytes(*e.Bound)
	}
	return "≥ " + Bytes(e.AtLeast)
}

func kindCounts(kinds map[string]int) string {
	var parts []string
	for _, k := range []string{"recursion", "indirect", "dynamic", "unknown", "external"} {
		if n := kinds[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

// Verdict is an entry's verdict in a few words: why it is not bounded
// (reasons counted by kind), over budget, or bounded and what it assumes.
func Verdict(e analysis.Entry, budget int64) string {
	if !e.Bounded {
		kinds := map[string]int{}
		for _, r := range e.Reasons {
			kinds[r.Kind]++
		}
		v := "NOT BOUNDED: " + kindCounts(kinds)
		if len(e.Reasons) >= bound.MaxReasons {
			v += fmt.Sprintf(" (the first %d reasons)", bound.MaxReasons)
		}
		return v
	}
	if budget > 0 && *e.Bound > budget {
		return fmt.Sprintf("OVER BUDGET by %s", Bytes(*e.Bound-budget))
	}
	suffix := AssumedText(e.Assumptions)
	if budget > 0 {
		return fmt.Sprintf("ok (budget %s)%s", Bytes(budget), suffix)
	}
	return "bounded" + suffix
}

// AssumedText says in a few words what a bound rests on, to follow
// "bounded": " if 2 indirect calls reach only assumed targets, with
// vAssertCalled excluded"; "" when it rests on nothing.
func AssumedText(as []bound.Assumption) string {
	byKind := map[string][]string{}
	for _, a := range as {
		byKind[a.Kind] = append(byKind[a.Kind], a.Function)
	}
	text := ""
	switch n := len(byKind[bound.AssumeIndirect]); {
	case n == 1:
		text = " if 1 indirect call reaches only assumed targets"
	case n > 1:
		text = fmt.Sprintf(" if %d indirect calls reach only assumed targets", n)
	}
	var with []string
	add := func(kind, one, many string) {
		switch names := byKind[kind]; {
		case len(names) == 1:
			with = append(with, fmt.Sprintf(one, names[0]))
		case len(names) > 1:
			with = append(with, fmt.Sprintf(many, len(names)))
		}
	}
	add(bound.AssumeExcluded, "%s excluded", "%d functions excluded")
	add(bound.AssumeFrame, "%s's frame declared", "%d frames declared")
	add(bound.AssumeRecursion, "%s's recursion depth declared", "%d recursion depths declared")
	add(bound.AssumeExcReturn, "%s's EXC_RETURN assumed", "%d EXC_RETURNs assumed")
	if len(with) > 0 {
		text += ", with " + strings.Join(with, ", ")
	}
	return text
}

// resetText says, when the entry resets SP to the top of the main stack,
// which part the worst case and its path are.
func resetText(w io.Writer, e analysis.Entry) {
	r := e.AfterReset
	if r == nil {
		return
	}
	part := "before it"
	if r.AtLeast > r.BeforeResetAtLeast {
		part = "after it, from the stack's top"
	}
	what := "SP reset to the top of the main stack"
	if r.Stack != 0 {
		what = fmt.Sprintf("SP switched to another stack (top %#x)", r.Stack)
	}
	fmt.Fprintf(w, "  %s in %s at %#x%s: %s after it, %s before it; the path is the part %s\n",
		what, r.Function, r.Addr, at(r.File, r.Line), Bytes(r.AtLeast), Bytes(r.BeforeResetAtLeast), part)
}

func entryText(w io.Writer, e analysis.Entry, o AnalyzeOptions, m *textMemo) {
	fmt.Fprintln(w)
	if e.Bounded {
		fmt.Fprintf(w, "%s: %s worst case\n", e.Name, Bytes(*e.Bound))
		resetText(w, e)
		assumptionsText(w, e, o)
	} else {
		fmt.Fprintf(w, "%s: NOT BOUNDED (at least %s)\n", e.Name, Bytes(e.AtLeast))
		resetText(w, e)
		m.reasons.write(w, e, o)
	}
	if len(e.Steps) == 0 {
		return
	}
	if e.Bounded {
		fmt.Fprintln(w, "  worst path:")
	} else {
		fmt.Fprintln(w, "  deepest known path:")
	}
	t := m.table()
	t.row("FRAME", "DEPTH", "FUNCTION", "SOURCE")
	for _, st := range e.Steps {
		frame := m.bytes(st.Frame)
		if st.Kind != "static" {
			frame = st.Kind
		}
		t.row(frame, m.bytes(st.Depth), st.Function+stepNote(st), SourceLine(st.File, st.Line))
	}
	t.write(w)
}

// neverReturnsText suggests [[exclude]] once for each function that never
// returns on some entry's worst path.
func neverReturnsText(w io.Writer, r *analysis.Result) {
	entries := map[string]int{}
	var order []string
	for _, e := range r.Entries {
		for _, n := range e.NeverReturns {
			if entries[n.Function] == 0 {
				order = append(order, n.Function)
			}
			entries[n.Function]++
		}
	}
	if len(order) > 0 {
		fmt.Fprintln(w)
	}
	for _, name := range order {
		fmt.Fprintf(w, "%s never returns (on the path of %s); if it is an error path, `[[exclude]] function = %q` sets it aside\n",
			name, fmt.Sprintf("%d %s", entries[name], plural(entries[name], "entry", "entries")), name)
	}
}

// stepNote explains what a path step adds besides its frame, so that the
// FRAME column adds up to the bound.
func stepNote(st analysis.PathStep) string {
	note := ""
	if c := st.Recursion; c != nil {
		note += fmt.Sprintf(" (recursion: %d trips of %s through %s)", c.Depth, Bytes(c.Trip), strings.Join(c.Members, " -> "))
	}
	if st.RedZone > 0 {
		note += fmt.Sprintf(" (+%s red zone)", Bytes(st.RedZone))
	}
	if st.TailCall {
		if st.CallerKept > 0 {
			note += fmt.Sprintf(" (tail call: the caller adds %s, not its frame)", Bytes(st.CallerKept))
		} else {
			note += " (tail call: the caller's frame is released)"
		}
	}
	return note
}

// assumptionsText lists what a bound rests on, one short line each: the
// indirect calls given assumed targets, the functions excluded (with what
// the entry would be without), declared frames and recursion depths.
func assumptionsText(w io.Writer, e analysis.Entry, o AnalyzeOptions) {
	if len(e.Assumptions) == 0 {
		return
	}
	fmt.Fprintln(w, "  the bound assumes:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	indirect := 0
	for i, a := range e.Assumptions {
		if a.Kind == bound.AssumeIndirect {
			indirect++
		}
		if i == o.MaxReasons {
			fmt.Fprintf(tw, "    ...\tand %d more (see --format json)\n", len(e.Assumptions)-i)
			continue
		}
		if i > o.MaxReasons {
			continue
		}
		where := a.Function
		if a.Addr != 0 && a.Kind == bound.AssumeIndirect {
			where += fmt.Sprintf(" at %#x", a.Addr)
		}
		fmt.Fprintf(tw, "    %s\t%s%s\n", where, assumptionDetail(a), at(a.File, a.Line))
	}
	tw.Flush()
	if indirect > 0 {
		fmt.Fprintln(w, "    (--strict refuses assumed indirect-call targets)")
	}
}

// assumptionDetail is an assumption's line: for an exclusion, what the
// entry would be without it.
func assumptionDetail(a bound.Assumption) string {
	x := a.WithoutExclusion
	if a.Kind != bound.AssumeExcluded || x == nil {
		return a.Detail
	}
	if x.Bounded {
		return "excluded; without it: " + Bytes(*x.Bound)
	}
	return fmt.Sprintf("excluded; without it: NOT BOUNDED (at least %s)", Bytes(x.AtLeast))
}

func largestFrames(w io.Writer, r *analysis.Result, n int) {
	fns := topFrames(r.Functions, n)
	if len(fns) == 0 {
		return
	}
	fmt.Fprintln(w, "\nlargest frames:")
	t := newTable("    ", true, false, false)
	for _, f := range fns {
		kind := ""
		if f.FrameKind != "static" {
			kind = " (" + f.FrameKind + ")"
		}
		t.row(Bytes(f.FrameAtLeast), f.DisplayName()+kind, SourceLine(f.File, f.Line))
	}
	t.write(w)
}

// phasesText says which phase of the main stack's use gives the total when
// code resets SP to the stack's top, in the "= ..." line under the verdict,
// and the others' totals (details in the JSON). at marks a lower bound.
func phasesText(w io.Writer, in *analysis.Interrupts, at func(int64) string) {
	var others []string
	for _, p := range in.Phases {
		if p.Name != in.Applies {
			others = append(others, fmt.Sprintf("%s %s", p.Name, at(p.AtLeast)))
		}
	}
	for _, p := range in.Phases {
		if p.Name != in.Applies {
			continue
		}
		var what string
		switch {
		case p.Name == "startup":
			what = "reset path " + at(p.Path) + " before its SP reset"
		case p.Name == "scheduler":
			what = fmt.Sprintf("reset path %s after its SP reset (%s at %#x)", at(p.Path), p.Function, p.Addr)
		default:
			what = fmt.Sprintf("%s after its SP reset (%s at %#x)", at(p.Path), p.Function, p.Addr)
		}
		fmt.Fprintf(w, "  = %s phase: %s + %s %s\n", p.Name, what, levelCount(len(p.Handlers)), at(p.Adds))
	}
	if len(others) > 0 {
		fmt.Fprintf(w, "    other phases: %s\n", strings.Join(others, ", "))
	}
}

func levelCount(n int) string {
	return fmt.Sprintf("%d %s", n, plural(n, "priority level", "priority levels"))
}

func interruptsText(w io.Writer, in *analysis.Interrupts, o AnalyzeOptions) {
	fmt.Fprintln(w)
	if in.Bounded {
		line := fmt.Sprintf("MAIN STACK TOTAL: %s", Bytes(*in.Total))
		if o.Budget > 0 {
			if *in.Total > o.Budget {
				line += fmt.Sprintf("  OVER BUDGET %s by %s", Bytes(o.Budget), Bytes(*in.Total-o.Budget))
			} else {
				line += fmt.Sprintf("  within budget %s", Bytes(o.Budget))
			}
		}
		fmt.Fprintln(w, line)
	} else {
		fmt.Fprintf(w, "MAIN STACK TOTAL: NOT BOUNDED (at least %s); unbounded: %s\n", Bytes(in.TotalAtLeast), strings.Join(in.Unbounded, ", "))
	}
	// Every figure below the verdict is a lower bound when the total is
	// not bounded.
	at := Bytes
	if !in.Bounded {
		at = func(n int64) string { return "≥ " + Bytes(n) }
	}
	if in.Model == analysis.ModelRISCV {
		riscvTrapsText(w, in, at)
		return
	}
	fp := "no FPU context"
	if in.FPContext {
		fp = "FPU context"
	}
	if len(in.Phases) > 0 {
		phasesText(w, in, at)
	} else {
		var levels int64
		for _, l := range in.Levels {
			levels += l.Adds
		}
		// TotalAtLeast is the reset path's (at least) plus the levels'.
		fmt.Fprintf(w, "  = reset path %s + %s %s\n", at(in.TotalAtLeast-levels), levelCount(len(in.Levels)), at(levels))
	}
	fmt.Fprintf(w, "    a level adds its heaviest handler, with a %s exception frame (%s) + 4 B alignment\n",
		Bytes(in.ExceptionFrame), fp)
	t := newTable("    ", true, true, true, false, false)
	t.row("BOUND*", "LEVEL", "PRIORITY", "HANDLER", "VECTORS")
	for _, h := range in.Handlers {
		b := "≥ " + Bytes(h.AtLeast)
		if h.Bounded {
			b = Bytes(*h.Bound)
		}
		vecs := strings.Join(h.Vectors, ", ")
		if len(h.Vectors) > 4 {
			vecs = strings.Join(h.Vectors[:4], ", ") + fmt.Sprintf(" and %d more", len(h.Vectors)-4)
		}
		levels := fmt.Sprint(h.Level)
		if len(h.Levels) > 1 {
			levels = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(h.Levels)), ","), "[]")
		}
		t.row(b, levels, handlerPriority(h), h.Name, vecs)
	}
	t.write(w)
	fmt.Fprintln(w, "    * with the exception frame and alignment")
	prioritiesText(w, in)
}

// handlerPriority is a handler's PRIORITY cell.
func handlerPriority(h analysis.Handler) string {
	switch {
	case h.PrioritySource == "configured group":
		return "group"
	case h.Priority != nil:
		return fmt.Sprint(*h.Priority)
	case strings.Contains(h.PrioritySource, "assumed"):
		return "assumed"
	}
	return "several"
}

// prioritiesText says where each priority comes from: the stores found
// (file:line), the reset value, or why a handler is on a level of its own.
func prioritiesText(w io.Writer, in *analysis.Interrupts) {
	var fromCode, reset, assumed []string
	for _, vp := range in.Priorities {
		switch vp.Source {
		case "code":
			fromCode = append(fromCode, fmt.Sprintf("%s %d at %s", vp.Vector, *vp.Priority, strings.Join(vp.Where, ", ")))
		case "reset":
			reset = append(reset, vp.Vector)
		case "assumed":
			assumed = append(assumed, fmt.Sprintf("%s (%s)", vp.Vector, vp.Assumed))
		}
	}
	if len(fromCode) > 0 {
		fmt.Fprintln(w, "    priorities found in the code:")
		for _, l := range fromCode {
			fmt.Fprintln(w, "      "+l)
		}
	}
	if len(reset) > 0 {
		fmt.Fprintf(w, "    priority 0, the reset value (nothing writes it): %s\n", shortList(reset, 8))
	}
	if len(assumed) > 0 {
		fmt.Fprintln(w, "    priority not known, the handler on a level of its own:")
		for _, l := range assumed[:min(len(assumed), 8)] {
			fmt.Fprintln(w, "      "+l)
		}
		if len(assumed) > 8 {
			fmt.Fprintf(w, "      and %d more (all in the JSON)\n", len(assumed)-8)
		}
	}
	if in.PriorityGrouping != "" {
		fmt.Fprintln(w, "    "+in.PriorityGrouping)
	}
	if len(fromCode)+len(reset) > 0 {
		// What these priorities rest on (docs/analyze.md): said once, short.
		fmt.Fprintln(w, "    assumes: the image starts from a reset, and no handler runs before its priority is written")
	}
}

// shortList joins the first n names and counts the rest.
func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// riscvTrapsText explains a RISC-V main-stack total under its verdict: the
// sum, each handler's level and why it nests or not, where a handler sets
// MIE again, and what is assumed. least marks a lower bound.
func riscvTrapsText(w io.Writer, in *analysis.Interrupts, least func(int64) string) {
	var levels int64
	for _, l := range in.Levels {
		levels += l.Adds
	}
	fmt.Fprintf(w, "  = reset path %s + %d trap %s %s\n", least(in.TotalAtLeast-levels), len(in.Levels), plural(len(in.Levels), "level", "levels"), least(levels))
	fmt.Fprintln(w, "    a trap pushes nothing and clears mstatus.MIE: handlers nest only on one that sets MIE again")
	t := newTable("    ", true, true, false, false, false)
	t.row("BOUND", "LEVEL", "NESTING", "HANDLER", "FOUND BY")
	for _, h := range in.Handlers {
		b := "≥ " + Bytes(h.AtLeast)
		if h.Bounded {
			b = Bytes(*h.Bound)
		}
		t.row(b, fmt.Sprint(h.Level), riscvNesting(h, in.Levels), h.Name, shortList(h.Vectors, 4))
	}
	t.write(w)
	for _, h := range in.Handlers {
		if r := h.Reenables; r != nil {
			where := fmt.Sprintf("%s at %#x%s", r.Function, r.Addr, at(r.File, r.Line))
			if len(r.Path) > 1 {
				where += ", called " + strings.Join(r.Path, " -> ")
			}
			fmt.Fprintf(w, "    %s sets MIE again: mstatus written in %s\n", h.Name, where)
			if riscvNesting(h, in.Levels) == "re-enables; NO LIMIT" {
				// in.Reasons has the same in one sentence, for the JSON.
				fmt.Fprintf(w, "      any trap, %s itself included, can nest on it, with no limit the code shows\n", h.Name)
				fmt.Fprintf(w, "      fix: [interrupts] groups = [[%q, ...]] (handlers that cannot preempt each other: one PLIC/CLIC priority level), or [[recursion]] function = %q depth = N\n", h.Name, h.Name)
			}
		}
	}
	riscvOwnStacksText(w, in)
	if in.VectorTable != "" {
		fmt.Fprintln(w, "    "+in.VectorTable)
	}
	fmt.Fprintln(w, "    assumes: "+strings.Join(in.Assumes, "; "))
}

// riscvOwnStacksText says, for each trap handler that switches to its own
// stack, what it needs there against the stack's size.
func riscvOwnStacksText(w io.Writer, in *analysis.Interrupts) {
	for _, h := range in.Handlers {
		s := h.OwnStack
		if s == nil {
			continue
		}
		name := fmt.Sprintf("%#x", s.Top)
		if s.Symbol != "" {
			name = fmt.Sprintf("%s (top %#x)", s.Symbol, s.Top)
		}
		need := Bytes(s.Need)
		if s.NeedAtLeast {
			need = "≥ " + need
		}
		verdict := "size not known"
		switch {
		case s.Status == "overflow":
			verdict = "OVERFLOW by " + Bytes(s.Over)
			if s.NeedAtLeast {
				verdict = "OVERFLOW by at least " + Bytes(s.Over)
			}
		case s.Size != nil && s.Status == "ok":
			verdict = "fits in " + size.FormatCapacity(*s.Size)
		case s.Size != nil:
			verdict = "not known to fit in " + size.FormatCapacity(*s.Size)
		}
		fmt.Fprintf(w, "    %s switches to its own stack %s at %#x: needs %s there (its bound above is the larger of that and its part on the stack it interrupts): %s\n", h.Name, name, s.Addr, need, verdict)
	}
}

// riscvNesting is a RISC-V handler's NESTING cell: what its level counts.
func riscvNesting(h analysis.Handler, levels []analysis.Level) string {
	if h.Level < 0 || h.Level >= len(levels) {
		return ""
	}
	l := levels[h.Level]
	switch {
	case h.Reenables == nil:
		return "on top, one at a time"
	case l.Basis == "configured":
		return "re-enables; group: its heaviest"
	case l.Depth > 0:
		return fmt.Sprintf("re-enables; %d deep ([[recursion]])", l.Depth)
	}
	return "re-enables; NO LIMIT"
}
