package analysis

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildThumbIndirect compiles testdata/thumbind (startup and app) for one
// CPU and optimisation level, with -fstack-usage, the way firmware is
// usually linked: each function in its own section and unused ones
// dropped (their .debug_frame FDEs stay, at address 0).
func buildThumbIndirect(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "thumbind"))
	link, _ := filepath.Abs(filepath.Join("testdata", "thumb", "link.ld"))
	out := filepath.Join(dir, "fw.elf")
	args := append([]string{"-mthumb", "-g", "-fstack-usage", "-ffunction-sections", "-Wl,--gc-sections",
		"--specs=nosys.specs", "-nostartfiles", "-T", link, "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "app.c")}, flags...)
	testutil.Run(t, dir, cc, args...)
	return out
}

// Functions whose address app.c and startup.c store outside the vector
// table, and those of them whose prototype fits TimerCallback_t, void
// (*)(Timer *), under the AAPCS: no parameter, or one word-sized one. Not
// prvGetRegistersFromStack: HardFault_Handler's literal word holds its
// address, but only the handler's ldr r2, ...; bx r2 reads it, a branch to
// it (a direct tail call), not a pointer that escapes. keep_self, branched
// to the same way but through r2, its third parameter, receives its own
// address and stores it: address-taken.
var (
	thumbTaken      = []string{"UART_IRQHandler", "cb_big", "cb_none", "cb_small", "keep_self", "pair_job", "wide_job"}
	thumbTimerFits  = []string{"UART_IRQHandler", "cb_big", "cb_none", "cb_small"}
	thumbVectorOnly = []string{"Default_Handler", "HardFault_Handler", "SysTick_Handler", "TIMER_IRQHandler"}
)

// TestThumbIndirectControlFlow: literal-pool and movw/movt constants
// branched to are direct edges; the vector table makes no handler
// address-taken and no function sits at address 0; a call through a
// typed callback member goes only to the address-taken functions whose
// prototype fits; every bound is the sum of GCC's .su frames on the path.
func TestThumbIndirectControlFlow(t *testing.T) {
	for _, cpu := range []string{"m3", "m0"} {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			cpu, opt := cpu, opt
			t.Run(cpu+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildThumbIndirect(t, dir, opt, "-mcpu=cortex-"+cpu)
				su := suFrames(testutil.ParseSU(t, dir))
				entries := []string{"HardFault_Handler", "call_constant", "fire_timer", "fire_indexed"}
				res, err := Run(fw, Options{Entries: entries})
				if err != nil {
					t.Fatal(err)
				}
				checkConstantBranches(t, res, su)
				checkAddressTaken(t, res)
				checkTypedCallback(t, res, su, "fire_indexed")
				if opt != "-O0" {
					// At -O0 t is kept on the stack, whose DWARF
					// location the narrowing does not read.
					checkTypedCallback(t, res, su, "fire_timer")
				}
				strict, err := Run(fw, Options{Entries: entries, Strict: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"HardFault_Handler", "call_constant"} {
					if e := entry(t, strict, name); !e.Bounded {
						t.Errorf("--strict: %s not bounded (%s): a constant branched to is proved, not assumed", name, reasonSummary(e))
					}
				}
				for _, name := range []string{"fire_timer", "fire_indexed"} {
					if e := entry(t, strict, name); e.Bounded || !strings.Contains(reasonSummary(e), "indirect@"+name) {
						t.Errorf("--strict: %s %s, want an indirect reason (a narrowed set is still an assumption)", name, reasonSummary(e))
					}
				}
			})
		}
	}
}

// checkConstantBranches: HardFault_Handler (ldr r2, literal; bx r2) is a
// tail call to prvGetRegistersFromStack, call_constant (movw/movt or a
// literal; blx r3) a call to cb_none, with no assumption.
func checkConstantBranches(t *testing.T, res *Result, su map[string]int64) {
	t.Helper()
	hf := entry(t, res, "HardFault_Handler")
	// The naked handler pushes nothing: after its tail call, the
	// fault reporter's frame is all there is.
	if want := su["prvGetRegistersFromStack"]; !hf.Bounded || *hf.Bound != want || len(hf.Assumptions) != 0 {
		t.Errorf("HardFault_Handler: bound %s, assumptions %+v, reasons %s; want %d (prvGetRegistersFromStack's .su frame), none assumed",
			show(hf.Bound), hf.Assumptions, reasonSummary(hf), want)
	}
	if strings.Join(hf.Path, " ") != "HardFault_Handler prvGetRegistersFromStack" {
		t.Errorf("HardFault_Handler path %v, want the literal's target", hf.Path)
	}
	cc := entry(t, res, "call_constant")
	if want := su["call_constant"] + su["cb_none"]; !cc.Bounded || *cc.Bound != want || len(cc.Assumptions) != 0 {
		t.Errorf("call_constant: bound %s, assumptions %+v, reasons %s; want %d (.su of call_constant + cb_none)",
			show(cc.Bound), cc.Assumptions, reasonSummary(cc), want)
	}
	if strings.Join(cc.Path, " ") != "call_constant cb_none" {
		t.Errorf("call_constant path %v, want call_constant cb_none", cc.Path)
	}
}

// checkAddressTaken: exactly the functions the sources store, none of the
// handlers only the vector table names, and nothing at address 0.
func checkAddressTaken(t *testing.T, res *Result) {
	t.Helper()
	for _, f := range res.Functions {
		if f.Addr == 0 {
			t.Errorf("function %s at address 0 (the vector table)", f.Name)
		}
	}
	g := res.Graph
	var taken []string
	for _, id := range g.AddressTaken(g.Modules[0]) {
		taken = append(taken, g.Nodes[id].Name())
	}
	sort.Strings(taken)
	if strings.Join(taken, " ") != strings.Join(thumbTaken, " ") {
		t.Errorf("address-taken %v, want %v (not the vector-table-only %v)", taken, thumbTaken, thumbVectorOnly)
	}
}

// checkTypedCallback: fn's call through Timer's callback member goes to
// the functions of thumbTimerFits only (not wide_job, a long long, nor
// pair_job, two parameters, though both are address-taken and deeper),
// and fn's bound is its .su frame plus the deepest of them.
func checkTypedCallback(t *testing.T, res *Result, su map[string]int64, fn string) {
	t.Helper()
	e := entry(t, res, fn)
	want := fmt.Sprintf("%d functions with prototype void (*)(Timer *)", len(thumbTimerFits))
	if len(e.Assumptions) != 1 || !strings.Contains(e.Assumptions[0].Detail, want) {
		t.Errorf("%s: assumptions %+v, want the %s", fn, e.Assumptions, want)
		return
	}
	targets := prototypeTargets(t, res, fn)
	if strings.Join(targets, " ") != strings.Join(thumbTimerFits, " ") {
		t.Errorf("%s: targets %v, want %v", fn, targets, thumbTimerFits)
	}
	deepest := int64(0)
	for _, f := range thumbTimerFits {
		deepest = max(deepest, su[f])
	}
	if want := su[fn] + deepest; !e.Bounded || *e.Bound != want {
		t.Errorf("%s: bound %s, want %d (.su of %s + the deepest fitting callback)", fn, show(e.Bound), want, fn)
	}
	if su["wide_job"] <= deepest || su["pair_job"] <= deepest {
		t.Fatalf("fixture: wide_job and pair_job must be deeper than every fitting callback")
	}
}

// prototypeTargets lists, sorted, the functions the node standing for
// fn's prototype-narrowed indirect call links to.
func prototypeTargets(t *testing.T, res *Result, fn string) []string {
	t.Helper()
	g := res.Graph
	var out []string
	hubs := map[int]bool{} // one hub per prototype, however many call sites
	for _, id := range g.NodesNamed(fn) {
		for _, e := range g.Nodes[id].Edges {
			if e.Method != callgraph.MethodPrototype || hubs[e.To] {
				continue
			}
			hubs[e.To] = true
			for _, h := range g.Nodes[e.To].Edges {
				out = append(out, g.Nodes[h.To].Name())
			}
		}
	}
	sort.Strings(out)
	return out
}
