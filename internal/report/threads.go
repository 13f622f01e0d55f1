package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
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
			stack = Bytes(*th.StackSize)
			if th.DefaultSize {
				stack += " (default)"
			}
		}
		need := "?"
		switch {
		case th.Bound != nil:
			need = Bytes(*th.Bound + th.Context)
		case th.Entry != "?":
			need = "≥ " + Bytes(th.AtLeast+th.Context)
		}
		created := th.Creator + " in " + th.CreatedBy
		if th.Site != 0 {
			created += fmt.Sprintf(" at %#x", th.Site)
		}
		t.row(threadVerdict(th), stack, need, th.Entry+" ("+created+")")
	}
	t.write(w)
	for _, th := range r.Threads {
		fmt.Fprintf(w, "  %s: size from %s", th.Entry, th.SizeSource)
		if th.Context > 0 {
			fmt.Fprintf(w, "; NEEDS counts %s of context (%s)", Bytes(th.Context), th.ContextNote)
		}
		fmt.Fprintln(w)
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
	}
}

func threadVerdict(th analysis.Thread) string {
	switch th.Status {
	case "overflow":
		if th.Bound == nil {
			return "OVERFLOW by at least " + Bytes(th.Over)
		}
		return "OVERFLOW by " + Bytes(th.Over)
	case "ok":
		return "ok"
	}
	return "unknown"
}
