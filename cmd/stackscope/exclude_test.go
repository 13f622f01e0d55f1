package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// excludeProgram is an x86-64 program whose error path (fatal: prints
// through the C library, then exits) is its deepest one.
const excludeProgram = `#include <stdio.h>
#include <stdlib.h>
volatile int sink;
__attribute__((noinline, noreturn)) void fatal(const char *what)
{
    char text[512];
    snprintf(text, sizeof text, "fatal: %s", what);
    fputs(text, stderr);
    exit(1);
}
__attribute__((noinline)) int work(int n)
{
    volatile int buf[16];
    buf[n & 15] = n;
    if (n > 100)
        fatal("too many");
    return buf[3];
}
int main(int argc, char **argv)
{
    (void)argv;
    sink = work(argc);
    return 0;
}
`

func buildExcludeProgram(t *testing.T) (string, map[string]int64) {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "err.c")
	if err := os.WriteFile(src, []byte(excludeProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "err")
	testutil.Run(t, dir, gcc, "-O2", "-fno-optimize-sibling-calls", "-mno-red-zone", "-fstack-usage", "-Wl,-z,now", "-o", bin, src)
	su := map[string]int64{}
	for _, l := range testutil.ParseSU(t, dir) {
		su[l.Function] = l.Bytes
	}
	return bin, su
}

// TestAnalyzeExclude: --exclude sets the error path aside: the entry is
// bounded by the .su frames of the rest, says in one line what it would be
// without, and an unknown name gets one warning line.
func TestAnalyzeExclude(t *testing.T) {
	bin, su := buildExcludeProgram(t)
	base := []string{"analyze", "--no-libraries", "--entry", "main"}

	// Without: fatal's library calls are external, the entry is not
	// bounded, a budget fails, and fatal is suggested for [[exclude]].
	code, out, _ := capture(t, append(base, "--budget", "100000", bin)...)
	if code != exitFinding || !strings.Contains(out, "NOT BOUNDED") {
		t.Fatalf("without --exclude: exit %d, want 1 and NOT BOUNDED\n%s", code, out)
	}
	suggest := "fatal never returns (on the path of 1 entry); if it is an error path, `[[exclude]] function = \"fatal\"` sets it aside"
	if strings.Count(out, suggest) != 1 {
		t.Errorf("want the suggestion %q once:\n%s", suggest, out)
	}
	atLeast := su["main"] + su["work"] + su["fatal"]

	// With: bounded by main + work, within the budget.
	code, out, _ = capture(t, append(base, "--exclude", "fatal", "--budget", "100000", bin)...)
	if code != exitOK {
		t.Fatalf("--exclude fatal: exit %d, want 0\n%s", code, out)
	}
	for _, want := range []string{
		"ok (budget 97.7 KiB), with fatal excluded",
		"excluded; without it: NOT BOUNDED (at least " + size.Format(atLeast) + ")",
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("want %q once:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--strict") || strings.Contains(out, "never returns") {
		t.Errorf("text about assumptions that were not made, or a suggestion already taken:\n%s", out)
	}
	code, out, _ = capture(t, append(base, "--exclude", "fatal", "--format", "json", bin)...)
	if code != exitOK {
		t.Fatalf("json: exit %d", code)
	}
	var res struct {
		Entries []struct {
			Name        string
			Bound       *int64
			Path_frames []struct{ Frame int64 }
			Assumptions []struct {
				Kind             string
				Function         string
				WithoutExclusion *struct {
					Bounded bool
					Bound   *int64
					AtLeast int64 `json:"at_least"`
				} `json:"without_exclusion"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Entries) != 1 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	e := res.Entries[0]
	want := su["main"] + su["work"]
	if e.Bound == nil || *e.Bound != want {
		t.Errorf("bound %v, want %d (main + work by .su)", e.Bound, want)
	}
	var sum int64
	for _, f := range e.Path_frames {
		sum += f.Frame
	}
	if e.Bound != nil && sum != *e.Bound {
		t.Errorf("path sums to %d, bound %d", sum, *e.Bound)
	}
	if len(e.Assumptions) != 1 || e.Assumptions[0].Kind != "excluded" || e.Assumptions[0].Function != "fatal" ||
		e.Assumptions[0].WithoutExclusion == nil || e.Assumptions[0].WithoutExclusion.Bounded || e.Assumptions[0].WithoutExclusion.AtLeast != atLeast {
		t.Errorf("assumptions %+v, want one excluded fatal, not bounded (at least %d) without", e.Assumptions, atLeast)
	}

	// An unknown name: one warning line, nothing else changes.
	code, out, errOut := capture(t, append(base, "--exclude", "fatl", bin)...)
	warn := `warning: exclude "fatl": no function of that name in ` + bin + `; nothing excluded`
	if code != exitOK || strings.Count(out+errOut, warn) != 1 {
		t.Errorf("unknown name: exit %d, want 0 and %q once:\n%s%s", code, warn, out, errOut)
	}

	// A table without a function is a bad configuration: exit 2, one line.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[exclude]]\nfunction = \"\"\n"), 0o644)
	code, _, errOut = capture(t, append(base, "--config", bad, bin)...)
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], bad) {
		t.Errorf("[[exclude]] without a function: exit %d, want 2 and one line naming %s: %q", code, bad, errOut)
	}

	// The same flag on report and diff.
	html := filepath.Join(t.TempDir(), "r.html")
	if code, _, errOut := capture(t, "report", "--no-libraries", "--entry", "main", "--exclude", "fatal", "-o", html, bin); code != exitOK {
		t.Errorf("report --exclude: exit %d: %s", code, errOut)
	}
	if code, out, errOut := capture(t, "diff", "--no-libraries", "--entry", "main", "--exclude", "fatal", bin, bin); code != exitOK {
		t.Errorf("diff --exclude: exit %d: %s%s", code, out, errOut)
	}
}
