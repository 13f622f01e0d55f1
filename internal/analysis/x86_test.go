package analysis

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// x86Flags is the matrix of compiler options the frames are checked under.
var x86Flags = func() [][]string {
	var out [][]string
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		for _, fp := range []string{"", "-fomit-frame-pointer"} {
			for _, prot := range []string{"", "-fstack-protector-strong", "-fstack-clash-protection"} {
				f := []string{opt}
				if fp != "" {
					f = append(f, fp)
				}
				if prot != "" {
					f = append(f, prot)
				}
				out = append(out, f)
			}
		}
	}
	return out
}()

// buildX86 compiles sources from testdata/x86 with -fstack-usage into dir
// and links them (a shared object when shared), returning the binary.
func buildX86(t *testing.T, dir string, flags []string, shared bool, sources ...string) string {
	t.Helper()
	out := filepath.Join(dir, "prog")
	var objs []string
	for _, src := range sources {
		cc := "gcc"
		if strings.HasSuffix(src, ".cpp") {
			cc = "g++"
		}
		obj := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))+".o")
		abs, _ := filepath.Abs(filepath.Join("testdata", "x86", src))
		args := append([]string{"-c", "-fstack-usage", "-fPIC", "-o", obj, abs}, flags...)
		testutil.Run(t, dir, testutil.RequireTool(t, cc), args...)
		objs = append(objs, obj)
	}
	// -z now, as a program whose stack is to be bounded must be linked:
	// lazy binding runs a resolver whose frame depends on the CPU
	// (TestX86LazyBinding).
	link := []string{"-o", out, "-Wl,-z,now"}
	if shared {
		link = append(link, "-shared")
	}
	testutil.Run(t, dir, testutil.RequireTool(t, "g++"), append(link, objs...)...)
	return out
}

// suComparison is the outcome of comparing the analyzer with .su files.
type suComparison struct {
	static, equal int
	// smaller are frames below GCC's number: never acceptable.
	smaller []string
	// other are the remaining differences: a larger frame, or a frame the
	// analyzer could not call static.
	other []string
}

// compareWithSU compares every function .su lists with the analyzer. A
// static (or dynamic,bounded) .su frame should be equal; a dynamically
// realigned frame may be larger (see frame.realign); a dynamic one must
// not be called static.
func compareWithSU(res *Result, su []testutil.SULine) suComparison {
	var c suComparison
	byName := map[string][]Function{}
	for _, f := range res.Functions {
		n := testutil.SUName(f.Name)
		byName[n] = append(byName[n], f)
	}
	for _, line := range su {
		fns := byName[line.Function]
		if len(fns) != 1 {
			// Inlined everywhere and removed, or ambiguous.
			continue
		}
		fn := fns[0]
		if line.Kind != "static" && line.Kind != "dynamic,bounded" {
			if fn.FrameKind == "static" {
				c.smaller = append(c.smaller, fmt.Sprintf("%s: .su says %s %d, analyzer says static %d", line.Function, line.Kind, line.Bytes, *fn.Frame))
			}
			continue
		}
		c.static++
		if fn.Frame == nil {
			c.other = append(c.other, fmt.Sprintf("%s: .su says %s %d, analyzer says %s (%s)", line.Function, line.Kind, line.Bytes, fn.FrameKind, fn.Reason))
			continue
		}
		switch got := *fn.Frame; {
		case got == line.Bytes:
			c.equal++
		case got < line.Bytes:
			c.smaller = append(c.smaller, fmt.Sprintf("%s: .su says %s %d, analyzer says %d", line.Function, line.Kind, line.Bytes, got))
		case strings.Contains(line.Function, "aligned"):
			// GCC assumes the caller's SP is aligned to the local's
			// alignment; the analyzer only assumes the ABI's.
			c.equal++
		default:
			c.other = append(c.other, fmt.Sprintf("%s: .su says %s %d, analyzer says %d", line.Function, line.Kind, line.Bytes, got))
		}
	}
	return c
}

// requireAllEqual fails the test on any difference (fixtures are small
// and every difference is a bug).
func requireAllEqual(t *testing.T, c suComparison) {
	t.Helper()
	for _, m := range append(c.smaller, c.other...) {
		t.Error(m)
	}
}

func TestX86FramesMatchStackUsage(t *testing.T) {
	for _, flags := range x86Flags {
		flags := flags
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := buildX86(t, dir, flags, false, "frames.c")
			res, err := Run(bin, Options{NoLibraries: true}) // frames only
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			c := compareWithSU(res, testutil.ParseSU(t, dir))
			requireAllEqual(t, c)
			if c.static < 10 {
				t.Fatalf("only %d static functions compared; the fixture did not build as expected", c.static)
			}
			t.Logf("%d of %d static frames equal to .su", c.equal, c.static)
			if res.Functions == nil || len(res.Entries) == 0 {
				t.Fatalf("no functions or entries")
			}
		})
	}
}

// entry returns the named entry of a result.
func entry(t *testing.T, res *Result, name string) Entry {
	t.Helper()
	for _, e := range res.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return Entry{}
}

func reasonSummary(e Entry) string {
	var parts []string
	for _, r := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%s@%s", r.Kind, r.Function))
	}
	return strings.Join(parts, " ")
}

func TestX86Reasons(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O2"}, true, "reasons.c", "virtual.cpp")
	entries := []string{"entry_recursion", "entry_indirect", "entry_dynamic", "entry_tail", "entry_external", "entry_clean", "entry_virtual(int)"}
	// Strict: no assumed targets, so every indirect call is a reason.
	res, err := Run(bin, Options{Entries: entries, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	want := map[string][]string{
		"entry_recursion":    {"recursion@fact", "recursion@p"},
		"entry_indirect":     {"indirect@dispatch"},
		"entry_dynamic":      {"dynamic@with_alloca", "dynamic@with_vla"},
		"entry_external":     {"external@external_function"},
		"entry_virtual(int)": {"indirect@measure"},
	}
	for _, name := range entries {
		e := entry(t, res, name)
		got := reasonSummary(e)
		exp, unbounded := want[name]
		if !unbounded {
			if !e.Bounded || e.Bound == nil {
				t.Errorf("%s: want bounded, got reasons %s", name, got)
			}
			continue
		}
		if e.Bounded {
			t.Errorf("%s: want NOT bounded (%v), got bound %d", name, exp, *e.Bound)
		}
		for _, x := range exp {
			if !strings.Contains(got, x) {
				t.Errorf("%s: want reason %s, got %s", name, x, got)
			}
		}
		if e.AtLeast <= 0 {
			t.Errorf("%s: want a positive lower bound, got %d", name, e.AtLeast)
		}
	}
	// The tail call: tail_caller's frame is released before tail_target runs.
	tail := entry(t, res, "entry_tail")
	if !strings.Contains(strings.Join(tail.Path, " "), "tail_target") {
		t.Errorf("entry_tail path %v does not reach tail_target", tail.Path)
	}
	su := testutil.ParseSU(t, dir)
	var target int64 = -1
	for _, l := range su {
		if l.Function == "tail_target" {
			target = l.Bytes
		}
	}
	if tail.Bound != nil && target > 0 && *tail.Bound < target {
		t.Errorf("entry_tail bound %d below tail_target's own frame %d", *tail.Bound, target)
	}
	requireAllEqual(t, compareWithSU(res, su))
}

// TestX86AddressTaken: without --strict, a call through a table of three
// handlers is bounded by the deepest handler, and the entry says it rests
// on that assumption.
func TestX86AddressTaken(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O2"}, true, "reasons.c")
	res, err := Run(bin, Options{Entries: []string{"dispatch", "entry_indirect"}})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	su := suFrames(testutil.ParseSU(t, dir))
	// A handler's bound is its .su frame plus the red zone below it (h3
	// keeps part of its 256-byte array there, which .su does not count).
	redzone := map[string]int64{}
	for _, f := range res.Functions {
		redzone[f.Name] = f.RedZone
	}
	h := func(name string) int64 { return su[name] + redzone[name] }
	want := su["dispatch"] + max(h("h1"), h("h2"), h("h3"))
	d := entry(t, res, "dispatch")
	if !d.Bounded || *d.Bound != want {
		t.Fatalf("dispatch: bounded %v bound %s, want %d (.su: dispatch + deepest handler with its red zone); reasons %s", d.Bounded, show(d.Bound), want, reasonSummary(d))
	}
	if len(d.Assumptions) != 1 || !strings.Contains(d.Assumptions[0].Detail, "address-taken set of 3 functions") {
		t.Errorf("dispatch assumptions %+v, want one over 3 functions", d.Assumptions)
	}
	if !strings.Contains(strings.Join(d.Path, " "), "h3") {
		t.Errorf("worst path %v does not go through the deepest handler h3", d.Path)
	}
	if e := entry(t, res, "entry_indirect"); !e.Bounded || *e.Bound < want || len(e.Assumptions) == 0 {
		t.Errorf("entry_indirect: %+v", e)
	}
	strict, _ := Run(bin, Options{Entries: []string{"dispatch"}, Strict: true})
	if e := entry(t, strict, "dispatch"); e.Bounded || !strings.Contains(reasonSummary(e), "indirect@dispatch") {
		t.Errorf("--strict: %s", reasonSummary(e))
	}
}

// TestX86SourceLines: with -g, every function, worst-path frame and reason
// carries the file and line the compiler recorded: a function where it is
// declared, a reason on the line of the instruction it names.
func TestX86SourceLines(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O2", "-g"}, true, "reasons.c")
	entries := []string{"entry_recursion", "entry_indirect", "entry_dynamic", "entry_external"}
	res, err := Run(bin, Options{Entries: entries, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	declared := map[string]int{"fact": 7, "dispatch": 17, "with_alloca": 19, "with_vla": 26, "entry_dynamic": 40}
	for _, f := range res.Functions {
		if want, ok := declared[f.Name]; ok {
			if filepath.Base(f.File) != "reasons.c" || f.Line != want {
				t.Errorf("function %s at %s:%d, want reasons.c:%d", f.Name, f.File, f.Line, want)
			}
			delete(declared, f.Name)
		}
	}
	if len(declared) > 0 {
		t.Errorf("functions not found: %v", declared)
	}
	// The lines a reason may be on: the statement that moves SP or calls.
	reasonLines := map[string][]int{
		"recursion@fact": {7}, "indirect@dispatch": {17}, "dynamic@with_alloca": {21},
		"dynamic@with_vla": {28}, "recursion@ping": {11},
	}
	seen := 0
	for _, e := range res.Entries {
		for _, r := range e.Reasons {
			want, ok := reasonLines[r.Kind+"@"+r.Function]
			if !ok {
				continue
			}
			seen++
			if filepath.Base(r.File) != "reasons.c" || !slices.Contains(want, r.Line) {
				t.Errorf("%s@%s at %#x: %s:%d, want reasons.c:%v", r.Kind, r.Function, r.Addr, r.File, r.Line, want)
			}
		}
		for _, st := range e.Steps {
			if st.Function == "entry_dynamic" && st.Line != 40 {
				t.Errorf("path frame entry_dynamic at line %d, want 40", st.Line)
			}
		}
	}
	if seen < len(reasonLines) {
		t.Errorf("only %d of the %d reasons checked", seen, len(reasonLines))
	}
}

// TestX86LazyBinding: a call through a lazily bound PLT slot can run ld.so's
// resolver, whose frame holds the CPU's XSAVE state. A program's own lazy
// slots keep the lazy-binding reason, with or without --strict (a
// library's are modelled on this CPU: callgraph's TestLazyResolverFrame);
// linked with -z now, neither reason nor premise.
// The run shows the resolver is real: on this machine the first call costs
// hundreds of bytes more stack without LD_BIND_NOW than with it.
func TestX86LazyBinding(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/lazy.c")
	lazy, now := filepath.Join(dir, "lazy"), filepath.Join(dir, "now")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,lazy", "-o", lazy, src)
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", now, src)
	// resolver says whether work has the lazy-binding reason, and whether
	// it carries the modelled resolver's premise.
	resolver := func(bin string, strict bool) (reason, premise bool) {
		res, err := Run(bin, Options{Entries: []string{"work"}, Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		requirePathSums(t, res)
		e := entry(t, res, "work")
		for _, r := range e.Reasons {
			if r.Function == "_dl_runtime_resolve" && r.Kind == "dynamic" {
				reason = true
			}
		}
		for _, a := range e.Assumptions {
			if a.Kind == callgraph.PremiseCPU {
				premise = true
			}
		}
		return reason, premise
	}
	if reason, premise := resolver(lazy, true); !reason || premise {
		t.Errorf("-z lazy, strict: lazy-binding reason %v, cpu premise %v; want the reason alone", reason, premise)
	}
	// The program's own lazy slots keep the reason (its fix: link with
	// -z now); the resolver is modelled for libraries' slots
	// (callgraph's TestLazyResolverFrame).
	if reason, premise := resolver(lazy, false); !reason || premise {
		t.Errorf("-z lazy: lazy-binding reason %v, cpu premise %v; want the reason alone", reason, premise)
	}
	if reason, premise := resolver(now, false); reason || premise {
		t.Errorf("-z now: lazy-binding reason %v, cpu premise %v; want neither", reason, premise)
	}
	measure := func(env ...string) int64 {
		cmd := exec.Command(lazy)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
		return n
	}
	lazyUse, nowUse := measure("LD_BIND_NOW="), measure("LD_BIND_NOW=1")
	t.Logf("stack used by the first call: %d B lazily bound, %d B bound at load", lazyUse, nowUse)
	if lazyUse < nowUse+256 {
		t.Errorf("lazy binding used %d B, bound at load %d B: expected the resolver to cost more", lazyUse, nowUse)
	}
}
