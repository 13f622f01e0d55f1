// Package sarif writes stackscope's findings as a SARIF 2.1.0 log, the
// format code-scanning systems (GitHub's among them) read: one rule per
// kind of finding, one result per finding, each at the source line DWARF
// gives for it, else at the function and address in the binary. The log is
// built with github.com/owenrumney/go-sarif, which follows the OASIS schema.
//
// What counts as a finding is decided elsewhere and shared with the exit
// status: budgets by package budget, layout verdicts by package layout.
package sarif

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/budget"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/srcloc"
)

// The rules: one per kind of finding, so that a CI system can turn each on
// or off and show its help once. The IDs are stable (docs/analyze.md).
const (
	RuleBudget        = "SS001" // an entry or the main-stack total over its budget
	RuleUnbounded     = "SS002" // an entry with no bound
	RuleAssumed       = "SS003" // a bound that rests on assumed indirect-call targets
	RuleThreadStack   = "SS004" // a thread or task stack that overflows
	RuleThreadUnknown = "SS005" // a thread or task that could not be judged
	RuleUnsafeLayout  = "SS101" // main stack placed where its overflow corrupts data
	RuleHandlerStack  = "SS102" // a fault handler that uses the stack before checking SP
	RuleHandlerLoop   = "SS103" // an exception handler that loops forever
	RuleWillOverflow  = "SS104" // the main stack is smaller than its worst case
	RuleLayoutUnknown = "SS105" // the stack's placement is not proved safe (no memory map)
)

// Levels, as SARIF names them: error for a certain problem, warning for
// what may be one (no bound, a hang), note for what rests on an assumption.
const (
	levelError   = "error"
	levelWarning = "warning"
	levelNote    = "note"
)

type rule struct {
	id, name, level, short, full, help string
}

var rules = []rule{
	{RuleBudget, "StackBudgetExceeded", levelError, "Stack budget exceeded",
		"The worst-case stack depth of an entry point (or a firmware image's main-stack total) is larger than its budget, or the entry has no bound to hold against the budget.",
		"Reduce the frames on the worst path (the result lists it, deepest frame last) or raise the budget (--budget, or [budgets] in stackscope.toml)."},
	{RuleUnbounded, "EntryNotBounded", levelWarning, "Entry point has no stack bound",
		"stackscope could not bound the stack of this entry point: it reaches recursion, an unresolved indirect call, a frame sized at run time (alloca, VLA, lazy binding), an instruction it cannot decode, or a function whose code it does not have. The depth it certainly reaches is given.",
		"Each reason names the function and address. Declare recursion depths, indirect-call targets or external frames in stackscope.toml, or remove the construct."},
	{RuleAssumed, "BoundAssumesTargets", levelNote, "Bound rests on assumed indirect-call targets",
		"The bound holds if each listed indirect call reaches only functions of the set stackscope assumed (the address-taken set, or the functions of a matching prototype or vtable slot).",
		"Annotate the targets in stackscope.toml ([[indirect]]) to make the edge proved, or run with --strict to refuse assumptions."},
	{RuleThreadStack, "ThreadStackTooSmall", levelError, "Thread or task stack too small",
		"A thread or RTOS task is created with a stack smaller than the stack its entry function needs (certainly, for 'overflow by at least').",
		"Give the thread a larger stack (pthread_attr_setstacksize, the clone() allocation, the task's stack depth) or make its entry function use less."},
	{RuleThreadUnknown, "ThreadNotJudged", levelNote, "Thread or task stack not judged",
		"stackscope found a thread or task but could not tell whether its stack suffices: its size was not found or its entry has no bound.",
		"Give the size in stackscope.toml ([budgets.threads]) or make the entry function boundable."},
	{RuleUnsafeLayout, "UnsafeStackPlacement", levelError, "Main stack overflow corrupts data",
		"The main stack is not placed at the start of RAM: an overflow runs into other variables (.bss, .data, the heap) instead of faulting.",
		"Place the stack at the bottom of RAM in the linker script, below .data and .bss, so that an overflow runs off the start of RAM and faults."},
	{RuleHandlerStack, "FaultHandlerUsesStack", levelError, "Fault handler uses the stack before checking SP",
		"After a stack overflow the core enters the fault handler with SP at or below the stack's limit; a handler that pushes before it checks or resets SP faults again and the core locks up.",
		"Start the handler in assembly: check or reset SP (msr msp) before anything else, then call the C handler."},
	{RuleHandlerLoop, "HandlerLoopsForever", levelWarning, "Exception handler loops forever",
		"Every path through this exception handler ends in a loop with no exit and no reset request: the device hangs instead of recovering.",
		"Record the fault and request a reset (SCB->AIRCR SYSRESETREQ) or let a watchdog fire."},
	{RuleWillOverflow, "MainStackTooSmall", levelError, "Main stack smaller than its worst case",
		"The main stack (its size from the linker symbols) is smaller than the worst case of the reset path plus the nested interrupts.",
		"Enlarge the stack in the linker script or reduce the frames on the worst path."},
	{RuleLayoutUnknown, "StackPlacementNotProved", levelWarning, "Main stack placement not proved safe",
		"Nothing the image places lies below the main stack, but the ELF file does not say where RAM begins: without the linker script's memory map, RAM below the stack cannot be ruled out.",
		"Give the memory map: stackscope layout --ld FILE.ld (the script with the MEMORY block), or [memory] in stackscope.toml."},
}

// Analysis is one analysed file and the budgets it is held to.
type Analysis struct {
	Result *analysis.Result
	Budget budget.Policy
}

// Input is what one SARIF log reports on.
type Input struct {
	Analyses []Analysis
	Layouts  []*layout.Report
	// Version is stackscope's, for the tool driver; optional.
	Version string
}

// Write writes one SARIF 2.1.0 log with one run for all the inputs. Every
// rule is described, whether or not it has a result, so that a clean run
// still tells a code-scanning system what the tool checks.
func Write(w io.Writer, in Input) error {
	rep := gosarif.NewReport()
	run := gosarif.NewRunWithInformationURI("stackscope", "https://github.com/stackscope/stackscope")
	if in.Version != "" {
		run.Tool.Driver.WithVersion(in.Version)
	}
	for _, r := range rules {
		run.AddRule(r.id).
			WithName(r.name).
			WithHelpURI(helpURI(r.id)).
			WithShortDescription(gosarif.NewMultiformatMessageString().WithText(r.short)).
			WithFullDescription(gosarif.NewMultiformatMessageString().WithText(r.full)).
			WithHelp(gosarif.NewMultiformatMessageString().WithText(r.help)).
			WithDefaultConfiguration(gosarif.NewReportingConfiguration().WithLevel(r.level))
	}
	lr := &logRun{run: run}
	for _, a := range in.Analyses {
		lr.analysis(a)
	}
	for _, l := range in.Layouts {
		lr.layout(l)
	}
	for _, f := range merge(lr.findings) {
		lr.emit(f)
	}
	rep.AddRun(run)
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil {
		return err
	}
	return compact(w, buf.Bytes())
}

// DocsURL is where each rule's help lives: docs/analyze.md, one heading
// per rule (its ID in lower case is the heading's anchor).
const DocsURL = "https://github.com/stackscope/stackscope/blob/main/docs/analyze.md"

func helpURI(id string) string { return DocsURL + "#" + strings.ToLower(id) }

type logRun struct {
	run      *gosarif.Run
	findings []finding
}

func ruleLevel(id string) string {
	for _, r := range rules {
		if r.id == id {
			return r.level
		}
	}
	return levelWarning
}

// place is where a result points: a source line when DWARF gives one, and
// always the binary, function and address (as a logical location and
// properties, which code-scanning UIs show when there is no source).
type place struct {
	binary   string
	function string
	addr     uint64
	file     string
	line     int
}

// finding is one result before it becomes SARIF.
type finding struct {
	rule    string
	text    string
	at      place
	related []place
	props   map[string]any
	// key names the finding across builds (an entry, a function, a
	// thread): the partial fingerprint, so that a code-scanning system
	// tracks it even when addresses and line numbers move.
	key string
}

// add collects a finding; Write merges and emits them at the end.
func (s *logRun) add(f finding) { s.findings = append(s.findings, f) }

func (s *logRun) emit(f finding) {
	res := s.run.CreateResultForRule(f.rule).
		WithLevel(ruleLevel(f.rule)).
		WithMessage(gosarif.NewTextMessage(f.text))
	res.AddLocation(location(f.at))
	for i, p := range f.related {
		res.AddRelatedLocation(location(p).WithID(i + 1))
	}
	if f.key != "" {
		res.WithPartialFingerprints(map[string]string{"stackscope/v1": f.rule + ":" + filepath.Base(f.at.binary) + ":" + f.key})
	}
	bag := gosarif.NewPropertyBag()
	// The address is the location's (physical, or its property).
	bag.Add("binary", f.at.binary)
	keys := make([]string, 0, len(f.props))
	for k := range f.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		bag.Add(k, f.props[k])
	}
	res.WithProperties(bag)
}

// location is a place in SARIF: the source line when known, else the
// binary itself at the address (code-scanning systems want a physical
// location on every result); the function as a logical location always.
func location(p place) *gosarif.Location {
	loc := gosarif.NewLocation()
	if p.file != "" {
		phys := gosarif.NewPhysicalLocation().WithArtifactLocation(gosarif.NewSimpleArtifactLocation(fileURI(p.file)))
		if p.line > 0 {
			phys.WithRegion(gosarif.NewRegion().WithStartLine(p.line))
		}
		loc.WithPhysicalLocation(phys)
	} else {
		// Line 1 of the binary: a binary has no lines, but GitHub code
		// scanning requires region.startLine on every result's location
		// (the whole file is what it shows); the address says where.
		phys := gosarif.NewPhysicalLocation().WithArtifactLocation(gosarif.NewSimpleArtifactLocation(fileURI(p.binary))).
			WithRegion(gosarif.NewRegion().WithStartLine(1))
		if p.addr != 0 {
			phys.WithAddress(gosarif.NewAddress().WithAbsoluteAddress(int(p.addr)).WithKind("instruction"))
		}
		loc.WithPhysicalLocation(phys)
	}
	if p.function != "" {
		// The name only: a C function's fully qualified name is the same
		// string, and the log is smaller without it twice.
		loc.AddLogicalLocation(gosarif.NewLogicalLocation().WithName(p.function).WithKind("function"))
	}
	// The address as a property only where the physical location is a
	// source line (with the binary, it is the physical address already).
	if p.addr != 0 && p.file != "" {
		loc.WithProperties(gosarif.NewPropertyBag().Add("address", fmt.Sprintf("%#x", p.addr)))
	}
	return loc
}

// fileURI makes a SARIF artifact URI: a path under the working directory
// (the checkout, where code-scanning systems resolve URIs) becomes
// relative to it, other absolute paths file:// URIs; a relative path (to
// the compilation directory) stays as it is.
func fileURI(path string) string {
	if filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return fileURL(path)
		}
		rel, err := filepath.Rel(wd, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fileURL(path)
		}
		path = rel
	}
	return (&url.URL{Path: filepath.ToSlash(path)}).String()
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// functionPlace is where a function of r is declared.
func functionPlace(r *analysis.Result, name string) place {
	p := place{binary: r.Binary, function: name}
	for _, f := range r.Functions {
		if f.Name == name {
			p.addr, p.file, p.line = f.Addr, f.File, f.Line
			break
		}
	}
	return p
}

// libraryPlace is a place in a shared library the analysis loaded: the
// library's path when the result lists it (else its soname), and the
// function without the " (soname)" the analysis adds to tell it apart.
func libraryPlace(r *analysis.Result, lib, function string, addr uint64) place {
	path := lib
	for _, l := range r.Libraries {
		if filepath.Base(l) == lib {
			path = l
			break
		}
	}
	return place{binary: path, function: strings.TrimSuffix(function, " ("+lib+")"), addr: addr}
}

func reasonPlace(r *analysis.Result, rs bound.Reason) place {
	if rs.Library != "" {
		return libraryPlace(r, rs.Library, rs.Function, rs.Addr)
	}
	p := place{binary: r.Binary, function: rs.Function, addr: rs.Addr, file: rs.File, line: rs.Line}
	if p.file == "" {
		fp := functionPlace(r, rs.Function)
		p.file, p.line = fp.file, fp.line
	}
	return p
}

func assumptionPlace(r *analysis.Result, a bound.Assumption) place {
	if a.Library != "" {
		return libraryPlace(r, a.Library, a.Function, a.Addr)
	}
	return place{binary: r.Binary, function: a.Function, addr: a.Addr, file: a.File, line: a.Line}
}

// maxRelated caps the related locations of one result: the message counts
// them all, a code-scanning page shows only the first few anyway (and
// one of each of the five reason kinds comes first).
const maxRelated = 6

func (s *logRun) analysis(a Analysis) {
	r := a.Result
	for _, o := range a.Budget.Overruns(r) {
		s.add(overrunFinding(r, o))
	}
	for _, e := range r.Entries {
		at := functionPlace(r, e.Name)
		switch {
		case !e.Bounded:
			ordered := kindsFirst(e.Reasons)
			var related []place
			for _, rs := range ordered[:min(len(ordered), maxRelated)] {
				related = append(related, reasonPlace(r, rs))
			}
			// The first reason with a source line is where the fix
			// goes; without one the entry's own line is the better
			// place to show (all reasons are related locations).
			at = unboundedPlace(at, related)
			s.add(finding{rule: RuleUnbounded, key: e.Name, at: at, related: related,
				text:  fmt.Sprintf("%s has no stack bound (at least %s): %s", e.Name, report.Bytes(e.AtLeast), reasonSummary(e.Reasons)),
				props: map[string]any{"entry": e.Name, "at_least": e.AtLeast, "reasons": len(e.Reasons)}})
		case len(e.Assumptions) > 0:
			var related []place
			for _, as := range e.Assumptions[:min(len(e.Assumptions), maxRelated)] {
				related = append(related, assumptionPlace(r, as))
			}
			first := e.Assumptions[0]
			s.add(finding{rule: RuleAssumed, key: e.Name, at: at, related: related,
				text: fmt.Sprintf("%s: %s, bounded%s (first: %s at %#x, %s)",
					e.Name, report.Bytes(*e.Bound), report.AssumedText(e.Assumptions), first.Function, first.Addr, first.Detail),
				props: map[string]any{"entry": e.Name, "bound": *e.Bound}})
		}
	}
	for _, t := range r.Threads {
		if f, ok := threadFinding(r, t); ok {
			s.add(f)
		}
	}
}

// unboundedPlace is where an unbounded entry's result points: the first
// reason (in the message's order) with a source line, else the entry when
// it has one, else the first reason with an address in the binary.
func unboundedPlace(entry place, reasons []place) place {
	for _, p := range reasons {
		if p.file != "" {
			return p
		}
	}
	if entry.file == "" {
		for _, p := range reasons {
			if p.addr != 0 && p.binary == entry.binary {
				return p
			}
		}
	}
	return entry
}

// overrunFinding is one budget overrun, at the entry's declaration with the
// worst path as related locations (the main-stack total has no one place).
func overrunFinding(r *analysis.Result, o budget.Overrun) finding {
	props := map[string]any{"budget": o.Budget}
	if o.Name == budget.MainStack {
		props["total"] = o.Depth
		what := "main-stack total (reset path and nested interrupts)"
		if !o.Bounded {
			return finding{rule: RuleBudget, key: o.Name, at: place{binary: r.Binary}, props: props,
				text: fmt.Sprintf("%s not bounded (at least %s) against a budget of %s", what, report.Bytes(o.Depth), report.Bytes(o.Budget))}
		}
		return finding{rule: RuleBudget, key: o.Name, at: place{binary: r.Binary}, props: props,
			text: fmt.Sprintf("%s %s exceeds the budget of %s by %s", what, report.Bytes(o.Depth), report.Bytes(o.Budget), report.Bytes(o.Depth-o.Budget))}
	}
	props["entry"] = o.Name
	at := functionPlace(r, o.Name)
	if !o.Bounded {
		props["at_least"] = o.Depth
		return finding{rule: RuleBudget, key: o.Name, at: at, props: props,
			text: fmt.Sprintf("%s: not bounded (at least %s) against a budget of %s", o.Name, report.Bytes(o.Depth), report.Bytes(o.Budget))}
	}
	props["bound"] = o.Depth
	var path string
	var related []place
	for _, e := range r.Entries {
		if e.Name != o.Name {
			continue
		}
		path = strings.Join(e.Path, " -> ")
		for _, st := range e.Steps[:min(len(e.Steps), maxRelated)] {
			related = append(related, place{binary: r.Binary, function: st.Function, file: st.File, line: st.Line})
		}
		break
	}
	return finding{rule: RuleBudget, key: o.Name, at: at, related: related, props: props,
		text: fmt.Sprintf("%s: worst case %s exceeds the budget of %s by %s; worst path: %s",
			o.Name, report.Bytes(o.Depth), report.Bytes(o.Budget), report.Bytes(o.Depth-o.Budget), path)}
}

// threadFinding is a thread or task whose stack overflows (an error) or
// could not be judged (a note), at its creation site.
func threadFinding(r *analysis.Result, t analysis.Thread) (finding, bool) {
	at := place{binary: r.Binary, function: t.CreatedBy, addr: t.Site, file: t.File, line: t.Line}
	if at.file == "" && t.CreatedBy != "" {
		fp := functionPlace(r, t.CreatedBy)
		at.file, at.line = fp.file, fp.line
	}
	size := "unknown"
	if t.StackSize != nil {
		size = report.Bytes(*t.StackSize)
	}
	props := map[string]any{"entry": t.Entry, "creator": t.Creator, "stack_size_source": t.SizeSource}
	if t.StackSize != nil {
		props["stack_size"] = *t.StackSize
	}
	key := t.Entry + "@" + t.CreatedBy
	switch t.Status {
	case "overflow":
		return finding{rule: RuleThreadStack, key: key, at: at, props: props,
			text: fmt.Sprintf("thread %s (created by %s with %s): stack of %s: %s; path: %s",
				t.Entry, t.CreatedBy, t.Creator, size, t.Verdict, strings.Join(t.Path, " -> "))}, true
	case "unknown":
		why := t.Reason
		if why == "" {
			why = t.SizeSource
		}
		return finding{rule: RuleThreadUnknown, key: key, at: at, props: props,
			text: fmt.Sprintf("thread %s (created by %s with %s): stack of %s not judged: %s",
				t.Entry, t.CreatedBy, t.Creator, size, why)}, true
	}
	return finding{}, false
}

// reasonKinds is the order reason kinds are counted in, as in the text report.
var reasonKinds = []string{"recursion", "indirect", "dynamic", "unknown", "external"}

// kindsFirst orders reasons as the message names them: the first of each
// kind, then the others in the analysis' order, so that the capped related
// locations show every kind (85 external calls must not hide 3 recursions).
func kindsFirst(rs []bound.Reason) []bound.Reason {
	out := make([]bound.Reason, 0, len(rs))
	lead := map[int]bool{}
	for _, k := range reasonKinds {
		for i, r := range rs {
			if r.Kind == k {
				out = append(out, r)
				lead[i] = true
				break
			}
		}
	}
	for i, r := range rs {
		if !lead[i] {
			out = append(out, r)
		}
	}
	return out
}

// reasonSummary says what keeps an entry unbounded: counts per kind, then
// the first reason of each kind with its place (an external one with its
// library), so the message names every kind of problem, not just the
// commonest.
func reasonSummary(rs []bound.Reason) string {
	counts := map[string]int{}
	first := map[string]bound.Reason{}
	for _, r := range rs {
		if counts[r.Kind] == 0 {
			first[r.Kind] = r
		}
		counts[r.Kind]++
	}
	var kinds, parts []string
	for _, k := range reasonKinds {
		if counts[k] == 0 {
			continue
		}
		kinds = append(kinds, fmt.Sprintf("%d %s", counts[k], k))
		r := first[k]
		where := r.Function
		if r.Library != "" && !strings.HasSuffix(where, "("+r.Library+")") {
			where += " (" + r.Library + ")"
		}
		src := ""
		if s := report.SourceLine(r.File, r.Line); s != "" {
			src = " (" + s + ")"
		}
		if r.Addr != 0 {
			where += fmt.Sprintf(" at %#x", r.Addr)
		}
		parts = append(parts, fmt.Sprintf("%s in %s%s: %s", k, where, src, clip(r.Detail)))
	}
	s := strings.Join(kinds, ", ")
	if len(parts) > 0 {
		s += "; " + strings.Join(parts, "; ")
	}
	return s
}

// maxDetail caps one reason's detail in a message (a recursion cycle
// through a library can run to a kilobyte); the related locations and the
// text and JSON reports have it all.
const maxDetail = 160

func clip(s string) string {
	if r := []rune(s); len(r) > maxDetail {
		return string(r[:maxDetail]) + "…"
	}
	return s
}

func (s *logRun) layout(l *layout.Report) {
	lines := lineTable(l.Binary)
	handlerPlace := func(name string, in *layout.Instr) place {
		p := place{binary: l.Binary, function: name}
		if in != nil {
			p.addr = in.Addr
			if loc, ok := lines.At(in.Addr); ok {
				p.file, p.line = loc.File, loc.Line
			}
		}
		return p
	}
	if l.Verdict == layout.Unsafe {
		props := map[string]any{}
		if st := l.Stack; st != nil {
			props["stack_top"] = fmt.Sprintf("%#x", st.Top)
			props["stack_limit"] = fmt.Sprintf("%#x", st.Limit)
		}
		var into []string
		for _, h := range l.OverflowInto {
			into = append(into, h.Section)
		}
		if len(into) > 0 {
			props["overflow_into"] = strings.Join(into, ", ")
		}
		s.add(finding{rule: RuleUnsafeLayout, key: "main stack", at: stackPlace(l), props: props,
			text: "unsafe stack placement: " + l.VerdictReason})
	}
	if l.Verdict == layout.Unknown {
		s.add(finding{rule: RuleLayoutUnknown, key: "main stack", at: stackPlace(l),
			text: "stack placement not proved: " + l.VerdictReason})
	}
	if h := l.Headroom; h != nil && (h.Bytes != nil && *h.Bytes < 0 || h.WillOverflowBy > 0) {
		over := h.WillOverflowBy
		if h.Bytes != nil && *h.Bytes < 0 {
			over = -*h.Bytes
		}
		s.add(finding{rule: RuleWillOverflow, key: "main stack", at: stackPlace(l),
			props: map[string]any{"stack_size": h.StackSize, "over": over},
			text:  fmt.Sprintf("the main stack (%s) is %s smaller than its worst case", report.Bytes(h.StackSize), report.Bytes(over))})
	}
	for _, fh := range l.FaultHandlers {
		if !fh.UsesStackBeforeSPCheck {
			continue
		}
		what := ""
		if fh.FirstStackUse != nil {
			what = ": " + fh.FirstStackUse.What
		}
		s.add(finding{rule: RuleHandlerStack, key: fh.Name, at: handlerPlace(fh.Name, fh.FirstStackUse),
			text: fmt.Sprintf("fault handler %s (%s) uses the stack before it checks SP%s", fh.Name, strings.Join(fh.Vectors, ", "), what)})
	}
	for _, fh := range l.EndlessLoops {
		s.add(finding{rule: RuleHandlerLoop, key: fh.Name, at: handlerPlace(fh.Name, fh.LoopAt),
			text: fmt.Sprintf("exception handler %s (%s) loops forever", fh.Name, strings.Join(fh.Vectors, ", "))})
	}
}

// lineTable opens the firmware image for its DWARF line table; nil (no
// source lines) when it has none or cannot be read again.
func lineTable(path string) *srcloc.Table {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	t, _ := srcloc.Load(f, path)
	return t
}

// locKey is where a result shows in code scanning: the file and line when
// there is a source line, else the binary and address. Two results of one
// rule there are one alert to a reader, so they become one result.
func locKey(p place) string {
	if p.file != "" {
		return fileURI(p.file) + ":" + fmt.Sprint(p.line)
	}
	return fileURI(p.binary) + "@" + fmt.Sprintf("%#x", p.addr)
}

// merge folds the findings of one rule at one location into one result
// (main and _start reaching the same recursion are one alert): the message
// is every finding's text, one a line, so it names every entry; the
// related locations are the union; the fingerprint names every key. Order
// is kept: the first finding of a (rule, location) gives its place.
func merge(fs []finding) []finding {
	var out []finding
	at := map[string]int{}
	for _, f := range fs {
		k := f.rule + "\x00" + locKey(f.at)
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			if f.props == nil {
				f.props = map[string]any{}
			}
			out = append(out, f)
			continue
		}
		m := &out[i]
		m.text += "\n" + f.text
		if m.key != "" || f.key != "" {
			m.key += "+" + f.key
		}
		seen := map[place]bool{}
		for _, p := range m.related {
			seen[p] = true
		}
		for _, p := range f.related {
			if !seen[p] && len(m.related) < maxRelated {
				seen[p] = true
				m.related = append(m.related, p)
			}
		}
		// The merged result's properties are the first finding's, with
		// the entries it concerns listed (the others' numbers are in the
		// message).
		if e, ok := f.props["entry"]; ok {
			list, _ := m.props["entries"].([]any)
			if len(list) == 0 {
				if first, ok := m.props["entry"]; ok {
					list = append(list, first)
				}
			}
			m.props["entries"] = append(list, e)
		}
	}
	return out
}

// compact rewrites go-sarif's log without the values SARIF defines as
// defaults (-1 indexes and offsets, empty arrays and objects, a result's
// kind "fail", a rule's enabled true): the library writes them all, which
// made a 3-result log 50 KB of noise. A reader applies the same defaults,
// so the log means the same. The language and newline sequences stay
// although they are defaults too: go-sarif's own reader does not apply
// defaults and rejects a log without them.
// The runs and results arrays are kept even when empty (GitHub's upload
// wants results, and an empty list says "checked, nothing found").
func compact(w io.Writer, log []byte) error {
	dec := json.NewDecoder(bytes.NewReader(log))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("sarif: re-reading the log: %v", err)
	}
	doc, _ = prune("", doc)
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// keep are the arrays that stay even when empty.
var keep = map[string]bool{"runs": true, "results": true}

// prune drops the defaults from v (under key); false when v itself is one.
func prune(key string, v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if p, ok := prune(k, e); ok {
				x[k] = p
			} else {
				delete(x, k)
			}
		}
		if _, isResult := x["ruleId"]; isResult && x["kind"] == "fail" {
			delete(x, "kind")
		}
		if key == "defaultConfiguration" && x["enabled"] == true {
			delete(x, "enabled")
		}
		if key == "" { // the log itself
			return x, true
		}
		return x, len(x) > 0 || keep[key]
	case []any:
		out := x[:0]
		for _, e := range x {
			if p, ok := prune("", e); ok {
				out = append(out, p)
			}
		}
		return out, len(out) > 0 || keep[key]
	case json.Number:
		return x, x.String() != "-1"
	}
	return v, true
}

// stackPlace is where a finding about the main stack's placement or size
// is fixed: the linker script's line declaring the MEMORY region that holds
// the stack's top, when the memory map came from a linker script, else the
// ELF file.
func stackPlace(l *layout.Report) place {
	p := place{binary: l.Binary}
	m, st := l.MemoryMap, l.Stack
	if m == nil || m.File == "" || st == nil {
		return p
	}
	for _, r := range m.Regions {
		if r.Line > 0 && st.Top > r.Origin && st.Top <= r.End() {
			p.file, p.line = m.File, r.Line
			return p
		}
	}
	return p
}
