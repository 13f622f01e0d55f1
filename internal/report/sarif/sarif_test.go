package sarif

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/budget"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report/sarif/sariftest"
	"github.com/stackscope/stackscope/internal/testutil"
)

// lineOf is the 1-based line of the first line of a source file that
// contains marker: the expected places come from the source, not from
// the tool.
func lineOf(t *testing.T, path, marker string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line with %q", path, marker)
	return 0
}

func write(t *testing.T, in Input) []sariftest.Result {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	rep := sariftest.Check(t, buf.String())
	sariftest.CodeScanning(t, rep)
	if n := len(rep.Runs[0].Tool.Driver.Rules); n != len(rules) {
		t.Errorf("%d rules in the log, want all %d", n, len(rules))
	}
	for _, r := range rep.Runs[0].Tool.Driver.Rules {
		if r.ShortDescription == nil || r.FullDescription == nil || r.Help == nil || r.Name == nil {
			t.Errorf("rule %s lacks a name, description or help", *r.ID)
		}
	}
	d := rep.Runs[0].Tool.Driver
	version := ""
	if d.Version != nil {
		version = *d.Version
	}
	if d.Name == nil || *d.Name != "stackscope" || version != in.Version {
		t.Errorf("driver %v version %q, want stackscope %q", d.Name, version, in.Version)
	}
	return sariftest.Results(rep)
}

// pick returns the results of a rule whose message starts with prefix.
func pick(rs []sariftest.Result, rule, prefix string) []sariftest.Result {
	var out []sariftest.Result
	for _, r := range rs {
		if r.Rule == rule && strings.HasPrefix(r.Text, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// one is the single result of a rule whose message starts with prefix.
func one(t *testing.T, rs []sariftest.Result, rule, prefix string) sariftest.Result {
	t.Helper()
	got := pick(rs, rule, prefix)
	if len(got) != 1 {
		t.Fatalf("%d %s results starting %q, want 1; all: %+v", len(got), rule, prefix, rs)
	}
	return got[0]
}

// TestAnalysis: an x86-64 program with an entry over budget, a recursive
// entry, an entry calling an external function, and a clone() child with
// too small a stack, built twice: with DWARF (results at source lines) and
// without (results at the function and address in the binary), both in
// one log. Each finding is a result under its rule at its level, and the
// errors in the log are exactly what fails the exit status.
func TestAnalysis(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/prog.c")
	withDWARF, noDWARF := filepath.Join(dir, "prog"), filepath.Join(dir, "prog-nodebug")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-Wl,-z,now", "-o", withDWARF, src)
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", noDWARF, src)

	opts := analysis.Options{Entries: []string{"big", "rec", "speak", "both"}, NoLibraries: true}
	var in Input
	results := map[string]*analysis.Result{}
	for _, bin := range []string{withDWARF, noDWARF} {
		r, err := analysis.Run(bin, opts)
		if err != nil {
			t.Fatal(err)
		}
		results[bin] = r
		in.Analyses = append(in.Analyses, Analysis{Result: r, Budget: budget.Policy{Flag: 2000}})
	}
	in.Version = "test-1"
	rs := write(t, in)

	for _, r := range rs {
		if r.Fingerprint == "" || r.Function == "" {
			t.Errorf("result without a fingerprint or function: %+v", r)
		}
	}
	// With DWARF: each result at its source line (relative to the working
	// directory, where code scanning resolves it).
	srcURI := "testdata/prog.c"
	withDWARFResults := func(rule, prefix string) sariftest.Result {
		t.Helper()
		for _, r := range pick(rs, rule, prefix) {
			if r.File == srcURI {
				return r
			}
		}
		t.Fatalf("no %s result %q at %s: %+v", rule, prefix, srcURI, rs)
		return sariftest.Result{}
	}
	over := withDWARFResults(RuleBudget, "big:")
	if over.Level != "error" || over.Line != lineOf(t, src, "int big(") || over.Function != "big" ||
		!strings.Contains(over.Text, "exceeds the budget of 2,000 B") || over.Related == 0 {
		t.Errorf("budget result for big: %+v", over)
	}
	unb := withDWARFResults(RuleUnbounded, "rec ")
	if unb.Level != "warning" || !strings.Contains(unb.Text, "1 recursion") || unb.Function != "rec" ||
		unb.Line != lineOf(t, src, "return n <= 0 ? 0 : rec(n - 1)") {
		t.Errorf("unbounded result for rec (at the recursive call): %+v", unb)
	}
	// The external call has no source line: the result is at the entry.
	ext := withDWARFResults(RuleUnbounded, "speak ")
	if ext.Level != "warning" || !strings.Contains(ext.Text, "1 external") || !strings.Contains(ext.Text, "external in puts") ||
		ext.Function != "speak" || ext.Line != lineOf(t, src, "int speak(") {
		t.Errorf("unbounded result for speak names the external call: %+v", ext)
	}
	// both's first reason is rec's recursion, at the line of rec's own
	// result: one result of that rule there, whose message names both
	// entries (one line each) and whose related locations are the union.
	mixed := unb
	if !strings.Contains(mixed.Text, "\nboth has no stack bound") || len(pick(rs, RuleUnbounded, "both ")) != 0 {
		t.Errorf("rec and both at one line are not one result naming both: %+v", mixed)
	}
	if !strings.Contains(mixed.Text, "1 recursion, 1 external") || !strings.Contains(mixed.Text, "recursion in rec") ||
		!strings.Contains(mixed.Text, "external in puts") || mixed.Related != 2 || mixed.Line != lineOf(t, src, "return n <= 0 ? 0 : rec(n - 1)") {
		t.Errorf("unbounded result for both, at its first reason's line (the recursion): %+v", mixed)
	}
	// --budget without --allow-unbounded: an entry with no bound breaks it.
	if r := withDWARFResults(RuleBudget, "rec:"); r.Level != "error" || !strings.Contains(r.Text, "not bounded") {
		t.Errorf("budget result for unbounded rec: %+v", r)
	}
	thr := withDWARFResults(RuleThreadStack, "thread child")
	if thr.Level != "error" || thr.Line != lineOf(t, src, "clone(child, stack + 1024") || thr.Function != "main" ||
		!strings.Contains(thr.Text, "1,024 B") {
		t.Errorf("thread result at the clone() call: %+v", thr)
	}
	unk := withDWARFResults(RuleThreadUnknown, "thread child (created by spawn")
	if unk.Level != "note" || unk.Function != "spawn" || unk.Line != lineOf(t, src, "int spawn(") ||
		!strings.Contains(unk.Text, "not judged") {
		t.Errorf("thread not judged, at the clone() call in spawn: %+v", unk)
	}

	// Without DWARF: the binary, the function, and its address.
	rNo := results[noDWARF]
	addrOf := map[string]uint64{}
	for _, f := range rNo.Functions {
		addrOf[f.Name] = f.Addr
	}
	var sawNoDWARF bool
	for _, r := range rs {
		if !strings.HasSuffix(r.File, "prog-nodebug") {
			continue
		}
		sawNoDWARF = true
		// Line 1 of the binary: GitHub wants a line on every result.
		if r.Line != 1 {
			t.Errorf("a source line without DWARF, or no line 1: %+v", r)
		}
		if r.Rule == RuleBudget && strings.HasPrefix(r.Text, "big:") && (r.Function != "big" || uint64(r.Address) != addrOf["big"]) {
			t.Errorf("budget result for big without DWARF: %+v, want big at %#x", r, addrOf["big"])
		}
	}
	if !sawNoDWARF {
		t.Errorf("no result points into the binary without DWARF: %+v", rs)
	}

	// The same findings from both builds (addresses and lines differ, the
	// fingerprints name the binary and the finding).
	count := func(file string) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			if strings.Contains(r.Fingerprint, ":"+filepath.Base(file)+":") {
				m[r.Rule]++
			}
		}
		return m
	}
	if a, b := count(withDWARF), count(noDWARF); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("findings per rule with DWARF %v, without %v", a, b)
	}

	// The errors of a binary are its exit status, rule by rule from the
	// same policy: with --allow-unbounded the unbounded entries leave the
	// budget rule but keep their warnings.
	relaxed := Input{Analyses: []Analysis{{Result: results[withDWARF], Budget: budget.Policy{Flag: 2000, AllowUnbounded: true}}}}
	rs = write(t, relaxed)
	if n := len(pick(rs, RuleBudget, "")); n != 1 {
		t.Errorf("%d budget results with --allow-unbounded, want 1 (big): %+v", n, rs)
	}
	if n := len(pick(rs, RuleUnbounded, "")); n != 2 {
		t.Errorf("%d unbounded results, want 2 (rec and both at one line, speak)", n)
	}
	// No budget at all: no budget results, the thread is still an error.
	rs = write(t, Input{Analyses: []Analysis{{Result: results[withDWARF]}}})
	if n := len(pick(rs, RuleBudget, "")); n != 0 {
		t.Errorf("budget results without a budget: %+v", rs)
	}
	if !(budget.Policy{}).Failing(results[withDWARF]) || len(pick(rs, RuleThreadStack, "")) != 1 {
		t.Errorf("a thread that overflows fails with no budget and is one result")
	}
}

// buildFirmware links the layout package's Cortex-M fixture with its stack
// right after .bss (unsafe) and a HardFault handler in C (it pushes before
// it looks at SP).
func buildFirmware(t *testing.T, dir string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("../../layout/testdata")
	out := filepath.Join(dir, "fw.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-g", "-ffreestanding", "-nostdlib",
		"-T", filepath.Join(td, "after_bss.ld"), "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "support.c"),
		filepath.Join(td, "hardfault_c.c"), filepath.Join(td, "app.c"), "-lgcc")
	return out
}

// addr2line is binutils' answer for an address: file and line.
func addr2line(t *testing.T, elf string, addr int) (string, int) {
	t.Helper()
	tool := testutil.RequireTool(t, "arm-none-eabi-addr2line")
	out := strings.TrimSpace(testutil.Run(t, filepath.Dir(elf), tool, "-e", elf, fmt.Sprintf("%#x", addr)))
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Scan()
	file, line, _ := strings.Cut(sc.Text(), ":")
	line, _, _ = strings.Cut(line, " ")
	n, _ := strconv.Atoi(line)
	return file, n
}

// TestFirmware: a Cortex-M image with an unsafe stack placement, a fault
// handler that pushes before checking SP, handlers that loop forever, and
// a main-stack total over a stackscope.toml budget: the layout's and the
// analysis' findings in one log, each handler result at the line
// addr2line gives for its address.
func TestFirmware(t *testing.T) {
	fw := buildFirmware(t, t.TempDir())
	lay, err := layout.Analyze(fw, layout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lay.Verdict != layout.Unsafe {
		t.Fatalf("fixture verdict %q, want unsafe (%s)", lay.Verdict, lay.VerdictReason)
	}
	res, err := analysis.Run(fw, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Budgets: config.Budgets{Entries: map[string]size.Bytes{budget.MainStack: 16}}}
	rs := write(t, Input{Analyses: []Analysis{{Result: res, Budget: budget.Policy{Config: cfg}}}, Layouts: []*layout.Report{lay}, Version: "test-2"})

	unsafe := one(t, rs, RuleUnsafeLayout, "unsafe stack placement")
	if unsafe.Level != "error" || !strings.HasSuffix(unsafe.File, "fw.elf") || !strings.Contains(unsafe.Text, lay.VerdictReason) {
		t.Errorf("unsafe placement: %+v", unsafe)
	}
	hf := one(t, rs, RuleHandlerStack, "fault handler HardFault_Handler")
	if hf.Level != "error" || hf.Function != "HardFault_Handler" || hf.Address == 0 {
		t.Fatalf("HardFault_Handler result: %+v", hf)
	}
	if file, line := addr2line(t, fw, hf.Address); !strings.HasSuffix(hf.File, "/"+filepath.Base(file)) || hf.Line != line ||
		filepath.Base(file) != "hardfault_c.c" {
		t.Errorf("HardFault_Handler at %s:%d, addr2line says %s:%d", hf.File, hf.Line, file, line)
	}
	loops := pick(rs, RuleHandlerLoop, "exception handler")
	if len(loops) == 0 {
		t.Fatalf("no endless-loop results: %+v", rs)
	}
	for _, l := range loops {
		file, line := addr2line(t, fw, l.Address)
		if l.Level != "warning" || l.Line != line || !strings.HasSuffix(l.File, "/"+filepath.Base(file)) {
			t.Errorf("endless loop %+v, addr2line says %s:%d", l, file, line)
		}
	}
	ms := one(t, rs, RuleBudget, "main-stack total")
	if ms.Level != "error" || !strings.Contains(ms.Text, "budget of 16 B") {
		t.Errorf("main-stack budget: %+v", ms)
	}
	// The budget results are exactly the policy's overruns (the exit status).
	want := len(budget.Policy{Config: cfg}.Overruns(res))
	if got := len(pick(rs, RuleBudget, "")); got != want || want == 0 {
		t.Errorf("%d budget results, the policy has %d overruns", got, want)
	}
}

// TestFileURI: a source under the working directory is relative to it
// (code scanning resolves it in the checkout), even directly in it; one
// elsewhere is a file:// URI; a path relative to the compilation
// directory stays relative.
func TestFileURI(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	wd, _ = os.Getwd()
	for _, c := range []struct{ path, want string }{
		{filepath.Join(wd, "main.c"), "main.c"},
		{filepath.Join(wd, "src", "a b.c"), "src/a%20b.c"},
		{"/usr/include/stdio.h", "file:///usr/include/stdio.h"},
		{filepath.Join(filepath.Dir(wd), "sibling.c"), "file://" + filepath.ToSlash(filepath.Join(filepath.Dir(wd), "sibling.c"))},
		{"lib/zutil.c", "lib/zutil.c"},
	} {
		if got := fileURI(c.path); got != c.want {
			t.Errorf("fileURI(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

// TestHelpAnchors: every rule's helpUri is docs/analyze.md at an anchor
// that exists there (a heading whose text is the rule's ID, which GitHub
// turns into the lower-case anchor).
func TestHelpAnchors(t *testing.T) {
	data, err := os.ReadFile("../../../docs/analyze.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "#") {
			anchors[strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))] = true
		}
	}
	for _, r := range rules {
		u := helpURI(r.id)
		i := strings.Index(u, "#")
		if !strings.HasPrefix(u, DocsURL) || i < 0 || !anchors[u[i+1:]] {
			t.Errorf("rule %s: helpUri %s has no heading in docs/analyze.md", r.id, u)
		}
	}
}
