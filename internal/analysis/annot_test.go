package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// The annotation tests build testdata/annot (fw.c for Cortex-M, prog.c for
// x86-64) without sibling calls, so that every bound is a plain sum of the
// compiler's .su frames, and check for each kind of annotation the bound
// against that sum and the printed path against the bound.

func buildAnnotFirmware(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("testdata")
	out := filepath.Join(dir, "fw.elf")
	args := append([]string{"-mthumb", "-g", "-fno-optimize-sibling-calls", "-fstack-usage", "--specs=nosys.specs", "-nostartfiles",
		"-T", filepath.Join(td, "thumb", "link.ld"), "-o", out, filepath.Join(td, "annot", "fw.c")}, flags...)
	testutil.Run(t, dir, cc, args...)
	return out
}

func buildAnnotProgram(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "gcc")
	src, _ := filepath.Abs(filepath.Join("testdata", "annot", "prog.c"))
	out := filepath.Join(dir, "prog")
	testutil.Run(t, dir, cc, append([]string{"-g", "-fno-optimize-sibling-calls", "-mno-red-zone", "-fstack-usage", "-Wl,-z,now", "-o", out, src}, flags...)...)
	return out
}

func parseConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantBound checks an entry's bound and that it rests on an assumption
// of the given kind about function.
func wantBound(t *testing.T, res *Result, name string, want int64, kind, function string) Entry {
	t.Helper()
	e := entry(t, res, name)
	if !e.Bounded || *e.Bound != want {
		t.Errorf("%s: bound %s, want %d (from .su); reasons %s; path %s", name, show(e.Bound), want, reasonSummary(e), showSteps(e.Steps))
	}
	if kind != "" && !hasAssumption(e, kind, function) {
		t.Errorf("%s: no %s assumption about %s: %+v", name, kind, function, e.Assumptions)
	}
	return e
}

func hasEntry(res *Result, name string) bool {
	for _, e := range res.Entries {
		if e.Name == name {
			return true
		}
	}
	return false
}

func hasAssumption(e Entry, kind, function string) bool {
	for _, a := range e.Assumptions {
		if a.Kind == kind && a.Function == function {
			return true
		}
	}
	return false
}

func excludedAssumption(e Entry) *bound.Assumption {
	for i, a := range e.Assumptions {
		if a.Kind == bound.AssumeExcluded {
			return &e.Assumptions[i]
		}
	}
	return nil
}

var annotOpts = []string{"-O2", "-Os", "-O0"}

// TestThumbAnnotations: on Cortex-M firmware, each kind of annotation
// gives the bound the .su frames add up to, and the printed worst path
// adds up to the printed bound.
func TestThumbAnnotations(t *testing.T) {
	for _, cpu := range []string{"cortex-m0", "cortex-m3"} {
		for _, opt := range annotOpts {
			cpu, opt := cpu, opt
			t.Run(cpu+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildAnnotFirmware(t, dir, "-mcpu="+cpu, opt)
				su := suFrames(testutil.ParseSU(t, dir))
				run := func(cfg string) *Result {
					t.Helper()
					res, err := Run(fw, Options{Config: parseConfig(t, cfg)})
					if err != nil {
						t.Fatal(err)
					}
					requirePathSums(t, res)
					return res
				}
				plain := run("")
				requirePathSums(t, plain)

				// [[exclude]]: the assert handler prints through newlib,
				// whose FILE callbacks make SysTick_Handler unbounded.
				res := run("[[exclude]]\nfunction = \"vAssertCalled\"\n")
				if e := entry(t, plain, "SysTick_Handler"); e.Bounded {
					t.Fatalf("fixture: SysTick_Handler bounded without the exclusion (%d)", *e.Bound)
				}
				e := wantBound(t, res, "SysTick_Handler", su["SysTick_Handler"], bound.AssumeExcluded, "vAssertCalled")
				if x := excludedAssumption(e); x == nil || x.WithoutExclusion == nil || x.WithoutExclusion.Bounded ||
					x.WithoutExclusion.AtLeast != entry(t, plain, "SysTick_Handler").AtLeast {
					t.Errorf("SysTick_Handler: the exclusion does not say the entry was not bounded without it: %+v", x)
				}
				// An entry the exclusion did not change carries nothing.
				for _, e := range res.Entries {
					if e.Name == "Default_Handler" || e.Name == "NMI_Handler" {
						if len(e.Assumptions) != 0 {
							t.Errorf("%s: assumptions %+v, want none", e.Name, e.Assumptions)
						}
					}
				}

				// [[frame]] replaces the whole subtree: HardFault_Handler's
				// literal-pool branch reaches every address-taken function
				// (and through them newlib's recursion) until declared.
				res = run("[[frame]]\nfunction = \"HardFault_Handler\"\nbytes = 8\n")
				e = wantBound(t, res, "HardFault_Handler", 8, bound.AssumeFrame, "HardFault_Handler")
				if len(e.Reasons) != 0 || len(e.Steps) != 1 {
					t.Errorf("HardFault_Handler: reasons %s, path %s: want none of its callees", reasonSummary(e), showSteps(e.Steps))
				}
				// A frame on a callee: SysTick_Handler -> vAssertCalled (16 B declared).
				res = run("[[frame]]\nfunction = \"vAssertCalled\"\nbytes = 16\n")
				wantBound(t, res, "SysTick_Handler", su["SysTick_Handler"]+16, bound.AssumeFrame, "vAssertCalled")
				// By the other name of the function (NMI_Handler is
				// Default_Handler; the entry has one of the two names).
				name, other := "Default_Handler", "NMI_Handler"
				if hasEntry(plain, other) {
					name, other = other, name
				}
				res = run("[[frame]]\nfunction = \"" + other + "\"\nbytes = 24\n")
				wantBound(t, res, name, 24, bound.AssumeFrame, name)

				// [[indirect]] on an exception handler: the literal-pool branch
				// goes to fault_report (HardFault_Handler's frame is 0 and released).
				res = run("[[indirect]]\nfunction = \"HardFault_Handler\"\ntargets = [\"fault_report\"]\n")
				wantBound(t, res, "HardFault_Handler", su["HardFault_Handler"]+su["fault_report"]+su["system_reset"], "", "")
				// and on a plain function, as an added entry.
				res = run("entries = [\"dispatch\"]\n[[indirect]]\nfunction = \"dispatch\"\ntargets = [\"op_small\", \"op_big\"]\n")
				wantBound(t, res, "dispatch", su["dispatch"]+max(su["op_small"], su["op_big"]), "", "")

				// [[recursion]]: one function, and a cycle of two.
				res = run("entries = [\"walk\", \"ping\"]\n[[recursion]]\nfunction = \"walk\"\ndepth = 5\n[[recursion]]\nfunction = \"ping\"\ndepth = 3\n")
				e = wantBound(t, res, "walk", 5*su["walk"], bound.AssumeRecursion, "walk")
				if c := e.Steps[0].Recursion; c == nil || c.Depth != 5 || c.Trip != su["walk"] {
					t.Errorf("walk: the path does not show the 5 trips: %+v", e.Steps[0])
				}
				e = wantBound(t, res, "ping", 3*(su["ping"]+su["pong"]), "", "")
				if !hasAssumption(e, bound.AssumeRecursion, "ping") && !hasAssumption(e, bound.AssumeRecursion, "pong") {
					t.Errorf("ping: no recursion assumption: %+v", e.Assumptions)
				}

				// All at once: UART_IRQHandler -> filter -> vAssertCalled
				// (excluded) or sum_block, and vendor_op declared at 64.
				res = run("[[exclude]]\nfunction = \"vAssertCalled\"\n[[frame]]\nfunction = \"vendor_op\"\nbytes = 64\n")
				want := su["UART_IRQHandler"] + max(su["filter"]+su["sum_block"], 64)
				wantBound(t, res, "UART_IRQHandler", want, bound.AssumeFrame, "vendor_op")
			})
		}
	}
}

// TestX86Annotations: the same on an x86-64 program.
func TestX86Annotations(t *testing.T) {
	for _, opt := range annotOpts {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := buildAnnotProgram(t, dir, opt)
			su := suFrames(testutil.ParseSU(t, dir))
			run := func(cfg string, entries ...string) *Result {
				t.Helper()
				res, err := Run(bin, Options{Config: parseConfig(t, cfg), Entries: entries, NoLibraries: true})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				return res
			}
			plain := run("", "filter")
			if e := entry(t, plain, "filter"); e.Bounded {
				t.Fatalf("fixture: filter bounded through fatal's external calls (%d)", *e.Bound)
			}
			// [[exclude]]: fatal prints and exits (external here).
			res := run("[[exclude]]\nfunction = \"fatal\"\n", "filter")
			e := wantBound(t, res, "filter", su["filter"]+su["sum_block"], bound.AssumeExcluded, "fatal")
			if x := excludedAssumption(e); x == nil || x.WithoutExclusion == nil || x.WithoutExclusion.Bounded {
				t.Errorf("filter: the exclusion does not say the entry was not bounded without it: %+v", x)
			}
			// [[frame]] replaces vendor_op's subtree (a VLA below it).
			res = run("[[frame]]\nfunction = \"vendor_op\"\nbytes = 300\n", "vendor_op")
			if e := wantBound(t, res, "vendor_op", 300, bound.AssumeFrame, "vendor_op"); len(e.Reasons) != 0 {
				t.Errorf("vendor_op: its callee's reasons are still listed: %s", reasonSummary(e))
			}
			// [[indirect]].
			res = run("[[indirect]]\nfunction = \"dispatch\"\ntargets = [\"op_small\", \"op_big\"]\n", "dispatch")
			wantBound(t, res, "dispatch", su["dispatch"]+max(su["op_small"], su["op_big"]), "", "")
			// [[recursion]].
			res = run("[[recursion]]\nfunction = \"walk\"\ndepth = 7\n[[recursion]]\nfunction = \"pong\"\ndepth = 2\n", "walk", "ping")
			wantBound(t, res, "walk", 7*su["walk"], bound.AssumeRecursion, "walk")
			e = wantBound(t, res, "ping", 2*(su["ping"]+su["pong"]), "", "")
			if !hasAssumption(e, bound.AssumeRecursion, "ping") && !hasAssumption(e, bound.AssumeRecursion, "pong") {
				t.Errorf("ping: no recursion assumption: %+v", e.Assumptions)
			}
			// All of them on main.
			res = run("[[exclude]]\nfunction = \"fatal\"\n[[frame]]\nfunction = \"vendor_op\"\nbytes = 300\n"+
				"[[indirect]]\nfunction = \"dispatch\"\ntargets = [\"op_small\", \"op_big\"]\n"+
				"[[recursion]]\nfunction = \"walk\"\ndepth = 7\n[[recursion]]\nfunction = \"pong\"\ndepth = 2\n", "main")
			want := su["main"] + max(su["filter"]+su["sum_block"], 7*su["walk"], 2*(su["ping"]+su["pong"]),
				su["dispatch"]+max(su["op_small"], su["op_big"]), 300)
			wantBound(t, res, "main", want, bound.AssumeExcluded, "fatal")
		})
	}
}

// TestAnnotationWarnings: an excluded name that is no function, and an
// [[indirect]] that changes nothing, each get one warning line.
func TestAnnotationWarnings(t *testing.T) {
	dir := t.TempDir()
	fw := buildAnnotFirmware(t, dir, "-mcpu=cortex-m3", "-O2")
	cfg := parseConfig(t, "[[exclude]]\nfunction = \"vAssertCaled\"\n[[indirect]]\nfunction = \"sum_block\"\ntargets = [\"op_big\"]\n")
	res, err := Run(fw, Options{Config: cfg, Exclude: []string{"no_such_function"}})
	if err != nil {
		t.Fatal(err)
	}
	count := func(sub string) int {
		n := 0
		for _, w := range res.Warnings {
			if strings.Contains(w, sub) {
				n++
			}
		}
		return n
	}
	for _, sub := range []string{`exclude "vAssertCaled": no function of that name`, `exclude "no_such_function": no function of that name`,
		"indirect annotation for sum_block has no effect"} {
		if count(sub) != 1 {
			t.Errorf("want one warning with %q, got %q", sub, res.Warnings)
		}
	}
}

// TestNeverReturns: the functions that never return are found from their
// code, and the first one on a worst path is suggested for [[exclude]].
func TestNeverReturns(t *testing.T) {
	dir := t.TempDir()
	fw := buildAnnotFirmware(t, dir, "-mcpu=cortex-m3", "-O2")
	// --strict: newlib's callbacks are reasons, and the deepest known
	// path goes through the assert handler into snprintf.
	res, err := Run(fw, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	e := entry(t, res, "SysTick_Handler")
	if len(e.NeverReturns) != 1 || e.NeverReturns[0].Function != "vAssertCalled" || !strings.Contains(e.NeverReturns[0].Why, "endless loop") {
		t.Errorf("SysTick_Handler: never_returns %+v, want vAssertCalled (endless loop); path %v", e.NeverReturns, e.Path)
	}
	nr := newNoReturn(res.Graph, nil)
	node := func(name string) int {
		ids := res.Graph.NodesNamed(name)
		if len(ids) != 1 {
			t.Fatalf("%d nodes named %s", len(ids), name)
		}
		return ids[0]
	}
	for name, want := range map[string]string{
		"system_reset":  "AIRCR",
		"fault_report":  "calls system_reset",
		"vAssertCalled": "endless loop",
		"sum_block":     "",
		"filter":        "",
		"main":          "", // its loop is not a branch to itself
	} {
		got := nr.why(node(name))
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: never returns %q, want %q", name, got, want)
		}
	}
}
