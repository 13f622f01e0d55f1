// Package diff compares two stack analyses of one program (two builds, or
// a build and a stored JSON report): per entry, how the bound changed and
// why (a frame on the worst path grew, a callee joined it, the entry lost
// its bound); per function, the frames that changed.
package diff

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
)

// Entry statuses.
const (
	Grew            = "grew"
	Shrank          = "shrank"
	Same            = "same"
	BecameUnbounded = "became-unbounded"
	BecameBounded   = "became-bounded"
	StillUnbounded  = "still-unbounded"
	Added           = "added"
	Removed         = "removed"
)

// MainStackTotal names the firmware main-stack total where it is shown
// beside the entries.
const MainStackTotal = "main stack total"

// Report is the comparison; its JSON form is the contract of
// `stackscope diff --format json` (keys are only ever added).
type Report struct {
	// StackscopeVersion names the stackscope build that wrote this report
	// (`stackscope version`); set by the command, empty in tests of the library.
	StackscopeVersion string `json:"stackscope_version,omitempty"`

	Old     string        `json:"old"`
	New     string        `json:"new"`
	Entries []EntryChange `json:"entries"`
	// MainStackTotal is, for firmware, the change of the main stack's
	// total (reset path plus one handler per priority level, with
	// exception frames): the number the stack size must cover. Absent
	// unless both sides are firmware.
	MainStackTotal *EntryChange     `json:"main_stack_total,omitempty"`
	Functions      []FunctionChange `json:"functions"`
	// AddedFunctions and RemovedFunctions are functions of one side only.
	AddedFunctions   []string `json:"added_functions"`
	RemovedFunctions []string `json:"removed_functions"`
}

// EntryChange is one entry point's change.
type EntryChange struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// OldBound/NewBound are null when not bounded (or absent); the
	// AtLeast values are the depths certainly reached.
	OldBound   *int64 `json:"old_bound"`
	NewBound   *int64 `json:"new_bound"`
	OldAtLeast int64  `json:"old_at_least"`
	NewAtLeast int64  `json:"new_at_least"`
	// Delta is new minus old (bounds, or at-least depths when either is
	// not bounded); Percent is Delta over the old value (null when old is 0).
	Delta   int64    `json:"delta"`
	Percent *float64 `json:"percent"`
	// Why explains the change from the two worst paths, most important
	// first.
	Why []Cause `json:"why"`
	// NewReasons are what keeps the entry unbounded now and did not before;
	// GoneReasons what kept it unbounded before and no longer does.
	NewReasons  []bound.Reason `json:"new_reasons"`
	GoneReasons []bound.Reason `json:"gone_reasons"`
}

// Cause is one explanation of an entry's change.
type Cause struct {
	// Kind: "frame" (a function on both worst paths changed its frame),
	// "joined" (a function is on the new worst path only), "left" (on the
	// old only), "reason" (a new reason the entry has no bound), "resolved"
	// (a reason it had and no longer has).
	Kind     string `json:"kind"`
	Function string `json:"function"`
	// OldFunction is the function's name in OLD when only its clone
	// suffix changed (frame).
	OldFunction string `json:"old_function,omitempty"`
	// Caller is the function before it on the path (joined/left).
	Caller   string `json:"caller,omitempty"`
	OldFrame *int64 `json:"old_frame,omitempty"`
	NewFrame *int64 `json:"new_frame,omitempty"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
}

// FunctionChange is one function whose frame changed. Frames include the
// red zone (x86-64 leaf functions), as bounds do.
type FunctionChange struct {
	Name string `json:"name"`
	// OldName is its name in OLD when only its clone suffix changed
	// (scale.constprop.0 -> scale).
	OldName  string `json:"old_name,omitempty"`
	OldFrame int64  `json:"old_frame"`
	NewFrame int64  `json:"new_frame"`
	OldKind  string `json:"old_kind"`
	NewKind  string `json:"new_kind"`
	Delta    int64  `json:"delta"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
}

// Compare compares two results of the same program.
func Compare(old, new *analysis.Result) *Report {
	r := &Report{Old: old.Binary, New: new.Binary, Entries: []EntryChange{}, Functions: []FunctionChange{},
		AddedFunctions: []string{}, RemovedFunctions: []string{}}
	oldEntries := map[string]analysis.Entry{}
	for _, e := range old.Entries {
		oldEntries[e.Name] = e
	}
	newFuncs := functionsByName(new)
	oldFuncs := functionsByName(old)
	renamed := clonePairs(oldFuncs, newFuncs)
	oldNameOf := map[string]string{}
	for o, n := range renamed {
		oldNameOf[n] = o
	}
	seen := map[string]bool{}
	for _, ne := range new.Entries {
		seen[ne.Name] = true
		oe, ok := oldEntries[ne.Name]
		if !ok {
			r.Entries = append(r.Entries, EntryChange{Name: ne.Name, Status: Added, NewBound: ne.Bound, NewAtLeast: ne.AtLeast, Why: []Cause{}, NewReasons: []bound.Reason{}, GoneReasons: []bound.Reason{}})
			continue
		}
		r.Entries = append(r.Entries, compareEntry(oe, ne, newFuncs, renamed))
	}
	for _, oe := range old.Entries {
		if !seen[oe.Name] {
			r.Entries = append(r.Entries, EntryChange{Name: oe.Name, Status: Removed, OldBound: oe.Bound, OldAtLeast: oe.AtLeast, Why: []Cause{}, NewReasons: []bound.Reason{}, GoneReasons: []bound.Reason{}})
		}
	}
	for name, nf := range newFuncs {
		oldName := name
		if o, ok := oldNameOf[name]; ok {
			oldName = o
		}
		of, ok := oldFuncs[oldName]
		if !ok {
			r.AddedFunctions = append(r.AddedFunctions, name)
			continue
		}
		// Frames with the red zone a leaf uses below SP, as the bound
		// counts them (and as the worst-path causes show them).
		oldFrame, newFrame := of.FrameAtLeast+of.RedZone, nf.FrameAtLeast+nf.RedZone
		if oldFrame != newFrame || of.FrameKind != nf.FrameKind {
			fc := FunctionChange{Name: name, OldFrame: oldFrame, NewFrame: newFrame,
				OldKind: of.FrameKind, NewKind: nf.FrameKind, Delta: newFrame - oldFrame, File: nf.File, Line: nf.Line}
			if oldName != name {
				fc.OldName = oldName
			}
			r.Functions = append(r.Functions, fc)
		}
	}
	for name := range oldFuncs {
		if _, ok := newFuncs[name]; !ok && renamed[name] == "" {
			r.RemovedFunctions = append(r.RemovedFunctions, name)
		}
	}
	r.MainStackTotal = compareTotals(old.Interrupts, new.Interrupts)
	sort.Slice(r.Functions, func(i, j int) bool {
		a, b := abs(r.Functions[i].Delta), abs(r.Functions[j].Delta)
		if a != b {
			return a > b
		}
		return r.Functions[i].Name < r.Functions[j].Name
	})
	sort.Strings(r.AddedFunctions)
	sort.Strings(r.RemovedFunctions)
	return r
}

// functionsByName indexes a result's functions; of several local
// functions with one name, the first (by address) stands for them.
func functionsByName(r *analysis.Result) map[string]analysis.Function {
	out := map[string]analysis.Function{}
	for _, f := range r.Functions {
		if _, dup := out[f.Name]; !dup {
			out[f.Name] = f
		}
	}
	return out
}

// compareTotals compares the main-stack totals of two firmware images as
// an entry named "main stack total" (its causes are the entries' own).
func compareTotals(old, new *analysis.Interrupts) *EntryChange {
	if old == nil || new == nil {
		return nil
	}
	asEntry := func(in *analysis.Interrupts) analysis.Entry {
		return analysis.Entry{Name: MainStackTotal, Bounded: in.Total != nil, Bound: in.Total, AtLeast: in.TotalAtLeast}
	}
	c := compareEntry(asEntry(old), asEntry(new), nil, nil)
	return &c
}

// cloneSuffix matches the suffixes GCC and LLVM give a function's
// specialised copies (scale.constprop.0.isra.0, parse.part.0, f.llvm.123):
// an edit can change them while the function stays the same one.
var cloneSuffix = regexp.MustCompile(`(\.(constprop|isra|part|cold|lto_priv|llvm|clone|localalias|specialized)(\.[0-9]+)*)+$`)

// clonePairs pairs the functions of one side only whose names differ
// only by clone suffixes, where the pairing is unique: old name -> new
// name. Without it a frame that grew reads as a function removed and a
// new one called.
func clonePairs(oldFuncs, newFuncs map[string]analysis.Function) map[string]string {
	unmatched := func(side, other map[string]analysis.Function) map[string][]string {
		byBase := map[string][]string{}
		for n := range side {
			if _, ok := other[n]; !ok {
				base := cloneSuffix.ReplaceAllString(n, "")
				byBase[base] = append(byBase[base], n)
			}
		}
		return byBase
	}
	olds, news := unmatched(oldFuncs, newFuncs), unmatched(newFuncs, oldFuncs)
	pairs := map[string]string{}
	for base, o := range olds {
		if n := news[base]; len(o) == 1 && len(n) == 1 {
			pairs[o[0]] = n[0]
		}
	}
	return pairs
}

func compareEntry(oe, ne analysis.Entry, newFuncs map[string]analysis.Function, renamed map[string]string) EntryChange {
	c := EntryChange{Name: ne.Name, OldBound: oe.Bound, NewBound: ne.Bound, OldAtLeast: oe.AtLeast, NewAtLeast: ne.AtLeast,
		Why: []Cause{}, NewReasons: []bound.Reason{}, GoneReasons: []bound.Reason{}}
	oldV, newV := oe.AtLeast, ne.AtLeast
	if oe.Bounded && ne.Bounded {
		oldV, newV = *oe.Bound, *ne.Bound
	}
	c.Delta = newV - oldV
	if oldV != 0 {
		p := 100 * float64(c.Delta) / float64(oldV)
		c.Percent = &p
	}
	switch {
	case oe.Bounded && !ne.Bounded:
		c.Status = BecameUnbounded
	case !oe.Bounded && ne.Bounded:
		c.Status = BecameBounded
	case !oe.Bounded && !ne.Bounded:
		c.Status = StillUnbounded
	case c.Delta > 0:
		c.Status = Grew
	case c.Delta < 0:
		c.Status = Shrank
	default:
		c.Status = Same
	}
	// New reasons: those of the new entry whose kind and function the
	// old one did not have; gone ones the other way round. A reason is
	// known by its kind and function (by its name in NEW).
	key := func(r bound.Reason) string {
		if n, ok := renamed[r.Function]; ok {
			return r.Kind + "\x00" + n
		}
		return r.Kind + "\x00" + r.Function
	}
	had, has := map[string]bool{}, map[string]bool{}
	for _, r := range oe.Reasons {
		had[key(r)] = true
	}
	for _, r := range ne.Reasons {
		has[key(r)] = true
		if !had[key(r)] {
			c.NewReasons = append(c.NewReasons, r)
			c.Why = append(c.Why, Cause{Kind: "reason", Function: r.Function, Detail: reasonDetail(r), File: r.File, Line: r.Line})
		}
	}
	for _, r := range oe.Reasons {
		if !has[key(r)] {
			c.GoneReasons = append(c.GoneReasons, r)
			c.Why = append(c.Why, Cause{Kind: "resolved", Function: r.Function, Detail: reasonDetail(r), File: r.File, Line: r.Line})
		}
	}
	if c.Status != Same {
		c.Why = append(c.Why, pathCauses(oe.Steps, ne.Steps, newFuncs, renamed)...)
	}
	return c
}

// reasonDetail is "kind: detail", without saying the kind twice
// ("recursion through helper" already says it).
func reasonDetail(r bound.Reason) string {
	if strings.HasPrefix(r.Detail, r.Kind) {
		return r.Detail
	}
	return r.Kind + ": " + r.Detail
}

// pathCauses explains a change from the two worst paths: the frames that
// changed on both, the functions that joined the new path (with their
// caller) and those that left it. Largest effect first.
func pathCauses(old, new []analysis.PathStep, newFuncs map[string]analysis.Function, renamed map[string]string) []Cause {
	// Old steps by the name the function has in NEW.
	newName := func(old string) string {
		if n, ok := renamed[old]; ok {
			return n
		}
		return old
	}
	oldSteps := map[string]analysis.PathStep{}
	for _, st := range old {
		oldSteps[newName(st.Function)] = st
	}
	newSteps := map[string]bool{}
	var frames, joined, left []Cause
	for i, st := range new {
		newSteps[st.Function] = true
		nf := st.Frame + st.RedZone
		if was, ok := oldSteps[st.Function]; ok {
			of := was.Frame + was.RedZone
			if of != nf || was.Kind != st.Kind {
				c := Cause{Kind: "frame", Function: st.Function, OldFrame: ptr(of), NewFrame: ptr(nf), File: st.File, Line: st.Line}
				if was.Function != st.Function {
					c.OldFunction = was.Function
				}
				if was.Kind != st.Kind {
					c.Detail = fmt.Sprintf("frame kind %s -> %s", was.Kind, st.Kind)
				}
				frames = append(frames, c)
			}
			continue
		}
		c := Cause{Kind: "joined", Function: st.Function, NewFrame: ptr(nf), File: st.File, Line: st.Line}
		if i > 0 {
			c.Caller = new[i-1].Function
		}
		if st.Kind != "static" {
			c.Detail = "frame " + st.Kind
		}
		joined = append(joined, c)
	}
	for i, st := range old {
		if newSteps[newName(st.Function)] {
			continue
		}
		c := Cause{Kind: "left", Function: st.Function, OldFrame: ptr(st.Frame + st.RedZone)}
		if i > 0 {
			c.Caller = old[i-1].Function
		}
		if f, ok := newFuncs[newName(st.Function)]; ok {
			c.File, c.Line = f.File, f.Line
		} else {
			c.Detail = "no longer in the program"
		}
		left = append(left, c)
	}
	sort.SliceStable(frames, func(i, j int) bool {
		return abs(*frames[i].NewFrame-*frames[i].OldFrame) > abs(*frames[j].NewFrame-*frames[j].OldFrame)
	})
	return append(append(frames, joined...), left...)
}

func ptr(v int64) *int64 { return &v }

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// EntriesAndTotal is the entries, then the firmware main-stack total when
// there is one: everything --max-growth judges.
func (r *Report) EntriesAndTotal() []EntryChange {
	if r.MainStackTotal == nil {
		return r.Entries
	}
	return append(append([]EntryChange(nil), r.Entries...), *r.MainStackTotal)
}

// Threshold is a --max-growth limit: bytes, or a percentage of the old
// bound.
type Threshold struct {
	Bytes   int64
	Percent float64
	IsPct   bool
}

// Exceeded lists the entries that grew past t (a bound, or for an entry
// with none the depth it certainly reaches) or lost their bound.
func (r *Report) Exceeded(t Threshold) []EntryChange {
	var out []EntryChange
	for _, e := range r.EntriesAndTotal() {
		switch e.Status {
		case BecameUnbounded:
			out = append(out, e)
		case Grew, StillUnbounded:
			// An entry without a bound counts by the depth it certainly
			// reaches: that growing past the limit is growth.
			if e.Delta <= 0 {
				continue
			}
			if t.IsPct {
				if e.Percent == nil || *e.Percent > t.Percent {
					out = append(out, e)
				}
			} else if e.Delta > t.Bytes {
				out = append(out, e)
			}
		}
	}
	return out
}
