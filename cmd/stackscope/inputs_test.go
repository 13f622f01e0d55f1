package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
)

// kindOf reads the "kind" key of a JSON file (of its first element for an
// array).
func kindOf(t *testing.T, path string) string {
	t.Helper()
	data := readFile(t, path)
	var one struct {
		Kind string `json:"kind"`
	}
	if strings.HasPrefix(strings.TrimSpace(data), "[") {
		var list []struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(data), &list); err != nil || len(list) == 0 {
			t.Fatalf("%s: %v", path, err)
		}
		return list[0].Kind
	}
	if err := json.Unmarshal([]byte(data), &one); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return one.Kind
}

// checkOneLine asserts stderr is exactly one "stackscope: " line holding every
// want.
func checkOneLine(t *testing.T, what, errOut string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(errOut, "stackscope: ") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("%s: stderr %q, want one stackscope: line", what, errOut)
		return
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("%s: stderr %q lacks %q", what, errOut, w)
		}
	}
}

// TestCheckedInputs: every JSON stackscope writes says its kind; report
// --run takes only a run record, and a record of another program (by build
// ID) is warned about, refused with --strict; diff takes only analyze JSON.
// The programs are compiled and run for real.
func TestCheckedInputs(t *testing.T) {
	prog := buildC(t, "testdata/outerr.c", "-O0")
	other := buildC(t, "testdata/deep.c", "-O0")
	if binfile.BuildIDOf(prog) == "" || binfile.BuildIDOf(prog) == binfile.BuildIDOf(other) {
		t.Fatalf("the test needs two programs with distinct build IDs: %q %q", binfile.BuildIDOf(prog), binfile.BuildIDOf(other))
	}
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }

	// Each command's JSON, written for real, with its kind.
	rec := file("run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", rec, "--", prog); code != 3 {
		t.Fatalf("run: exit %d (%s), want outerr's 3", code, errOut)
	}
	ana := file("analyze.json")
	if code, _, errOut := capture(t, "analyze", "--no-libraries", "--format", "json", "-o", ana, prog); code != 0 {
		t.Fatalf("analyze: exit %d (%s)", code, errOut)
	}
	ana2 := file("analyze2.json")
	if code, _, errOut := capture(t, "analyze", "--no-libraries", "--format", "json", "-o", ana2, prog, other); code != 0 {
		t.Fatalf("analyze two files: exit %d (%s)", code, errOut)
	}
	lay := file("layout.json")
	if code, _, errOut := capture(t, "layout", "--format", "json", "-o", lay, "../../examples/firmware/firmware.elf"); code != 1 {
		t.Fatalf("layout: exit %d (%s), want 1 (the example is unsafe)", code, errOut)
	}
	dif := file("diff.json")
	if code, _, errOut := capture(t, "diff", "--format", "json", "-o", dif, ana, ana); code != 0 {
		t.Fatalf("diff: exit %d (%s)", code, errOut)
	}
	for path, want := range map[string]string{rec: "run", ana: "analyze", ana2: "analyze", lay: "layout", dif: "diff"} {
		if got := kindOf(t, path); got != want {
			t.Errorf("%s: kind %q, want %q", filepath.Base(path), got, want)
		}
	}
	var r struct {
		Executable struct {
			Path    string `json:"path"`
			Size    int64  `json:"size"`
			BuildID string `json:"build_id"`
		} `json:"executable"`
	}
	json.Unmarshal([]byte(readFile(t, rec)), &r)
	st, _ := os.Stat(prog)
	if r.Executable.BuildID != binfile.BuildIDOf(prog) || r.Executable.Path != prog || r.Executable.Size != st.Size() {
		t.Errorf("run record names %+v, want %s (%d bytes, build ID %s)", r.Executable, prog, st.Size(), binfile.BuildIDOf(prog))
	}

	// report --run: only a run record, and the right program's.
	page := file("page.html")
	for name, c := range map[string]struct {
		args []string
		want []string
	}{
		"analyze JSON as run": {[]string{"report", "--no-libraries", "--run", ana, "-o", page, prog}, []string{ana, "a JSON report of stackscope analyze", "not a run record"}},
		"layout JSON as run":  {[]string{"report", "--no-libraries", "--run", lay, "-o", page, prog}, []string{lay, "stackscope layout"}},
		"another program, --strict": {[]string{"report", "--no-libraries", "--strict", "--run", rec, "-o", page, other},
			[]string{rec, "build ID", "not of " + other}},
		"run record to diff":  {[]string{"diff", rec, ana}, []string{rec, "run record"}},
		"layout JSON to diff": {[]string{"diff", ana, lay}, []string{lay, "stackscope layout"}},
		// (A negative --top once panicked in the largest-frames list.)
		"analyze --top -1": {[]string{"analyze", "--no-libraries", "--top", "-1", prog}, []string{"--top"}},
		"diff --top -1":    {[]string{"diff", "--top", "-1", ana, ana}, []string{"--top"}},
	} {
		os.Remove(page)
		code, out, errOut := capture(t, c.args...)
		if code != 2 || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing", name, code, out)
		}
		checkOneLine(t, name, errOut, c.want...)
		if _, err := os.Stat(page); err == nil {
			t.Errorf("%s: refused, yet wrote %s", name, page)
		}
	}
	// The record of the program itself: no word.
	if code, _, errOut := capture(t, "report", "--no-libraries", "--run", rec, "-o", page, prog); code != 0 || errOut != "" {
		t.Errorf("report --run (same program): exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	// Of another program: the page is written, with one warning line.
	code, _, errOut := capture(t, "report", "--no-libraries", "--run", rec, "-o", page, other)
	if code != 0 {
		t.Errorf("report --run (other program): exit %d (%s), want 0", code, errOut)
	}
	checkOneLine(t, "report --run (other program)", errOut, "warning", rec, "build ID")
}
