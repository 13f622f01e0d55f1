package report

import (
	"debug/elf"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	sarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/srcloc"
)

// The SARIF rules: one per kind of finding, so that a CI system can turn
// each on or off and show its help once.
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
)

type sarifRule struct {
	id, name, level, short, full, help string
}

var sarifRules = []sarifRule{
	{RuleBudget, "StackBudgetExceeded", "error", "Stack budget exceeded",
		"The worst-case stack depth of an entry point (or a firmware image's main-stack total) is larger than its budget.",
		"Reduce the frames on the worst path (the result lists it, deepest frame last) or raise the budget (--budget, or [budgets] in stackscope.toml)."},
	{RuleUnbounded, "EntryNotBounded", "warning", "Entry point has no stack bound",
		"stackscope could not bound the stack of this entry point: it reaches recursion, an unresolved indirect call, a frame sized at run time (alloca, VLA, lazy binding), an instruction it cannot decode, or a function whose code it does not have. The depth it certainly reaches is given.",
		"Each reason names the function and address. Declare recursion depths, indirect-call targets or external frames in stackscope.toml, or remove the construct."},
	{RuleAssumed, "BoundAssumesTargets", "note", "Bound rests on assumed indirect-call targets",
		"The bound holds if each listed indirect call reaches only functions of the set stackscope assumed (the address-taken set, or the functions of a matching prototype or vtable slot).",
		"Annotate the targets in stackscope.toml ([[indirect]]) to make the edge proved, or run with --strict to refuse assumptions."},
	{RuleThreadStack, "ThreadStackTooSmall", "error", "Thread or task stack too small",
		"A thread or RTOS task is created with a stack smaller than the stack its entry function needs (certainly, for 'overflow by at least').",
		"Give the thread a larger stack (pthread_attr_setstacksize, the clone() allocation, the task's stack depth) or make its entry function use less."},
	{RuleThreadUnknown, "ThreadNotJudged", "note", "Thread or task stack not judged",
		"stackscope found a thread or task but could not tell whether its stack suffices: its size was not found or its entry has no bound.",
		"Give the size in stackscope.toml ([budgets.threads]) or make the entry function boundable."},
	{RuleUnsafeLayout, "UnsafeStackPlacement", "error", "Main stack overflow corrupts data",
		"The main stack is not placed at the start of RAM: an overflow runs into other variables (.bss, .data, the heap) instead of faulting.",
		"Place the stack at the bottom of RAM in the linker script, below .data and .bss, so that an overflow runs off the start of RAM and faults."},
	{RuleHandlerStack, "FaultHandlerUsesStack", "error", "Fault handler uses the stack before checking SP",
		"After a stack overflow the core enters the fault handler with SP at or below the stack's limit; a handler that pushes before it checks or resets SP faults again and the core locks up.",
		"Start the handler in assembly: check or reset SP (msr msp) before anything else, then call the C handler."},
	{RuleHandlerLoop, "HandlerLoopsForever", "warning", "Exception handler loops forever",
		"Every path through this exception handler ends in a loop with no exit and no reset request: the device hangs instead of recovering.",
		"Record the fault and request a reset (SCB->AIRCR SYSRESETREQ) or let a watchdog fire."},
	{RuleWillOverflow, "MainStackTooSmall", "error", "Main stack smaller than its worst case",
		"The main stack (its size from the linker symbols) is smaller than the worst case of the reset path plus the nested interrupts.",
		"Enlarge the stack in the linker script or reduce the frames on the worst path."},
}

// SARIFInput is what one SARIF log reports on.
type SARIFInput struct {
	Results []*analysis.Result
	Layouts []*layout.Report
	// BudgetOf returns an entry's budget in bytes (0: none); the name
	// "main_stack" asks for the firmware main-stack total's.
	BudgetOf       func(r *analysis.Result, entry string) int64
	AllowUnbounded bool
	Version        string
}

// SARIF writes one SARIF 2.1.0 log with one run for all the inputs.
func SARIF(w io.Writer, in SARIFInput) error {
	rep := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("stackscope", "https://github.com/stackscope/stackscope")
	if in.Version != "" {
		run.Tool.Driver.WithVersion(in.Version)
	}
	for _, r := range sarifRules {
		run.AddRule(r.id).
			WithName(r.name).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(r.short)).
			WithFullDescription(sarif.NewMultiformatMessageString().WithText(r.full)).
			WithHelp(sarif.NewMultiformatMessageString().WithText(r.help)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(r.level))
	}
	s := &sarifRun{run: run}
	for _, r := range in.Results {
		s.analysis(r, in)
	}
	for _, l := range in.Layouts {
		s.layout(l)
	}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}

type sarifRun struct {
	run *sarif.Run
}

func ruleLevel(id string) string {
	for _, r := range sarifRules {
		if r.id == id {
			return r.level
		}
	}
	return "warning"
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

func (s *sarifRun) result(rule, text string, at place, related []place, props map[string]any) {
	res := s.run.CreateResultForRule(rule).
		WithLevel(ruleLevel(rule)).
		WithMessage(sarif.NewTextMessage(text))
	res.AddLocation(sarifLocation(at))
	for i, p := range related {
		res.AddRelatedLocation(sarifLocation(p).WithID(i + 1))
	}
	bag := sarif.NewPropertyBag()
	bag.Add("binary", at.binary)
	if at.addr != 0 {
		bag.Add("address", fmt.Sprintf("%#x", at.addr))
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		bag.Add(k, props[k])
	}
	res.WithProperties(bag)
}

func sarifLocation(p place) *sarif.Location {
	loc := sarif.NewLocation()
	if p.file != "" {
		phys := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(fileURI(p.file)))
		if p.line > 0 {
			phys.WithRegion(sarif.NewRegion().WithStartLine(p.line))
		}
		loc.WithPhysicalLocation(phys)
	} else {
		// No source: the binary itself, at the address.
		phys := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(fileURI(p.binary)))
		if p.addr != 0 {
			phys.WithAddress(sarif.NewAddress().WithAbsoluteAddress(int(p.addr)).WithKind("instruction"))
		}
		loc.WithPhysicalLocation(phys)
	}
	if p.function != "" {
		loc.AddLogicalLocation(sarif.NewLogicalLocation().WithName(p.function).WithFullyQualifiedName(p.function).WithKind("function"))
	}
	return loc
}

// fileURI makes a SARIF artifact URI: relative paths stay relative (to the
// checkout, where code-scanning tools resolve them), absolute ones become
// file:// URIs.
func fileURI(path string) string {
	if rel := SourceLine(path, 0); rel != "" && !filepath.IsAbs(rel) && rel != filepath.Base(path) {
		return (&url.URL{Path: filepath.ToSlash(rel)}).String()
	}
	if filepath.IsAbs(path) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	}
	return (&url.URL{Path: filepath.ToSlash(path)}).String()
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

func reasonPlace(r *analysis.Result, rs bound.Reason) place {
	if rs.Library != "" {
		return place{binary: rs.Library, function: rs.Function, addr: rs.Addr}
	}
	p := place{binary: r.Binary, function: rs.Function, addr: rs.Addr, file: rs.File, line: rs.Line}
	if p.file == "" {
		fp := functionPlace(r, rs.Function)
		p.file, p.line = fp.file, fp.line
	}
	return p
}

func (s *sarifRun) analysis(r *analysis.Result, in SARIFInput) {
	budgetOf := func(name string) int64 {
		if in.BudgetOf == nil {
			return 0
		}
		return in.BudgetOf(r, name)
	}
	for _, e := range r.Entries {
		at := functionPlace(r, e.Name)
		pathProp := strings.Join(e.Path, " -> ")
		if b := budgetOf(e.Name); b > 0 {
			switch {
			case e.Bounded && *e.Bound > b:
				s.result(RuleBudget, fmt.Sprintf("%s: worst case %s exceeds the budget of %s by %s; worst path: %s",
					e.Name, Bytes(*e.Bound), Bytes(b), Bytes(*e.Bound-b), pathProp), at, stepPlaces(r, e), map[string]any{"bound": *e.Bound, "budget": b})
			case !e.Bounded && (e.AtLeast > b || !in.AllowUnbounded):
				s.result(RuleBudget, fmt.Sprintf("%s: not bounded (at least %s) against a budget of %s", e.Name, Bytes(e.AtLeast), Bytes(b)),
					at, nil, map[string]any{"at_least": e.AtLeast, "budget": b})
			}
		}
		if !e.Bounded {
			var related []place
			for i, rs := range e.Reasons {
				if i == 20 {
					break
				}
				related = append(related, reasonPlace(r, rs))
			}
			at := at
			if len(e.Reasons) > 0 && e.Reasons[0].Library == "" {
				at = reasonPlace(r, e.Reasons[0])
			}
			s.result(RuleUnbounded, fmt.Sprintf("%s has no stack bound (at least %s): %s", e.Name, Bytes(e.AtLeast), reasonSummary(e.Reasons)),
				at, related, map[string]any{"entry": e.Name, "at_least": e.AtLeast})
		} else if len(e.Assumptions) > 0 {
			var related []place
			for i, a := range e.Assumptions {
				if i == 20 {
					break
				}
				p := place{binary: r.Binary, function: a.Function, addr: a.Addr, file: a.File, line: a.Line}
				if a.Library != "" {
					p = place{binary: a.Library, function: a.Function, addr: a.Addr}
				}
				related = append(related, p)
			}
			s.result(RuleAssumed, fmt.Sprintf("%s: the bound of %s assumes %d indirect-call target sets or declared frames (first: %s at %#x, %s)",
				e.Name, Bytes(*e.Bound), len(e.Assumptions), e.Assumptions[0].Function, e.Assumptions[0].Addr, e.Assumptions[0].Detail),
				at, related, map[string]any{"entry": e.Name, "bound": *e.Bound})
		}
	}
	if in := r.Interrupts; in != nil {
		if b := budgetOf("main_stack"); b > 0 && (in.Bounded && *in.Total > b || !in.Bounded && in.TotalAtLeast > b) {
			total := in.TotalAtLeast
			if in.Bounded {
				total = *in.Total
			}
			s.result(RuleBudget, fmt.Sprintf("main-stack total (reset path and nested interrupts) %s exceeds the budget of %s", Bytes(total), Bytes(b)),
				place{binary: r.Binary}, nil, map[string]any{"total": total, "budget": b})
		}
	}
	for _, t := range r.Threads {
		at := place{binary: r.Binary, function: t.CreatedBy, addr: t.Site, file: t.File, line: t.Line}
		size := "unknown"
		if t.StackSize != nil {
			size = Bytes(*t.StackSize)
		}
		props := map[string]any{"entry": t.Entry, "creator": t.Creator, "stack_size_source": t.SizeSource}
		switch t.Status {
		case "overflow":
			s.result(RuleThreadStack, fmt.Sprintf("thread %s (created by %s with %s): stack of %s: %s; path: %s",
				t.Entry, t.CreatedBy, t.Creator, size, t.Verdict, strings.Join(t.Path, " -> ")), at, nil, props)
		case "unknown":
			why := t.Reason
			if why == "" {
				why = t.SizeSource
			}
			s.result(RuleThreadUnknown, fmt.Sprintf("thread %s (created by %s with %s): stack of %s not judged: %s",
				t.Entry, t.CreatedBy, t.Creator, size, why), at, nil, props)
		}
	}
}

func stepPlaces(r *analysis.Result, e analysis.Entry) []place {
	var out []place
	for _, st := range e.Steps {
		out = append(out, place{binary: r.Binary, function: st.Function, file: st.File, line: st.Line})
	}
	return out
}

// reasonSummary says what keeps an entry unbounded: counts per kind and
// the first few reasons with their place.
func reasonSummary(rs []bound.Reason) string {
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Kind]++
	}
	var parts []string
	for i, r := range rs {
		if i == 3 {
			break
		}
		where := r.Function
		if r.Library != "" {
			where += " (" + r.Library + ")"
		}
		parts = append(parts, fmt.Sprintf("%s in %s: %s%s", r.Kind, where, r.Detail, at(r.File, r.Line)))
	}
	s := kindCounts(counts)
	if len(parts) > 0 {
		s += "; " + strings.Join(parts, "; ")
	}
	return s
}

func (s *sarifRun) layout(l *layout.Report) {
	lines := layoutLines(l.Binary)
	instrPlace := func(name string, in *layout.Instr) place {
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
		s.result(RuleUnsafeLayout, fmt.Sprintf("unsafe stack placement: %s", l.VerdictReason),
			place{binary: l.Binary}, nil, nil)
	}
	if h := l.Headroom; h != nil && (h.Bytes != nil && *h.Bytes < 0 || h.WillOverflowBy > 0) {
		over := h.WillOverflowBy
		if h.Bytes != nil && *h.Bytes < 0 {
			over = -*h.Bytes
		}
		s.result(RuleWillOverflow, fmt.Sprintf("the main stack (%s) is %s smaller than its worst case", Bytes(h.StackSize), Bytes(over)),
			place{binary: l.Binary}, nil, map[string]any{"stack_size": h.StackSize})
	}
	for _, fh := range l.FaultHandlers {
		if fh.UsesStackBeforeSPCheck {
			what := ""
			if fh.FirstStackUse != nil {
				what = ": " + fh.FirstStackUse.What
			}
			s.result(RuleHandlerStack, fmt.Sprintf("fault handler %s (%s) uses the stack before it checks SP%s", fh.Name, strings.Join(fh.Vectors, ", "), what),
				instrPlace(fh.Name, fh.FirstStackUse), nil, nil)
		}
	}
	for _, fh := range l.EndlessLoops {
		s.result(RuleHandlerLoop, fmt.Sprintf("exception handler %s (%s) loops forever", fh.Name, strings.Join(fh.Vectors, ", ")),
			instrPlace(fh.Name, fh.LoopAt), nil, nil)
	}
}

// layoutLines opens the firmware image for its line table; none on error.
func layoutLines(path string) *srcloc.Table {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	t, _ := srcloc.Load(f, path)
	return t
}
