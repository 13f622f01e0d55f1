package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildActionable compiles analysis's fixture with a real recursion
// through qsort's comparator, an indirect call and a printf.
func buildActionable(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("..", "analysis", "testdata", "x86", "actionable.c"))
	bin := filepath.Join(dir, "prog")
	testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), "-O1", "-Wl,-z,now", "-o", bin, src)
	return bin
}

// section returns the lines of the text from the first line that starts
// with from up to (not including) the next one that starts with to.
func section(text, from, to string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, from) && !in:
			in = true
		case in && strings.HasPrefix(l, to):
			return out
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}

// TestReasonsText: main's reasons are grouped, the recursion's cycle is
// the real one first, each group's line carries its fix, and the section
// stays short. The bound: one header, two lines (reason, fix) per group
// of the program's own file (the recursion through the comparator at
// sort_tree and, while the program start is modelled as today, ld.so's
// lazy-binding resolver: at most 2), two per library its reasons are in
// (libc.so.6, ld-linux-x86-64.so.2), and one "names:" line for the debug
// symbols of a stripped libc: 1 + 2*2 + 2*2 + 1 = 10 lines for some 70
// reasons.
func TestReasonsText(t *testing.T) {
	res, err := analysis.Run(buildActionable(t), analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var main analysis.Entry
	for _, e := range res.Entries {
		if e.Name == "main" {
			main = e
		}
	}
	var out bytes.Buffer
	AnalyzeText(&out, res, AnalyzeOptions{})
	why := section(out.String(), "  why (", "  deepest known path:")
	if len(why) == 0 {
		t.Fatalf("no why section in\n%s", out.String())
	}
	if len(why) > 10 {
		t.Errorf("%d lines of reasons, want at most 10:\n%s", len(why), strings.Join(why, "\n"))
	}
	if len(main.Reasons) <= len(why) {
		t.Errorf("%d reasons in %d lines: nothing grouped", len(main.Reasons), len(why))
	}
	var rec string
	for i, l := range why[1:] {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "fix") || strings.HasPrefix(trimmed, "names:") {
			continue
		}
		// Every reason line is followed by its fix; library lines by
		// theirs, or by the next library's line when the two share
		// it ("fix (both)").
		next := ""
		if i+2 < len(why) {
			next = strings.TrimSpace(why[i+2])
		}
		shared := strings.HasPrefix(trimmed, "in ") && strings.HasPrefix(next, "in ")
		if !shared && !strings.HasPrefix(next, "fix:") && !strings.HasPrefix(next, "fix (") {
			t.Errorf("no fix under %q", l)
		}
		if strings.HasPrefix(trimmed, "recursion") {
			rec = l
		}
	}
	if !strings.Contains(rec, "sort_tree: recursion through sort_tree -> qsort (libc.so.6) -> ") {
		t.Errorf("recursion line %q, want the real cycle from sort_tree through qsort first", rec)
	}
	if strings.Index(rec, "[any of") < strings.Index(rec, "back to sort_tree") {
		t.Errorf("recursion line %q names an assumed set before the real cycle", rec)
	}
	for _, hub := range strings.Split(rec, "[any of ")[1:] {
		set := "[any of " + hub[:strings.Index(hub, "]")+1]
		if n := strings.Count(rec, set); n != 1 {
			t.Errorf("%s named %d times", set, n)
		}
	}
	if !strings.Contains(out.String(), `fix: [[recursion]] function = "sort_tree" depth = N`) {
		t.Errorf("no [[recursion]] snippet for sort_tree in\n%s", strings.Join(why, "\n"))
	}
}

// TestOwnCodeText: --own-code's line gives the number, its path with the
// library function's bound marked, and printf and qsort listed by name
// with the depth they are called at.
func TestOwnCodeText(t *testing.T) {
	res, err := analysis.Run(buildActionable(t), analysis.Options{OwnCode: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	AnalyzeText(&out, res, AnalyzeOptions{})
	own := section(out.String(), "  own code (--own-code): ", "\n")
	var main *analysis.OwnCode
	for _, e := range res.Entries {
		if e.Name == "main" {
			main = e.OwnCode
		}
	}
	if main == nil || len(own) < 4 {
		t.Fatalf("own code %+v, text:\n%s", main, out.String())
	}
	if want := "  own code (--own-code): " + Bytes(main.AtLeast); !strings.HasPrefix(own[0], want) {
		t.Errorf("first line %q, want it to start %q", own[0], want)
	}
	for _, lc := range main.LibraryCalls {
		if lc.Bounded {
			continue
		}
		want := "    + " + lc.Function + " (libc.so.6), called at " + Bytes(lc.CallDepth) + ": not bounded (at least "
		if !strings.Contains(out.String(), want) {
			t.Errorf("no line %q", want)
		}
	}
	for _, name := range []string{"printf", "qsort"} {
		if !strings.Contains(out.String(), "    + "+name+" (libc.so.6), called at ") {
			t.Errorf("%s not listed as a library call without a bound", name)
		}
	}
}
