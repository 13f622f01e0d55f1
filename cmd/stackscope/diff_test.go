package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/diff"
	"github.com/stackscope/stackscope/internal/report"
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
	volatile char b[HBUF]; b[x & 31] = 1;
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
	defaults := map[string]string{"HBUF": "40", "BUF": "96"}
	for _, k := range []string{"HBUF", "BUF", "RECURSE", "CALL_EXTRA", "EXTRA"} { // HBUF before BUF, CALL_EXTRA before EXTRA
		v, ok := repl[k]
		if !ok {
			v = defaults[k]
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
	t.Helper()
	for _, e := range d.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s in %+v", name, d.Entries)
	return diff.EntryChange{}
}

// causes lists an entry's causes as "kind function" (and "<- caller").
func causes(e diff.EntryChange) []string {
	var out []string
	for _, c := range e.Why {
		s := c.Kind + " " + c.Function
		if c.Caller != "" {
			s += " <- " + c.Caller
		}
		out = append(out, s)
	}
	return out
}

func changedFrames(d diff.Report) []string {
	var out []string
	for _, f := range d.Functions {
		out = append(out, f.Name)
	}
	return out
}

// TestDiffNamesTheChange: three pairs of builds that differ by one change
// each; the diff names that change and nothing else, with the growth
// GCC's .su implies.
func TestDiffNamesTheChange(t *testing.T) {
	dir := t.TempDir()
	base, suBase := buildVariant(t, dir, "base", nil)

	t.Run("bigger buffer", func(t *testing.T) {
		bin, su := buildVariant(t, dir, "buffer", map[string]string{"BUF": "4096"})
		code, d := runDiffJSON(t, base, bin)
		e := entryChange(t, d, "process")
		want := su["parse_line"] - suBase["parse_line"]
		if want < 3900 {
			t.Fatalf(".su: parse_line %d -> %d bytes; the fixture did not grow", suBase["parse_line"], su["parse_line"])
		}
		if code != 0 || e.Status != diff.Grew || e.Delta != want {
			t.Fatalf("exit %d, %s by %d; want grew by %d (.su)", code, e.Status, e.Delta, want)
		}
		if got := causes(e); len(got) != 1 || got[0] != "frame parse_line" {
			t.Fatalf("causes %v, want only the frame of parse_line", got)
		}
		if c := e.Why[0]; *c.NewFrame-*c.OldFrame != want || c.Line != 3 || filepath.Base(c.File) != "prog.c" {
			t.Errorf("cause %+v, want parse_line's frame +%d at prog.c:3", c, want)
		}
		if got := changedFrames(d); len(got) != 1 || got[0] != "parse_line" || d.Functions[0].Delta != want {
			t.Errorf("changed frames %+v, want parse_line only, by %d", d.Functions, want)
		}
		if len(d.AddedFunctions)+len(d.RemovedFunctions) != 0 {
			t.Errorf("functions added %v, removed %v; want none", d.AddedFunctions, d.RemovedFunctions)
		}
		// The text verdict names it on its first line after the header.
		_, text, _ := capture(t, "diff", "--no-libraries", "--entry", "process", base, bin)
		lines := strings.Split(text, "\n")
		wantLine := fmt.Sprintf("process grew by %s (%s): frame of parse_line %s -> %s", report.Bytes(want),
			report.Percent(*e.Percent), report.Bytes(*e.Why[0].OldFrame), report.Bytes(*e.Why[0].NewFrame))
		if len(lines) < 4 || lines[2] != "1 entry grew" || !strings.HasPrefix(strings.TrimSpace(lines[3]), wantLine) {
			t.Errorf("text output does not begin with the verdict %q:\n%s", wantLine, text)
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
		limit := strconv.FormatInt(want-1, 10)
		_, text, _ = capture(t, "diff", "--no-libraries", "--entry", "process", "--max-growth", limit, base, bin)
		if wantFail := fmt.Sprintf("FAIL: over --max-growth %s: process (+%s, ", limit, report.Bytes(want)); !strings.Contains(text, wantFail) {
			t.Errorf("text output lacks %q:\n%s", wantFail, text)
		}
		// Backwards it shrank by as much, and shrinking never fails the gate.
		code, d = runDiffJSON(t, "--max-growth", "0", bin, base)
		if e := entryChange(t, d, "process"); code != 0 || e.Status != diff.Shrank || e.Delta != -want {
			t.Errorf("reversed: exit %d, %s by %d; want 0, shrank by %d", code, e.Status, e.Delta, -want)
		}
	})

	t.Run("new callee", func(t *testing.T) {
		bin, su := buildVariant(t, dir, "callee", map[string]string{
			"EXTRA":      `__attribute__((noinline)) int checksum(const char *s) { volatile char t[900]; t[s[0] & 255] = 1; sink(t); return t[7]; }`,
			"CALL_EXTRA": `+ checksum(s)`,
		})
		code, d := runDiffJSON(t, base, bin)
		e := entryChange(t, d, "process")
		// Worst paths by construction: process -> parse_line -> sink
		// before, process -> checksum -> sink after.
		want := (su["process"] + su["checksum"] + su["sink"]) - (suBase["process"] + suBase["parse_line"] + suBase["sink"])
		if code != 0 || e.Status != diff.Grew || e.Delta != want {
			t.Fatalf("exit %d, %s by %d; want grew by %d (.su)", code, e.Status, e.Delta, want)
		}
		wantCauses := []string{"joined checksum <- process", "left parse_line <- process"}
		if su["process"] != suBase["process"] {
			wantCauses = append([]string{"frame process"}, wantCauses...)
		}
		if got := causes(e); strings.Join(got, ", ") != strings.Join(wantCauses, ", ") {
			t.Errorf("causes %v, want %v", got, wantCauses)
		}
		for _, c := range e.Why {
			if c.Kind == "joined" && *c.NewFrame != su["checksum"] {
				t.Errorf("checksum joined with a frame of %d, .su says %d", *c.NewFrame, su["checksum"])
			}
		}
		if len(d.AddedFunctions) != 1 || d.AddedFunctions[0] != "checksum" || len(d.RemovedFunctions) != 0 {
			t.Errorf("added functions %v, removed %v; want [checksum] and none", d.AddedFunctions, d.RemovedFunctions)
		}
		_, text, _ := capture(t, "diff", "--no-libraries", "--entry", "process", base, bin)
		src, _ := os.ReadFile(filepath.Join(filepath.Dir(bin), "prog.c"))
		line := 1 + strings.Count(string(src[:strings.Index(string(src), "int checksum")]), "\n")
		if !strings.Contains(text, fmt.Sprintf("new on the worst path: checksum (%s, prog.c:%d), called from process", report.Bytes(su["checksum"]), line)) {
			t.Errorf("text does not name the new callee:\n%s", text)
		}
	})

	t.Run("recursion", func(t *testing.T) {
		bin, _ := buildVariant(t, dir, "recursion", map[string]string{"RECURSE": "if (x > 0) b[2] = helper(x - 1);"})
		code, d := runDiffJSON(t, base, bin)
		e := entryChange(t, d, "process")
		if code != 0 || e.Status != diff.BecameUnbounded || e.NewBound != nil {
			t.Fatalf("exit %d status %s, want 0 (no --max-growth) and became-unbounded", code, e.Status)
		}
		if len(e.NewReasons) != 1 || e.NewReasons[0].Kind != "recursion" || e.NewReasons[0].Function != "helper" {
			t.Errorf("new reasons %+v, want one: recursion in helper", e.NewReasons)
		}
		if got := causes(e); len(got) == 0 || got[0] != "reason helper" {
			t.Errorf("causes %v, want the recursion in helper first", got)
		}
		// helper now calls itself, so its frame may change; nothing else.
		for _, f := range d.Functions {
			if f.Name != "helper" {
				t.Errorf("frame of %s changed too: %+v", f.Name, f)
			}
		}
		// Losing the bound fails any limit.
		for _, limit := range []string{"100000", "1000%"} {
			if code, _ := runDiffJSON(t, "--max-growth", limit, base, bin); code != 1 {
				t.Errorf("--max-growth %s: exit %d, want 1", limit, code)
			}
		}
		code, d = runDiffJSON(t, bin, base)
		if e := entryChange(t, d, "process"); code != 0 || e.Status != diff.BecameBounded || e.NewBound == nil ||
			len(e.GoneReasons) != 1 || e.GoneReasons[0].Function != "helper" || len(e.NewReasons) != 0 || causes(e)[0] != "resolved helper" {
			t.Errorf("reversed: exit %d, status %s, gone reasons %+v, causes %v; want became-bounded, the recursion in helper gone",
				code, e.Status, e.GoneReasons, causes(e))
		}
	})

	t.Run("frame off the worst path", func(t *testing.T) {
		// helper's array grows but stays shallower than parse_line: the
		// bound is the same, and the frame is still listed.
		bin, _ := buildVariant(t, dir, "helper", map[string]string{"HBUF": "64"})
		code, d := runDiffJSON(t, "--max-growth", "0", base, bin)
		if e := entryChange(t, d, "process"); code != 0 || e.Status != diff.Same || len(e.Why) != 0 {
			t.Errorf("exit %d, %s with causes %v; want 0, same, none", code, e.Status, causes(e))
		}
		if got := changedFrames(d); len(got) != 1 || got[0] != "helper" || d.Functions[0].Delta <= 0 {
			t.Errorf("changed frames %+v, want helper's, grown", d.Functions)
		}
		_, text, _ := capture(t, "diff", "--no-libraries", "--entry", "process", base, bin)
		if !strings.Contains(text, "NO CHANGE in any entry's stack bound; 1 frame changed (below)") {
			t.Errorf("text:\n%s", text)
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
			p := filepath.Join(dir, "report"+strconv.Itoa(i)+".out") // content tells JSON, not the name
			os.WriteFile(p, []byte(out), 0o644)
			files = append(files, p)
		}
		_, fromELF := runDiffJSON(t, base, bin)
		_, fromJSON := runDiffJSON(t, files[0], files[1])
		_, mixed := runDiffJSON(t, files[0], bin)
		a, _ := json.Marshal(fromELF)
		b, _ := json.Marshal(fromJSON)
		c, _ := json.Marshal(mixed)
		if string(a) != string(b) || string(a) != string(c) {
			t.Errorf("diff of JSON reports differs from diff of binaries:\n%s\n%s\n%s", a, b, c)
		}
		if e := entryChange(t, fromJSON, "process"); e.Status != diff.Grew {
			t.Errorf("from JSON: %s, want grew", e.Status)
		}
	})
}

// TestDiffCloneRenamed: GCC names a specialised copy of a function after
// its clones (scale.constprop.0.isra.0); an edit that changes how it is
// called changes that name. The diff still sees one function whose frame
// grew, not a function removed and another one called.
func TestDiffCloneRenamed(t *testing.T) {
	const prog = `
__attribute__((noinline)) void sink(volatile char *p) { p[0]++; }
static __attribute__((noinline)) int scale(const char *s, int k) { volatile char t[SIZE]; t[0] = s[0] * k; sink(t); return t[0]; }
__attribute__((noinline)) int process(const char *s) { return scale(s, FACTOR); }
int main(int argc, char **argv) { return process(argc > 1 ? argv[1] : "abc"); }
`
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	build := func(name, size, factor string) (string, int64) {
		sub := filepath.Join(dir, name)
		os.MkdirAll(sub, 0o755)
		src := filepath.Join(sub, "prog.c")
		os.WriteFile(src, []byte(strings.NewReplacer("SIZE", size, "FACTOR", factor).Replace(prog)), 0o644)
		bin := filepath.Join(sub, "prog")
		testutil.Run(t, sub, gcc, "-O2", "-g", "-fstack-usage", "-o", bin, src)
		for _, l := range testutil.ParseSU(t, sub) {
			if strings.HasPrefix(l.Function, "scale") {
				return bin, l.Bytes
			}
		}
		t.Fatalf("no scale in %s/*.su", sub)
		return "", 0
	}
	oldBin, oldSU := build("old", "64", "3")     // a constant factor: scale.constprop...
	newBin, newSU := build("new", "640", "s[1]") // a variable one: no constprop
	_, d := runDiffJSON(t, oldBin, newBin)
	e := entryChange(t, d, "process")
	want := newSU - oldSU
	if e.Status != diff.Grew || e.Delta != want || len(e.Why) != 1 {
		t.Fatalf("%s by %d, causes %v; want grew by %d (.su), one cause", e.Status, e.Delta, causes(e), want)
	}
	c := e.Why[0]
	if c.Kind != "frame" || !strings.HasPrefix(c.Function, "scale.") || !strings.HasPrefix(c.OldFunction, "scale.") {
		t.Fatalf("cause %+v, want the frame of scale under its old and new clone names (does GCC still clone it?)", c)
	}
	if len(d.Functions) != 1 || d.Functions[0].OldName != c.OldFunction || len(d.AddedFunctions)+len(d.RemovedFunctions) != 0 {
		t.Errorf("changed %+v, added %v, removed %v; want scale's frame only", d.Functions, d.AddedFunctions, d.RemovedFunctions)
	}
}

// TestDiffFirmware: the example firmware built twice, the second time
// with a bigger buffer in parse_command, which the UART interrupt
// tail-calls. The handler and the main-stack total grow by what .su says,
// and --max-growth judges the total too.
func TestDiffFirmware(t *testing.T) {
	gcc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	dir := t.TempDir()
	src := "../../examples/firmware"
	build := func(name string, change func(string) string) (string, int64) {
		sub := filepath.Join(dir, name)
		os.MkdirAll(sub, 0o755)
		for _, f := range []string{"app.c", "startup.c", "link.ld"} {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if f == "app.c" {
				data = []byte(change(string(data)))
			}
			os.WriteFile(filepath.Join(sub, f), data, 0o644)
		}
		elf := filepath.Join(sub, "fw.elf")
		testutil.Run(t, sub, gcc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-g", "-fstack-usage", "-ffreestanding", "-nostdlib",
			"-T", "link.ld", "-Wl,--gc-sections", "-o", elf, "startup.c", "app.c", "-lgcc")
		for _, l := range testutil.ParseSU(t, sub) {
			if l.Function == "parse_command" {
				return elf, l.Bytes
			}
		}
		t.Fatalf("no parse_command in %s/*.su", sub)
		return "", 0
	}
	const from = "char word[24];"
	oldELF, oldSU := build("old", func(s string) string { return s })
	newELF, newSU := build("new", func(s string) string {
		if !strings.Contains(s, from) {
			t.Fatalf("app.c no longer declares %q", from)
		}
		return strings.Replace(s, from, "char word[240];", 1)
	})
	want := newSU - oldSU
	code, out, errOut := capture(t, "diff", "--format", "json", oldELF, newELF)
	var d diff.Report
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, errOut)
	}
	e := entryChange(t, d, "USART1_IRQHandler")
	if e.Status != diff.Grew || e.Delta != want || strings.Join(causes(e), ", ") != "frame parse_command" {
		t.Errorf("USART1_IRQHandler %s by %d, causes %v; want grew by %d (.su) from parse_command's frame", e.Status, e.Delta, causes(e), want)
	}
	for _, other := range d.Entries {
		if other.Name != "USART1_IRQHandler" && other.Status != diff.Same {
			t.Errorf("%s %s, want same", other.Name, other.Status)
		}
	}
	// The total grows by what USART1's priority level adds: the example
	// writes no priority, so every IRQ is at the reset value 0 and one
	// level adds only its heaviest handler (read from analyze's levels).
	levelAdds := func(elf string) int64 {
		code, out, errOut := capture(t, "analyze", "--format", "json", elf)
		var r analysis.Result
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Interrupts == nil {
			t.Fatalf("analyze %s: exit %d, %v: %s", elf, code, err, errOut)
		}
		for _, l := range r.Interrupts.Levels {
			if slices.Contains(l.Handlers, "USART1_IRQHandler") {
				return l.Adds
			}
		}
		t.Fatalf("USART1_IRQHandler on no level of %s", elf)
		return 0
	}
	wantTotal := levelAdds(newELF) - levelAdds(oldELF)
	if wantTotal <= 0 || wantTotal > want {
		t.Fatalf("USART1's level grew by %d, want between 1 and the handler's %d", wantTotal, want)
	}
	if tot := d.MainStackTotal; tot == nil || tot.Status != diff.Grew || tot.Delta != wantTotal {
		t.Fatalf("main stack total %+v, want grew by %d", tot, wantTotal)
	}
	// The handler grew by 900%, the total by far less: a percentage
	// between the two fails on the handler only, and the text says so.
	limit := strconv.FormatFloat(*d.MainStackTotal.Percent+1, 'f', 0, 64) + "%"
	code, text, _ := capture(t, "diff", "--max-growth", limit, oldELF, newELF)
	if code != 1 || !strings.Contains(text, "FAIL: over --max-growth "+limit+": USART1_IRQHandler (") || strings.Contains(text, "main stack total (+") {
		t.Errorf("--max-growth %s: exit %d:\n%s", limit, code, text)
	}
	if !strings.Contains(text, "Main stack total grew by "+report.Bytes(wantTotal)) {
		t.Errorf("the verdict does not lead with the main stack total:\n%s", text)
	}
	if code, _, _ := capture(t, "diff", "--max-growth", strconv.FormatInt(want-1, 10), oldELF, newELF); code != 1 {
		t.Errorf("--max-growth %d: exit %d, want 1", want-1, code)
	}
}

// TestDiffBadInput: one line naming the file and the problem, nothing on
// stdout, exit 2.
func TestDiffBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "../../examples/firmware/firmware.elf"
	elf, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	_, report, _ := capture(t, "analyze", "--format", "json", good, good)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"missing":       {[]string{filepath.Join(dir, "nope"), good}, "nope: no such file"},
		"not ELF":       {[]string{good, write("notes.txt", []byte("hello\n"))}, "notes.txt: not an ELF file"},
		"empty":         {[]string{write("empty", nil), good}, "empty: not an ELF file"},
		"directory":     {[]string{good, dir}, filepath.Base(dir) + ": is a directory"},
		"truncated ELF": {[]string{good, write("cut.elf", elf[:len(elf)/3])}, "cut.elf: "},
		"other JSON":    {[]string{write("other.json", []byte(`{"name": "not a report"}`)), good}, "other.json: not a stackscope analyze JSON report"},
		"cut JSON":      {[]string{write("cut.json", []byte(report[:len(report)/2])), good}, "cut.json: not a stackscope analyze JSON report"},
		"two files":     {[]string{write("two.json", []byte(report)), good}, "two.json: not a stackscope analyze JSON report: it holds 2 files"},
		"bad limit":     {[]string{"--max-growth", "lots", good, good}, `"lots" for "--max-growth"`},
		"bad format":    {[]string{"--format", "xml", good, good}, `--format "xml"`},
		"one operand":   {[]string{good}, "diff: give the OLD and the NEW build"},
	} {
		code, out, errOut := capture(t, append([]string{"diff"}, c.args...)...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
			!strings.HasPrefix(errOut, "stackscope: ") || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q; want 2, nothing, one line with %q", name, code, len(out), errOut, c.want)
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
		"not a record":    {[]string{"report", "--run", notRun, fw}, "not a record of stackscope run --format json"},
		"bad layout flag": {[]string{"report", "--layout", "maybe", fw}, `--layout "maybe"`},
		"html, two files": {[]string{"analyze", "--format", "html", fw, fw}, "takes one FILE"},
	} {
		code, out, errOut := capture(t, c.args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q; want 2, nothing, one line with %q", name, code, len(out), errOut, c.want)
		}
	}
	// A Linux program's run record is no firmware's: refused (a firmware's
	// record is shown: report_firmware_test.go).
	page := filepath.Join(dir, "fw.html")
	record := filepath.Join(dir, "good.json")
	os.WriteFile(record, []byte(`{"exit_status": 0, "threads": [{"tid": 4242, "kind": "main", "stack_size": 8388608, "peak": 12288, "ended": "exit"}], "crash": null}`), 0o644)
	if code, _, errOut := capture(t, "report", "--run", record, "-o", page, fw); code != 2 || !strings.Contains(errOut, "a run record of a Linux program") {
		t.Fatalf("report: exit %d (%s), want 2", code, errOut)
	}
	if code, _, errOut := capture(t, "report", "-o", page, fw); code != 1 { // the example's layout is unsafe
		t.Fatalf("report: exit %d (%s), want 1", code, errOut)
	}
	data, _ := os.ReadFile(page)
	if !strings.Contains(string(data), "<svg") {
		t.Errorf("the page lacks the memory map")
	}
}
