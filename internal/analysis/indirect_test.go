package analysis

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildIndirect compiles one program from testdata/indirect.
func buildIndirect(t *testing.T, dir, src string, flags ...string) string {
	t.Helper()
	cc := "gcc"
	if strings.HasSuffix(src, ".cpp") {
		cc = "g++"
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "indirect", src))
	out := filepath.Join(dir, strings.TrimSuffix(src, filepath.Ext(src)))
	testutil.Run(t, dir, testutil.RequireTool(t, cc), append([]string{"-o", out, abs}, flags...)...)
	return out
}

// frames returns each function's frame plus its red zone: what it adds to
// a bound.
func frames(res *Result) map[string]int64 {
	out := map[string]int64{}
	for _, f := range res.Functions {
		if f.Frame != nil {
			out[f.Name] = *f.Frame + f.RedZone
		}
	}
	return out
}

// measuredDepths runs bin under gdb and, at each of the first hits calls
// of fn, single-steps until it returns, giving the most stack the call
// used: from the caller's SP before the call down to the lowest SP.
func measuredDepths(t *testing.T, dir, bin, fn string, hits int, args ...string) []int64 {
	t.Helper()
	return measured(t, dir, bin, fn, "", hits, args...)
}

// measuredToExit is measuredDepths for one call of fn that never returns:
// the steps end when the process reaches libc's _exit (whose own frame
// is a syscall, no push), the depth then the most stack the call used.
func measuredToExit(t *testing.T, dir, bin, fn string) int64 {
	t.Helper()
	d := measured(t, dir, bin, fn, "_exit", 1)
	if len(d) != 1 {
		return -1
	}
	return d[0]
}

// measured steps bin under gdb from each of the first hits calls of fn
// until it returns, or, with stop, until it returns or reaches stop.
func measured(t *testing.T, dir, bin, fn, stop string, hits int, args ...string) []int64 {
	t.Helper()
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Log("gdb not found: no measured run")
		return nil
	}
	var sb strings.Builder
	sb.WriteString("set pagination off\nset confirm off\nset breakpoint pending on\nbreak " + fn + "\nrun\n")
	for i := 0; i < hits; i++ {
		if i > 0 {
			sb.WriteString("continue\n")
		}
		cond := "$rsp < $top"
		if stop != "" {
			sb.WriteString("set $stop = (long)&" + stop + "\n")
			cond += " && $pc != $stop"
		}
		sb.WriteString("set $top = $rsp + 8\nset $min = $rsp\nwhile " + cond + "\nstepi\nif $rsp < $min\nset $min = $rsp\nend\nend\nprintf \"DEPTH %d\\n\", $top - $min\n")
	}
	sb.WriteString("kill\n")
	script := filepath.Join(dir, "measure.gdb")
	if err := os.WriteFile(script, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(gdb, append([]string{"-batch", "-nx", "-x", script, "--args", bin}, args...)...).CombinedOutput()
	var depths []int64
	for _, m := range regexp.MustCompile(`DEPTH (\d+)`).FindAllStringSubmatch(string(out), -1) {
		d, _ := strconv.ParseInt(m[1], 10, 64)
		depths = append(depths, d)
	}
	t.Logf("measured %s: %v B", fn, depths)
	if len(depths) != hits {
		t.Logf("gdb measured %d of %d calls of %s (ptrace not allowed?):\n%s", len(depths), hits, fn, out)
		return nil
	}
	return depths
}

func TestIndirectPrototype(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildIndirect(t, dir, "dispatch.c", "-g", opt)
			res, err := Run(bin, Options{Entries: []string{"run_small", "run_big"}})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			fr := frames(res)
			small := entry(t, res, "run_small")
			want := fr["run_small"] + max(fr["small_a"], fr["small_b"])
			if !small.Bounded || *small.Bound != want {
				t.Fatalf("run_small: bounded %v bound %s, want %d (run_small + deepest handler of its prototype); reasons %s", small.Bounded, show(small.Bound), want, reasonSummary(small))
			}
			if fr["big_a"] <= want {
				t.Fatalf("fixture: big_a (%d B) must be deeper than the small path (%d B)", fr["big_a"], want)
			}
			if len(small.Assumptions) != 1 || !strings.Contains(small.Assumptions[0].Detail, "2 functions with prototype int (*)(int, char *)") {
				t.Errorf("run_small assumptions %+v, want one over the 2 functions of prototype int (*)(int, char *)", small.Assumptions)
			}
			if path := strings.Join(small.Path, " "); !strings.Contains(path, "small_b") || strings.Contains(path, "big_") {
				t.Errorf("run_small worst path %v, want it through small_b", small.Path)
			}
			big := entry(t, res, "run_big")
			if wantBig := fr["run_big"] + max(fr["big_a"], fr["big_b"]); !big.Bounded || *big.Bound != wantBig {
				t.Errorf("run_big: bound %s, want %d", show(big.Bound), wantBig)
			}
			strict, _ := Run(bin, Options{Entries: []string{"run_small"}, Strict: true})
			if e := entry(t, strict, "run_small"); e.Bounded || !strings.Contains(reasonSummary(e), "indirect@run_small") {
				t.Errorf("--strict: a narrowed set is still an assumption, want run_small unbounded, got %s", reasonSummary(e))
			}
			// main calls run_small(1) (small_b) then run_small(2) (small_a).
			for _, d := range measuredDepths(t, dir, bin, "run_small", 2) {
				if d > *small.Bound {
					t.Errorf("run_small used %d B in a measured run, above its bound %d", d, *small.Bound)
				}
			}
		})
	}
}

func TestIndirectPrototypeWithoutDWARF(t *testing.T) {
	dir := t.TempDir()
	bin := buildIndirect(t, dir, "dispatch.c", "-O2")
	res, err := Run(bin, Options{Entries: []string{"run_small"}})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	fr := frames(res)
	e := entry(t, res, "run_small")
	want := fr["run_small"] + max(fr["small_a"], fr["small_b"], fr["big_a"], fr["big_b"])
	if !e.Bounded || *e.Bound != want {
		t.Fatalf("run_small without DWARF: bound %s, want %d (the whole address-taken set)", show(e.Bound), want)
	}
	if len(e.Assumptions) != 1 || !strings.Contains(e.Assumptions[0].Detail, "address-taken set of 4 functions") {
		t.Errorf("assumptions %+v, want the address-taken set of 4 functions", e.Assumptions)
	}
}

func TestIndirectVirtual(t *testing.T) {
	const measure, draw = "measure(Shape const&, int)", "draw(Shape const*, long)"
	for _, flags := range [][]string{{"-g", "-O0"}, {"-g", "-O2"}, {"-O2"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			dir := t.TempDir()
			bin := buildIndirect(t, dir, "shapes.cpp", flags...)
			res, err := Run(bin, Options{Entries: []string{measure, draw}})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			fr := frames(res)
			m := entry(t, res, measure)
			area := max(fr["Square::area(int) const"], fr["Circle::area(int) const"], fr["Dot::area(int) const"])
			if want := fr[measure] + area; !m.Bounded || *m.Bound != want {
				t.Fatalf("measure: bound %s, want %d (measure + deepest area overrider); reasons %s, assumptions %+v", show(m.Bound), want, reasonSummary(m), m.Assumptions)
			}
			if len(m.Assumptions) != 1 || !strings.Contains(m.Assumptions[0].Detail, "vtable slot +16: 3 functions") {
				t.Fatalf("measure assumptions %+v, want the 3 overriders of vtable slot +16", m.Assumptions)
			}
			// At -O2 the object is in a register whose location list types
			// it: the load is of its _vptr. At -O0 it is on the stack, and
			// without DWARF there are no types: the code's shape decides.
			how := "by the code's shape"
			if strings.Join(flags, " ") == "-g -O2" {
				how = "by DWARF"
			}
			if !strings.Contains(m.Assumptions[0].Detail, how) {
				t.Errorf("measure: %q, want it found %s", m.Assumptions[0].Detail, how)
			}
			d := entry(t, res, draw)
			render := max(fr["Square::render(long) const"], fr["Circle::render(long) const"])
			if want := fr[draw] + render; !d.Bounded || *d.Bound != want {
				t.Errorf("draw: bound %s, want %d (draw + deepest render overrider)", show(d.Bound), want)
			}
			if render <= area {
				t.Fatalf("fixture: render (%d B) must be deeper than area (%d B)", render, area)
			}
			// main measures a Square, a Circle and a Dot.
			for _, depth := range measuredDepths(t, dir, bin, "measure", 3) {
				if depth > *m.Bound {
					t.Errorf("measure used %d B in a measured run, above its bound %d", depth, *m.Bound)
				}
			}
			// With four arguments main draws all[1], the Circle.
			for _, depth := range measuredDepths(t, dir, bin, "draw", 1, "a", "b", "c") {
				if depth > *d.Bound {
					t.Errorf("draw used %d B in a measured run, above its bound %d", depth, *d.Bound)
				}
			}
		})
	}
}

func TestIndirectOpsTable(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildIndirect(t, dir, "ops.c", "-g", opt)
			res, err := Run(bin, Options{Entries: []string{"do_open"}})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			fr := frames(res)
			e := entry(t, res, "do_open")
			if !e.Bounded || len(e.Assumptions) != 1 {
				t.Fatalf("do_open: bounded %v, assumptions %+v; reasons %s", e.Bounded, e.Assumptions, reasonSummary(e))
			}
			detail := e.Assumptions[0].Detail
			want := fr["do_open"] + max(fr["open_a"], fr["open_b"])
			if opt == "-O0" {
				// f lives on the stack at -O0: nothing types the load, and
				// in C the vtable shape proves nothing: the whole set.
				want = fr["do_open"] + max(fr["open_a"], fr["open_b"], fr["read_a"], fr["read_b"])
				if !strings.Contains(detail, "address-taken set of 4 functions") {
					t.Errorf("do_open: %q, want the whole address-taken set (C code is no virtual call)", detail)
				}
			} else if !strings.Contains(detail, "2 functions with prototype int (*)(struct file *, int)") {
				t.Errorf("do_open: %q, want the 2 functions of the open member's prototype (f in a register, typed by its location list)", detail)
			}
			if *e.Bound != want {
				t.Errorf("do_open: bound %d, want %d", *e.Bound, want)
			}
			for _, d := range measuredDepths(t, dir, bin, "do_open", 2) {
				if d > *e.Bound {
					t.Errorf("do_open used %d B in a measured run, above its bound %d", d, *e.Bound)
				}
			}
		})
	}
}

// TestThumbVirtualCalls: the same class hierarchy built for Cortex-M4
// (ldr r3,[r0]; ldr r3,[r3,#8]; blx r3): a call through a slot is bounded
// by that slot's overriders (address point +8 on a 32-bit target), checked
// against the frames GCC's .su files give.
func TestThumbVirtualCalls(t *testing.T) {
	gxx := testutil.RequireTool(t, "arm-none-eabi-g++")
	src, _ := filepath.Abs(filepath.Join("testdata", "indirect", "shapes.cpp"))
	const measure, draw = "measure(Shape const&, int)", "draw(Shape const*, long)"
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "shapes.elf")
			testutil.Run(t, dir, gxx, "-mcpu=cortex-m4", "-mthumb", opt, "-g", "-fstack-usage", "-fno-exceptions", "-fno-rtti",
				"--specs=nosys.specs", "-o", bin, src)
			res, err := Run(bin, Options{Entries: []string{measure, draw}})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := map[string]int64{}
			for _, l := range testutil.ParseSU(t, dir) {
				su[l.Function] = l.Bytes
			}
			fr := frames(res)
			// (.su spells long as "long int".)
			for name, want := range map[string]int64{"Circle::area(int) const": su["Circle::area(int) const"], "Circle::render(long) const": su["Circle::render(long int) const"]} {
				if fr[name] != want {
					t.Fatalf("%s: frame %d, .su %d", name, fr[name], want)
				}
			}
			for _, c := range []struct {
				entry, slot string
				overriders  []string
			}{
				{measure, "vtable slot +8: 3 functions", []string{"Square::area(int) const", "Circle::area(int) const", "Dot::area(int) const"}},
				{draw, "vtable slot +12: 2 functions", []string{"Square::render(long) const", "Circle::render(long) const"}},
			} {
				e := entry(t, res, c.entry)
				deepest := int64(0)
				for _, o := range c.overriders {
					deepest = max(deepest, fr[o])
				}
				if want := fr[c.entry] + deepest; !e.Bounded || *e.Bound != want {
					t.Errorf("%s: bound %s, want %d (its frame + the deepest overrider of the slot)", c.entry, show(e.Bound), want)
				}
				if len(e.Assumptions) != 1 || !strings.Contains(e.Assumptions[0].Detail, c.slot) {
					t.Errorf("%s: assumptions %+v, want %q", c.entry, e.Assumptions, c.slot)
				}
			}
		})
	}
}
