package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/size"
)

// threadsText writes the THREADS section: one line per thread or task,
// verdict first, then where each stack size came from and, for anything
// not ok, why and the path.
func threadsText(w io.Writer, r *analysis.Result) {
	if len(r.Threads) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTHREADS")
	t := newTable("", false, true, true, false)
	t.row("VERDICT", "STACK", "NEEDS", "ENTRY")
	for _, th := range r.Threads {
		stack := "?"
		if th.StackSize != nil {
			stack = size.FormatCapacity(*th.StackSize)
			if th.DefaultSize {
				stack += " (default)"
			}
		}
		need := threadNeed(th)
		entry := th.Entry
		if entry == "" {
			entry = "?"
		}
		created := th.Creator + " in " + th.CreatedBy
		t.row(threadVerdict(th), stack, need, entry+" ("+created+")")
	}
	t.write(w)
	notes := map[string]bool{}
	var noteOrder []string
	for _, th := range r.Threads {
		name := th.Entry
		if name == "" {
			name = "?"
		}
		if th.Site != 0 {
			name += fmt.Sprintf(" (%#x)", th.Site)
		}
		fmt.Fprintf(w, "  %s: size from %s\n", name, th.SizeSource)
		if th.Reason != "" {
			fmt.Fprintf(w, "    %s\n", th.Reason)
		}
		if th.Status != "ok" && len(th.Path) > 1 {
			path := th.Path
			more := ""
			if len(path) > 12 {
				more = fmt.Sprintf(" -> ... (%d more)", len(path)-12)
				path = path[:12]
			}
			fmt.Fprintf(w, "    path: %s%s\n", strings.Join(path, " -> "), more)
		}
		if a := th.AfterEntry; a != nil && a.Counted && a.Bound != nil && (th.Bound == nil || *a.Bound > *th.Bound) {
			fmt.Fprintf(w, "    after %s returns, start_thread reaches %s below where %s's frame starts: %s\n", th.Entry, Bytes(*a.Bound), th.Entry, strings.Join(a.Path, " -> "))
		}
		if th.Context > 0 {
			n := fmt.Sprintf("NEEDS counts %s of context: %s", Bytes(th.Context), th.ContextNote)
			if !notes[n] {
				notes[n] = true
				noteOrder = append(noteOrder, n)
			}
		}
	}
	for _, n := range noteOrder {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// threadNeed is the NEEDS column: what the verdict compared with the
// stack (the context and the larger of the entry's bound and what
// start_thread runs after it), "≥ " when only a certain depth is known.
func threadNeed(th analysis.Thread) string {
	switch {
	case th.Entry == "":
		return "?"
	case th.NeedAtLeast:
		return "≥ " + Bytes(th.Need)
	}
	return Bytes(th.Need)
}

func threadVerdict(th analysis.Thread) string {
	switch th.Status {
	case "overflow":
		if th.NeedAtLeast {
			return "OVERFLOW by at least " + Bytes(th.Over)
		}
		return "OVERFLOW by " + Bytes(th.Over)
	case "ok":
		return "ok"
	}
	return "unknown"
}
