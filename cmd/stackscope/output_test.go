package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

const firmware = "../../examples/firmware/firmware.elf"

func isJSON(s string) bool {
	var v any
	return json.Unmarshal([]byte(s), &v) == nil
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func oneLine(s string) bool {
	return strings.Count(strings.TrimSpace(s), "\n") == 0 && strings.TrimSpace(s) != ""
}

// TestOutputFlagsOfStaticCommands: analyze, layout, diff and report take
// --format and -o FILE alike. -o writes to the file exactly what the command
// writes to stdout without it, with the same exit status (layout without
// the memory map exits 1, not proved safe); a format a command does not
// write, and a file that cannot be written, are one-line usage errors
// (exit 2) that leave no file behind.
func TestOutputFlagsOfStaticCommands(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		formats []string // the first is the default
		bad     string
		code    int
	}{
		{"analyze", []string{"analyze", firmware}, []string{"text", "json", "sarif", "dot", "html"}, "xml", exitOK},
		{"layout", []string{"layout", firmware}, []string{"text", "json", "sarif"}, "dot", exitFinding},
		{"diff", []string{"diff", firmware, firmware}, []string{"text", "json"}, "sarif", exitOK},
		{"report", []string{"report", firmware}, []string{"html"}, "json", exitFinding}, // its memory map is not proved safe either
	}
	for _, tc := range cases {
		for _, format := range tc.formats {
			args := append(append([]string{}, tc.args[:1]...), "--format", format)
			args = append(args, tc.args[1:]...)
			code, out, errOut := capture(t, args...)
			if code != tc.code || out == "" {
				t.Errorf("%s --format %s: exit %d (want %d), %d bytes, stderr %q", tc.name, format, code, tc.code, len(out), errOut)
				continue
			}
			if (format == "json" || format == "sarif") && !isJSON(out) {
				t.Errorf("%s --format %s: not JSON: %.200q", tc.name, format, out)
			}
			if format == "text" && isJSON(out) {
				t.Errorf("%s --format text wrote JSON", tc.name)
			}
			file := filepath.Join(dir, tc.name+"."+format)
			code2, out2, errOut2 := capture(t, append([]string{args[0], "-o", file}, args[1:]...)...)
			if code == exitFinding {
				// The line that explains exit 1 also says where the report went.
				errOut = strings.Replace(errOut, "stackscope: exit 1: ", "stackscope: wrote "+file+"; exit 1: ", 1)
			}
			if code2 != code || out2 != "" || errOut2 != errOut {
				t.Errorf("%s --format %s -o: exit %d, stdout %d bytes, stderr %q; without -o: exit %d, stderr %q", tc.name, format, code2, len(out2), errOut2, code, errOut)
			}
			if got := readFile(t, file); got != out {
				t.Errorf("%s --format %s -o: the file (%d bytes) differs from stdout (%d bytes)", tc.name, format, len(got), len(out))
			}
		}
		// The default format is the first.
		code, out, _ := capture(t, tc.args...)
		_, want, _ := capture(t, append([]string{tc.args[0], "--format", tc.formats[0]}, tc.args[1:]...)...)
		if code != tc.code || out != want {
			t.Errorf("%s: the default output is not --format %s", tc.name, tc.formats[0])
		}
		code, out, errOut := capture(t, append([]string{tc.args[0], "--format", tc.bad}, tc.args[1:]...)...)
		if code != exitUsage || out != "" || !oneLine(errOut) || !strings.Contains(errOut, tc.bad) {
			t.Errorf("%s --format %s: exit %d, stdout %q, stderr %q", tc.name, tc.bad, code, out, errOut)
		}
		missing := filepath.Join(dir, "no-such-dir", tc.name+".out")
		code, out, errOut = capture(t, append([]string{tc.args[0], "-o", missing}, tc.args[1:]...)...)
		if code != exitUsage || out != "" || !oneLine(errOut) || !strings.Contains(errOut, missing) {
			t.Errorf("%s -o %s: exit %d, stdout %q, stderr %q", tc.name, missing, code, out, errOut)
		}
	}
}

// buildC compiles testdata/NAME.c or another C file into a temporary
// directory.
func buildC(t *testing.T, src string, flags ...string) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("run and minstack are Linux x86-64 only")
	}
	gcc := testutil.RequireTool(t, "gcc")
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
	testutil.Run(t, dir, gcc, append(append([]string{}, flags...), "-o", out, abs)...)
	return out
}

// TestRunOutput: stdout is the program's alone whatever the flags; the
// text report follows the program's stderr, or goes only to -o FILE;
// --format json needs -o; the old --json FILE still works with a one-line
// note; the program's exit status (3) passes through every time.
func TestRunOutput(t *testing.T) {
	prog := buildC(t, "testdata/outerr.c", "-O0")
	dir := t.TempDir()
	const report = "stackscope: no stack problem seen in 1 thread(s); exit status 3\n"

	code, out, errOut := capture(t, "run", "--", prog)
	if code != 3 || out != "out\n" || !strings.HasPrefix(errOut, "err\n"+report) {
		t.Errorf("run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	file := filepath.Join(dir, "report.txt")
	code, out, errOut = capture(t, "run", "-o", file, "--", prog)
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Errorf("run -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := readFile(t, file); !strings.HasPrefix(got, report) || !strings.Contains(got, "TID") {
		t.Errorf("run -o: the file holds %q", got)
	}

	jfile := filepath.Join(dir, "report.json")
	code, out, errOut = capture(t, "run", "--format", "json", "-o", jfile, "--", prog)
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Errorf("run --format json -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var rec struct {
		ExitStatus int               `json:"exit_status"`
		Threads    []json.RawMessage `json:"threads"`
	}
	if err := json.Unmarshal([]byte(readFile(t, jfile)), &rec); err != nil || rec.ExitStatus != 3 || len(rec.Threads) != 1 {
		t.Errorf("run --format json -o: %v %+v", err, rec)
	}

	// JSON without a file: refused before the program runs.
	code, out, errOut = capture(t, "run", "--format", "json", "--", prog)
	if code != exitUsage || out != "" || !oneLine(errOut) || !strings.Contains(errOut, "-o") {
		t.Errorf("run --format json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = capture(t, "run", "--format", "sarif", "-o", file, "--", prog)
	if code != exitUsage || out != "" || !oneLine(errOut) {
		t.Errorf("run --format sarif: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A report file that cannot be written: refused before the program runs.
	missing := filepath.Join(dir, "no-such-dir", "r.json")
	code, out, errOut = capture(t, "run", "-o", missing, "--", prog)
	if code != exitUsage || out != "" || !oneLine(errOut) || !strings.Contains(errOut, missing) {
		t.Errorf("run -o %s: exit %d, stdout %q, stderr %q", missing, code, out, errOut)
	}
	// A program that is not there: 127, and no report file made for it.
	gone := filepath.Join(dir, "never.json")
	if code, _, _ := capture(t, "run", "-o", gone, "--", filepath.Join(dir, "no-such-prog")); code != 127 {
		t.Errorf("missing program: exit %d, want 127", code)
	}
	if _, err := os.Stat(gone); err == nil {
		t.Errorf("a report file was left for a program that never ran")
	}

	// The old spelling: JSON to FILE and the text report on stderr, as
	// before, after a one-line deprecation note.
	old := filepath.Join(dir, "old.json")
	code, out, errOut = capture(t, "run", "--json", old, "--", prog)
	if code != 3 || out != "out\n" {
		t.Errorf("run --json: exit %d, stdout %q", code, out)
	}
	note, rest, _ := strings.Cut(errOut, "\n")
	if !strings.Contains(note, "--json") || !strings.Contains(note, "deprecated") || !strings.HasPrefix(rest, "err\n"+report) {
		t.Errorf("run --json: stderr %q", errOut)
	}
	if !isJSON(readFile(t, old)) {
		t.Errorf("run --json: the file is not JSON")
	}
}

// TestMinstackOutput: minstack's text gives both limits exactly, in KiB
// one page apart (the failure just below the minimum and the minimum),
// the same numbers its JSON has; --format json and -o work as elsewhere,
// and the old --json still writes JSON to stdout after a one-line note.
func TestMinstackOutput(t *testing.T) {
	prog := buildC(t, "../../internal/inject/testdata/recurse.c", "-O0")
	// Past 1 MiB, where rounding to a tenth of a MiB made both limits one
	// number.
	args := []string{"--limit", "2M", "--no-static", "--", prog, "1300"}

	code, out, errOut := capture(t, append([]string{"minstack"}, args...)...)
	if code != exitOK {
		t.Fatalf("minstack: exit %d\n%s%s", code, out, errOut)
	}
	kib := func(re string) uint64 {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in\n%s", re, out)
		}
		n, _ := strconv.ParseUint(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		return n
	}
	minimum := kib(`minimum stack ([\d,]+) KiB`)
	failed := kib(`(?m)^  at ([\d,]+) KiB: stack-overflow`)
	if again := kib(`at ([\d,]+) KiB \(the minimum\)`); again != minimum {
		t.Errorf("minimum %d KiB, then %d KiB", minimum, again)
	}
	if bytes := kib(`minimum +[\d,]+ KiB \(([\d,]+) B\)`); bytes != minimum*1024 {
		t.Errorf("minimum %d KiB is %d bytes", minimum, bytes)
	}
	page := uint64(os.Getpagesize())
	if minimum*1024 != failed*1024+page {
		t.Errorf("minimum %d KiB, failure at %d KiB: want one page apart", minimum, failed)
	}

	jfile := filepath.Join(t.TempDir(), "m.json")
	code, out, errOut = capture(t, append([]string{"minstack", "--format", "json", "-o", jfile}, args...)...)
	if code != exitOK || out != "" {
		t.Fatalf("minstack --format json -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var res struct {
		Minimum      uint64 `json:"minimum"`
		FailureBelow struct {
			Limit uint64 `json:"limit"`
		} `json:"failure_below"`
	}
	if err := json.Unmarshal([]byte(readFile(t, jfile)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Minimum != minimum*1024 || res.FailureBelow.Limit != failed*1024 {
		t.Errorf("JSON minimum %d, failure at %d; the text said %d KiB and %d KiB", res.Minimum, res.FailureBelow.Limit, minimum, failed)
	}

	code, out, errOut = capture(t, append([]string{"minstack", "--json"}, args...)...)
	if code != exitOK || !isJSON(out) || !oneLine(errOut) || !strings.Contains(errOut, "deprecated") {
		t.Errorf("minstack --json: exit %d, stdout JSON %v, stderr %q", code, isJSON(out), errOut)
	}
	code, out, errOut = capture(t, append([]string{"minstack", "--format", "html"}, args...)...)
	if code != exitUsage || out != "" || !oneLine(errOut) {
		t.Errorf("minstack --format html: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
