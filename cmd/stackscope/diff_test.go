package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/diff"
	"github.com/stackscope/stackscope/internal/testutil"
)

// The program diffed: process -> parse_line (the deepest) and helper.
// (parse_line calls sink so that it is no leaf: a leaf's small buffer sits
// in the red zone, which .su does not count.)
const diffBase = `
__attribute__((noinline)) void sink(volatile char *p) { p[0]++; }
__attribute__((noinline)) int parse_line(const char *s) {
	volatile char buf[BUF];
	for (int i = 0; i < BUF - 1 && s[i]; i++) buf[i] = s[i];
	sink(buf);
	return buf[3];
}
__attribute__((noinline)) int helper(int x) {
	volatile char b[40]; b[x & 31] = 1;
	RECURSE
	return b[1];
}
EXTRA
__attribute__((noinline)) int process(const char *s) { return parse_line(s) + helper(s[0]) CALL_EXTRA; }
int main(int argc, char **argv) { return process(argc > 1 ? argv[1] : "abc"); }
`

// buildVariant compiles diffBase with its placeholders replaced and
// returns the binary and the .su frame of each function.
func buildVariant(t *testing.T, dir, name string, repl map[string]string) (string, map[string]int64) {
	t.Helper()
	src := diffBase
	for _, k := range []string{"BUF", "RECURSE", "CALL_EXTRA", "EXTRA"} { // CALL_EXTRA before EXTRA
		v, ok := repl[k]
		if !ok && k == "BUF" {
			v = "96"
		}
		src = strings.ReplaceAll(src, k, v)
	}
	sub := filepath.Join(dir, name)
	os.MkdirAll(sub, 0o755)
	path := filepath.Join(sub, "prog.c")
	os.WriteFile(path, []byte(src), 0o644)
	bin := filepath.Join(sub, "prog")
	testutil.Run(t, sub, testutil.RequireTool(t, "gcc"), "-O2", "-g", "-fstack-usage", "-Wl,-z,now", "-o", bin, path)
	su := map[string]int64{}
	for _, l := range testutil.ParseSU(t, sub) {
		su[l.Function] = l.Bytes
	}
	return bin, su
}

func runDiffJSON(t *testing.T, args ...string) (int, diff.Report) {
	t.Helper()
	code, out, errOut := capture(t, append([]string{"diff", "--format", "json", "--no-libraries", "--entry", "process"}, args...)...)
	var d diff.Report
	if code != 2 {
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("diff output is not JSON (%v): %s %s", err, out, errOut)
		}
	}
	return code, d
}

func entryChange(t *testing.T, d diff.Report, name string) diff.EntryChange {
	for _, e := range d.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s in %+v", name, d.Entries)
	return diff.EntryChange{}
}

// TestDiffNamesTheChange: three pairs of builds that differ by one change
// each; the diff names that change, with the growth GCC's .su implies.
func TestDiffNamesTheChange(t *testing.T) {
	dir := t.TempDir()
	base, suBase := buildVariant(t, dir, "base", nil)

	t.Run("bigger buffer", func(t *testing.T) {
		bin, su := buildVariant(t, dir, "buffer", map[string]string{"BUF": "4096"})
		code, d := runDiffJSON(t, base, bin)
		e := entryChange(t, d, "process")
		want := su["parse_line"] - suBase["parse_line"]
		if code != 0 || e.Status != diff.Grew || e.Delta != want {
			t.Fatalf("exit %d, %s by %d; want grew by %d (.su)", code, e.Status, e.Delta, want)
		}
		c := e.Why[0]
		if c.Kind != "frame" || c.Function != "parse_line" || *c.NewFrame-*c.OldFrame != want || c.Line != 3 {
			t.Errorf("first cause %+v, want the frame of parse_line at prog.c:3", c)
		}
		if len(d.Functions) != 1 || d.Functions[0].Name != "parse_line" {
			t.Errorf("changed frames %+v, want parse_line only", d.Functions)
		}
		// --max-growth, in bytes and percent, just below and above.
		old := *e.OldBound
		for _, tc := range []struct {
			limit string
			exit  int
		}{
			{strconv.FormatInt(want, 10), 0}, {strconv.FormatInt(want-1, 10), 1},
			{strconv.FormatFloat(100*float64(want)/float64(old)+0.5, 'f', 1, 64) + "%", 0},
			{strconv.FormatFloat(100*float64(want)/float64(old)-0.5, 'f', 1, 64) + "%", 1},
		} {
			if code, _ := runDiffJSON(t, "--max-growth", tc.limit, base, bin); code != tc.exit {
				t.Errorf("--max-growth %s: exit %d, want %d", tc.limit, code, tc.exit)
			}
		}
	})

	t.Run("new callee", func(t *testing.T) {
		bin, su := buildVariant(t, dir, "callee", map[string]string{
			"EXTRA":      `__attribute__((noinline)) int checksum(const char *s) { volatile char t[900]; t[s[0] & 255] = 1; return t[7]; }`,
			"CALL_EXTRA": `+ checksum(s)`,
		})
		_, d := runDiffJSON(t, base, bin)
		e := entryChange(t, d, "process")
		if e.Status != diff.Grew {
			t.Fatalf("status %s, want grew", e.Status)
		}
		var joined *diff.Cause
		for i := range e.Why {
			if e.Why[i].Kind == "joined" && e.Why[i].Function == "checksum" {
				joined = &e.Why[i]
			}
		}
		if joined == nil || joined.Caller != "process" || *joined.NewFrame < su["checksum"] {
			t.Errorf("causes %+v, want checksum joined the worst path from process", e.Why)
		}
		if len(d.AddedFunctions) != 1 || d.AddedFunctions[0] != "checksum" {
			t.Errorf("added functions %v, want [checksum]", d.AddedFunctions)
		}
	})

	t.Run("recursion", func(t *testing.T) {
		bin, _ := buildVariant(t, dir, "recursion", map[string]string{"RECURSE": "if (x > 0) b[2] = helper(x - 1);"})
		code, d := runDiffJSON(t, "--max-growth", "100000", base, bin)
		e := entryChange(t, d, "process")
		if code != 1 || e.Status != diff.BecameUnbounded {
			t.Fatalf("exit %d status %s, want 1 and became-unbounded", code, e.Status)
		}
		if len(e.NewReasons) == 0 || e.NewReasons[0].Kind != "recursion" || e.NewReasons[0].Function != "helper" {
			t.Errorf("new reasons %+v, want recursion in helper", e.NewReasons)
		}
	})

	t.Run("from JSON reports", func(t *testing.T) {
		bin, _ := buildVariant(t, dir, "buffer2", map[string]string{"BUF": "2048"})
		var files []string
		for i, b := range []string{base, bin} {
			code, out, _ := capture(t, "analyze", "--format", "json", "--no-libraries", "--entry", "process", b)
			if code != 0 {
				t.Fatalf("analyze exit %d", code)
			}
			p := filepath.Join(dir, strconv.Itoa(i)+".json")
			os.WriteFile(p, []byte(out), 0o644)
			files = append(files, p)
		}
		_, fromELF := runDiffJSON(t, base, bin)
		_, fromJSON := runDiffJSON(t, files[0], files[1])
		a, _ := json.Marshal(fromELF.Entries)
		b, _ := json.Marshal(fromJSON.Entries)
		if string(a) != string(b) {
			t.Errorf("diff of JSON reports differs from diff of binaries:\n%s\n%s", a, b)
		}
	})
}

// TestDiffBadInput: one line naming the file, exit 2.
func TestDiffBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	wrongJSON := filepath.Join(dir, "other.json")
	os.WriteFile(wrongJSON, []byte(`{"name": "not a report"}`), 0o644)
	good := "../../examples/firmware/firmware.elf"
	for name, args := range map[string][]string{
		"missing":     {filepath.Join(dir, "nope"), good},
		"not ELF":     {good, text},
		"other JSON":  {wrongJSON, good},
		"bad limit":   {"--max-growth", "lots", good, good},
		"one operand": {good},
	} {
		code, _, errOut := capture(t, append([]string{"diff"}, args...)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) == 0 || !strings.HasPrefix(lines[0], "stackscope: ") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
		if name != "bad limit" && name != "one operand" && !strings.Contains(errOut, filepath.Base(args[0])) && !strings.Contains(errOut, filepath.Base(args[1])) {
			t.Errorf("%s: the message does not name the file: %q", name, errOut)
		}
	}
}

// TestReportBadInput: report's inputs (the ELF file, the run record, the
// flags) get one line naming what is wrong, and exit 2.
func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	notRun := filepath.Join(dir, "run.json")
	os.WriteFile(notRun, []byte(`{"something": "else"}`), 0o644)
	fw := "../../examples/firmware/firmware.elf"
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"missing file":    {[]string{"report", filepath.Join(dir, "nope")}, "nope: no such file"},
		"missing record":  {[]string{"report", "--run", filepath.Join(dir, "none.json"), fw}, "none.json: no such file"},
		"not a record":    {[]string{"report", "--run", notRun, fw}, "not a record of stackscope run --json"},
		"bad layout flag": {[]string{"report", "--layout", "maybe", fw}, `--layout "maybe"`},
		"html, two files": {[]string{"analyze", "--format", "html", fw, fw}, "takes one FILE"},
	} {
		code, out, errOut := capture(t, c.args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q; want 2, nothing, one line with %q", name, code, len(out), errOut, c.want)
		}
	}
	// A good record is shown: the page carries the run's threads.
	page := filepath.Join(dir, "fw.html")
	record := filepath.Join(dir, "good.json")
	os.WriteFile(record, []byte(`{"exit_status": 0, "threads": [{"tid": 4242, "kind": "main", "stack_size": 8388608, "peak": 12288, "ended": "exit"}], "crash": null}`), 0o644)
	if code, _, errOut := capture(t, "report", "--run", record, "-o", page, fw); code != 1 { // the example's layout is unsafe
		t.Fatalf("report: exit %d (%s), want 1", code, errOut)
	}
	data, _ := os.ReadFile(page)
	if !strings.Contains(string(data), `"tid":4242`) || !strings.Contains(string(data), "<svg") {
		t.Errorf("the page lacks the run's thread or the memory map")
	}
}
