package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
)

// The reasons of an unbounded entry, for a person: one line per group
// (a kind in a function) of the file's own code, each with the fix that
// fits; a library's reasons in one line per library (what its author can
// act on is the call of the program's own code that reaches them), with
// their fixes; every reason with its address is in the JSON.

// reasonGroup is the reasons of one kind in one function.
type reasonGroup struct {
	first bound.Reason
	count int
}

// libraryReasons are the reasons of one library not shown one by one.
type libraryReasons struct {
	name      string
	kinds     map[string]int
	functions map[string]bool
	fixes     []string
}

// reasonsMemo keeps the text of each reason list already written in one
// report: analysis shares one list among the entries whose lists are
// equal, and a large library's entries share a few thousand lists
// (libLLVM-15: 36,687 entries), so grouping each list again for every
// entry was a sixth of that run. The text depends only on the list and
// the options, which do not change within a report.
type reasonsMemo map[reasonsKey][]byte

// reasonsKey names a reason list by its backing array and length: the
// same key is the same list.
type reasonsKey struct {
	first *bound.Reason
	n     int
}

// write writes e's reasons (reasonsText), from the memo when e shares its
// list with an entry written before.
func (m reasonsMemo) write(w io.Writer, e analysis.Entry, o AnalyzeOptions) {
	if len(e.Reasons) == 0 {
		reasonsText(w, e, o)
		return
	}
	key := reasonsKey{&e.Reasons[0], len(e.Reasons)}
	text, ok := m[key]
	if !ok {
		var b bytes.Buffer
		reasonsText(&b, e, o)
		text = b.Bytes()
		m[key] = text
	}
	w.Write(text)
}

func reasonsText(w io.Writer, e analysis.Entry, o AnalyzeOptions) {
	var groups []*reasonGroup
	byGroup := map[string]*reasonGroup{}
	for _, r := range e.Reasons {
		key := r.Group
		if key == "" {
			key = analysis.ReasonGroup(r)
		}
		if g := byGroup[key]; g != nil {
			g.count++
			continue
		}
		g := &reasonGroup{first: r, count: 1}
		byGroup[key] = g
		groups = append(groups, g)
	}
	// A library's groups whose fix is the library's usual one (a frame
	// for the program's call into it) are summed up per library; one
	// with a fix of its own (link with -z now) is shown.
	usual := map[string]string{}
	counts := map[string]map[string]int{}
	for _, g := range groups {
		if lib := g.first.Library; lib != "" {
			if counts[lib] == nil {
				counts[lib] = map[string]int{}
			}
			counts[lib][firstFix(g.first.Suggestion)] += g.count
		}
	}
	for lib, c := range counts {
		best := -1
		for fix, n := range c {
			if n > best || n == best && fix < usual[lib] {
				usual[lib], best = fix, n
			}
		}
	}
	var libs []*libraryReasons
	byLib := map[string]*libraryReasons{}
	shown := 0
	fmt.Fprintf(w, "  why (%d %s in %d %s; every one with its address: --format json):\n",
		len(e.Reasons), plural(len(e.Reasons), "reason", "reasons"), len(groups), plural(len(groups), "group", "groups"))
	// Each group's line and its fix: the fix lines are not in the table
	// (a long fix would widen every column).
	type line struct{ kind, function, detail, fix string }
	var lines []line
	for _, g := range groups {
		r := g.first
		own := r.Library == "" || firstFix(r.Suggestion) != usual[r.Library]
		if own && shown < o.MaxReasons {
			shown++
			detail := r.Detail
			if g.count > 1 {
				detail += fmt.Sprintf(" (and %d more in it)", g.count-1)
			}
			lines = append(lines, line{r.Kind, r.Function, detail + at(r.File, r.Line), r.Suggestion})
			continue
		}
		lib := r.Library
		if lib == "" {
			lib = "this file"
		}
		l := byLib[lib]
		if l == nil {
			l = &libraryReasons{name: lib, kinds: map[string]int{}, functions: map[string]bool{}}
			byLib[lib] = l
			libs = append(libs, l)
		}
		l.kinds[r.Kind] += g.count
		l.functions[r.Function] = true
		for _, fix := range strings.Split(r.Suggestion, "; ") {
			if fix != "" && !hasFix(l.fixes, fix) {
				l.fixes = append(l.fixes, fix)
			}
		}
	}
	// Installing debug symbols names every sub_ function of a module: it
	// is said once, under the groups, not on every fix line.
	var names []string
	once := func(fix string) string {
		var keep []string
		for _, part := range strings.Split(fix, "; ") {
			if strings.HasPrefix(part, "install ") {
				if !hasFix(names, part) {
					names = append(names, part)
				}
				continue
			}
			keep = append(keep, part)
		}
		return strings.Join(keep, "; ")
	}
	for i := range lines {
		lines[i].fix = once(lines[i].fix)
	}
	for _, l := range libs {
		var keep []string
		for _, fix := range l.fixes {
			if f := once(fix); f != "" {
				keep = append(keep, f)
			}
		}
		l.fixes = keep
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l.kind))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "    %-*s  %s: %s\n", width, l.kind, l.function, l.detail)
		if l.fix != "" {
			fmt.Fprintf(w, "    %-*s  fix: %s\n", width, "", l.fix)
		}
	}
	// Libraries whose fixes are the same (a [[frame]] for the one call of
	// the program's that reaches them both) share one fix line, after the
	// last of them.
	for i, l := range libs {
		fmt.Fprintf(w, "    in %s: %s in %d %s\n", l.name, kindCounts(l.kinds), len(l.functions), plural(len(l.functions), "function", "functions"))
		fix := strings.Join(l.fixes[:min(len(l.fixes), 3)], "; ")
		if fix == "" || i+1 < len(libs) && fix == strings.Join(libs[i+1].fixes[:min(len(libs[i+1].fixes), 3)], "; ") {
			continue
		}
		shared := 1
		for j := i - 1; j >= 0 && fix == strings.Join(libs[j].fixes[:min(len(libs[j].fixes), 3)], "; "); j-- {
			shared++
		}
		switch shared {
		case 1:
			fmt.Fprintf(w, "      fix: %s\n", fix)
		case 2:
			fmt.Fprintf(w, "      fix (both): %s\n", fix)
		default:
			fmt.Fprintf(w, "      fix (these %d): %s\n", shared, fix)
		}
	}
	for _, n := range names {
		fmt.Fprintf(w, "    names: %s\n", n)
	}
}

// firstFix is a suggestion's first part (parts are joined by "; ").
func firstFix(s string) string {
	first, _, _ := strings.Cut(s, "; ")
	return first
}

func hasFix(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// ownCodeText is an entry's own-code bound (--own-code): the number, the
// path it comes from (a library function's step is its whole bound), and
// each library call without a bound, at the depth it is made, with its
// first reason.
func ownCodeText(w io.Writer, e analysis.Entry) {
	oc := e.OwnCode
	if oc == nil {
		return
	}
	var open []analysis.LibraryCall
	bounded := 0
	for _, lc := range oc.LibraryCalls {
		if lc.Bounded {
			bounded++
		} else {
			open = append(open, lc)
		}
	}
	head := fmt.Sprintf("  own code (--own-code): %s%s", Bytes(oc.AtLeast), AssumedText(oc.Assumptions))
	if !oc.Bounded {
		head = fmt.Sprintf("  own code (--own-code): NOT BOUNDED (at least %s): %d %s in the file's own code",
			Bytes(oc.AtLeast), len(oc.Reasons), plural(len(oc.Reasons), "reason", "reasons"))
	}
	head += fmt.Sprintf(", %d library %s counted by %s bound", bounded, plural(bounded, "call", "calls"), plural(bounded, "its", "their"))
	if len(open) > 0 {
		head += fmt.Sprintf(", + %d without one (each needs its own depth on top of where it is called)", len(open))
	}
	fmt.Fprintln(w, head)
	var parts []string
	for _, st := range oc.Steps {
		p := fmt.Sprintf("%s %s", st.Function, Bytes(st.Frame))
		switch {
		case st.LibraryBound:
			p += " (its bound)"
		case st.Kind != "static" || strings.HasSuffix(st.Function, ")") && st.Frame == 0:
			p = st.Function + " (not bounded: below)"
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "    = %s\n", strings.Join(parts, " -> "))
	}
	for _, lc := range open {
		name := lc.Function
		if lc.Library != "" {
			name += " (" + lc.Library + ")"
		}
		why := "no bound"
		if len(lc.Reasons) > 0 {
			r := lc.Reasons[0]
			why = fmt.Sprintf("%s in %s at %#x%s", r.Kind, r.Function, r.Addr, at(r.File, r.Line))
			if lc.ReasonCount > 1 {
				why += fmt.Sprintf(" and %d more", lc.ReasonCount-1)
			}
		}
		fmt.Fprintf(w, "    + %s, called at %s: not bounded (at least %s): %s\n", name, Bytes(lc.CallDepth), Bytes(lc.AtLeast), why)
	}
}
