package analysis

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildResetFirmware compiles testdata/resets/fw.c (see its comment) for
// one CPU with extra -D flags, and returns the ELF and its .su frames.
func buildResetFirmware(t *testing.T, cpuFlags []string, defines ...string) (string, map[string]int64) {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "resets"))
	dir := t.TempDir()
	out := filepath.Join(dir, "fw.elf")
	args := append([]string{"-mthumb", "-O2", "-g", "-fstack-usage", "-nostdlib", "-T", filepath.Join(td, "link.ld"), "-o", out}, cpuFlags...)
	args = append(args, defines...)
	args = append(args, filepath.Join(td, "fw.c"), "-lgcc")
	testutil.Run(t, dir, cc, args...)
	return out, suFrames(testutil.ParseSU(t, dir))
}

// msrAddr finds, with arm-none-eabi-objdump, the address of the msr to
// register reg (MSP, PSP) in function fn.
func msrAddr(t *testing.T, elf, fn, reg string) uint64 {
	t.Helper()
	od := testutil.RequireTool(t, "arm-none-eabi-objdump")
	out := testutil.Run(t, filepath.Dir(elf), od, "-d", "--disassemble="+fn, elf)
	re := regexp.MustCompile(`(?m)^\s*([0-9a-f]+):\s.*\tmsr\t` + reg + `, r\d`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no msr %s in %s:\n%s", reg, fn, out)
	}
	a, _ := strconv.ParseUint(m[1], 16, 64)
	return a
}

func entryNamed(res *Result, name string) Entry {
	for _, e := range res.Entries {
		if e.Name == name {
			return e
		}
	}
	return Entry{}
}

// TestThumbStackResets checks the Cortex-M stack model on code that writes
// MSP, PSP and SP as RTOS ports and fault handlers do, against the
// compiler's .su frames:
//   - the stackless HardFault handler (mov sp to the stack top when SP is
//     below the limit, then a C report) is bounded: its part after the
//     reset is the report's .su path, and the total counts it with NMI's
//     level, the only one that can preempt HardFault;
//   - a PendSV handler that saves the task on PSP and writes PSP back is
//     bounded with its main-stack frame;
//   - the VTOR chain (msr msp, from word 0 of the table VTOR points to) in
//     a function main calls after deep frames: the total is the larger of
//     the startup and scheduler phases, each with every priority level
//     (NMI, HardFault, and the others at the reset priority 0: fw.c sets
//     none), and the entry states the VTOR assumption at the msr's address;
//   - MSPLIM/PSPLIM writes on ARMv8-M are no SP move.
func TestThumbStackResets(t *testing.T) {
	for _, cpu := range thumbCPUs {
		// The startup phase is the larger, then the scheduler phase.
		for _, size := range [][2]int{{96, 400}, {400, 96}} {
			cpu, size := cpu, size
			t.Run(fmt.Sprintf("%s-sched%d", cpu.name, size[0]), func(t *testing.T) {
				t.Parallel()
				fw, su := buildResetFirmware(t, cpu.flags, fmt.Sprintf("-DSCHED_BYTES=%d", size[0]), fmt.Sprintf("-DAPP_BYTES=%d", size[1]))
				res, err := Run(fw, Options{})
				if err != nil {
					t.Fatal(err)
				}
				checkResets(t, res, su, fw, cpu.fp)
				if cpu.name == "m33" {
					for _, f := range res.Functions {
						if f.Name == "set_limits" && (f.Frame == nil || *f.Frame != 0) {
							t.Errorf("set_limits (msr msplim, psplim): frame %s (%s), want 0", show(f.Frame), f.Reason)
						}
					}
				}
			})
		}
	}
}

func checkResets(t *testing.T, res *Result, su map[string]int64, fw string, fp bool) {
	t.Helper()
	in := res.Interrupts
	extra := int64(32 + 4)
	if fp {
		extra = 104 + 4
	}
	leaf := su["leaf"]
	startup := su["Reset_Handler"] + su["main"] + su["app_init"] + leaf
	scheduler := su["scheduler_run"] + leaf
	faultAfter := su["stack_overflow_report"] + leaf
	// PendSV's own frame is its hand-written push {r3, lr} (stmdb sp!):
	// two words; then switch_context's .su path.
	pendsv := 8 + su["switch_context"] + leaf
	levels := map[string]int64{
		"NMI_Handler":       su["NMI_Handler"] + leaf + extra,
		"HardFault_Handler": su["fault_report"] + extra, // before the reset: the tail call to fault_report
		"Default_Handler":   su["Default_Handler"] + extra,
		"PendSV_Handler":    pendsv + extra,
		"SysTick_Handler":   su["SysTick_Handler"] + extra,
	}
	// fw.c writes no priority: NMI (-2) and HardFault (-1) are levels of
	// their own, every other handler is at the reset value 0, one level
	// that adds its heaviest handler.
	all := levels["NMI_Handler"] + levels["HardFault_Handler"] +
		max(levels["Default_Handler"], levels["PendSV_Handler"], levels["SysTick_Handler"])
	if len(in.Levels) != 3 {
		t.Errorf("levels %+v, want NMI, HardFault, and one at the reset priority 0", in.Levels)
	}
	for name, want := range levels {
		var h Handler
		for _, x := range in.Handlers {
			if x.Name == name {
				h = x
			}
		}
		if !h.Bounded || *h.Bound != want {
			t.Errorf("%s: level adds %s, want %d from .su", name, show(h.Bound), want)
		}
	}
	hf := entryNamed(res, "HardFault_Handler")
	if !hf.Bounded || hf.AfterReset == nil || *hf.AfterReset.Bound != faultAfter {
		t.Fatalf("HardFault_Handler: %s, after reset %+v, want bounded with %d after the reset", reasonSummary(hf), hf.AfterReset, faultAfter)
	}
	if *hf.Bound != max(faultAfter, su["fault_report"]) {
		t.Errorf("HardFault_Handler bound %d, want the larger part %d", *hf.Bound, max(faultAfter, su["fault_report"]))
	}
	reset := entryNamed(res, "Reset_Handler")
	if !reset.Bounded || reset.AfterReset == nil {
		t.Fatalf("Reset_Handler: %s, want bounded with a reset", reasonSummary(reset))
	}
	if *reset.AfterReset.Bound != scheduler || *reset.AfterReset.BeforeReset != startup {
		t.Errorf("Reset_Handler: after reset %d, before %d; want %d and %d from .su", *reset.AfterReset.Bound, *reset.AfterReset.BeforeReset, scheduler, startup)
	}
	msr := msrAddr(t, fw, "start_first", "MSP")
	if reset.AfterReset.Addr != msr || reset.AfterReset.Function != "start_first" {
		t.Errorf("reset at %s %#x, want start_first %#x", reset.AfterReset.Function, reset.AfterReset.Addr, msr)
	}
	vtor := false
	for _, a := range reset.Assumptions {
		vtor = vtor || (a.Addr == msr && strings.Contains(a.Detail, "VTOR"))
	}
	if !vtor {
		t.Errorf("Reset_Handler does not state the VTOR assumption at %#x: %+v", msr, reset.Assumptions)
	}
	want := max(startup+all, scheduler+all, faultAfter+levels["NMI_Handler"])
	if in.Total == nil || *in.Total != want {
		t.Errorf("main-stack total %s, want %d = max(startup %d, scheduler %d, HardFault after reset %d + NMI) ", show(in.Total), want, startup+all, scheduler+all, faultAfter)
	}
	wantPhase := "startup"
	if scheduler > startup {
		wantPhase = "scheduler"
	}
	if in.Applies != wantPhase {
		t.Errorf("phase %q applies, want %q", in.Applies, wantPhase)
	}
}

// TestThumbStackResetNotTop: MSP set from a constant that is not the
// initial SP, or from a word in RAM, is not a reset: the reset path is
// not bounded, with a reason at the msr.
func TestThumbStackResetNotTop(t *testing.T) {
	for _, cpu := range thumbCPUs {
		for _, kind := range []int{2, 3} {
			cpu, kind := cpu, kind
			t.Run(fmt.Sprintf("%s-kind%d", cpu.name, kind), func(t *testing.T) {
				t.Parallel()
				fw, _ := buildResetFirmware(t, cpu.flags, fmt.Sprintf("-DRESET_KIND=%d", kind))
				res, err := Run(fw, Options{})
				if err != nil {
					t.Fatal(err)
				}
				reset := entryNamed(res, "Reset_Handler")
				msr := msrAddr(t, fw, "start_first", "MSP")
				found := false
				for _, r := range reset.Reasons {
					found = found || (r.Kind == "unknown" && r.Function == "start_first" && r.Addr == msr && strings.Contains(r.Detail, "not modelled"))
				}
				if reset.Bounded || !found || reset.AfterReset != nil {
					t.Errorf("Reset_Handler: %s; want not bounded with an unknown SP write at %#x in start_first", reasonSummary(reset), msr)
				}
				if res.Interrupts.Total != nil {
					t.Errorf("main-stack total %d, want not bounded", *res.Interrupts.Total)
				}
			})
		}
	}
}
