package analysis

import (
	"sort"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// The acceptance checks of issue 12 on the FreeRTOS application of
// testdata/freertos (three tasks, a timer, two IRQs at NVIC priorities 5
// and 6, configASSERT -> vAssertCalled, which prints): built for each
// Cortex-M port and optimisation level, analysed with nothing but
// [[exclude]] of the assert handler.

const excludeAssert = "[[exclude]]\nfunction = \"vAssertCalled\"\n"

// appPriorities are the priorities the application and the port set, by
// vector (8-bit values as written to the NVIC/SCB; configPRIO_BITS 3):
// IRQ1 5<<5, IRQ0 6<<5, PendSV and SysTick the port's lowest (255); every
// other configurable vector keeps the reset value 0.
var appPriorities = map[string]int{"NMI": -2, "HardFault": -1, "IRQ0": 6 << 5, "IRQ1": 5 << 5, "PendSV": 255, "SysTick": 255}

func vectorPriority(vec string) int {
	if p, ok := appPriorities[vec]; ok {
		return p
	}
	return 0
}

// freertosTotal is the main-stack total computed from the handlers'
// bounds (each checked against .su by requireFramesFromSU and
// requirePathSums) and the priorities the application set: one level
// per distinct priority (its heaviest handler), plus a level of its own
// for each handler whose priority the analysis could not prove (it must
// say why), on top of the largest phase of the reset path.
func freertosTotal(t *testing.T, res *Result) int64 {
	t.Helper()
	in := res.Interrupts
	known := map[string]VectorPriority{}
	for _, vp := range in.Priorities {
		known[vp.Vector] = vp
	}
	heaviest := map[int]int64{}
	var own int64
	for _, h := range in.Handlers {
		if h.Bound == nil {
			t.Fatalf("%s not bounded", h.Name)
		}
		assumed := false
		for _, vec := range h.Vectors {
			vp, ok := known[vec]
			switch {
			case !ok:
				t.Fatalf("no priority entry for vector %s", vec)
			case vp.Priority == nil:
				if vp.Assumed == "" {
					t.Errorf("%s: priority not known and no reason given", vec)
				}
				assumed = true
			case *vp.Priority != vectorPriority(vec):
				t.Errorf("%s: priority %d, the application set %d", vec, *vp.Priority, vectorPriority(vec))
			}
		}
		if assumed {
			own += *h.Bound
			continue
		}
		for _, vec := range h.Vectors {
			p := vectorPriority(vec)
			heaviest[p] = max(heaviest[p], *h.Bound)
		}
	}
	var levels int64
	for _, b := range heaviest {
		levels += b
	}
	levels += own
	reset := entry(t, res, "Reset_Handler")
	base := *reset.Bound
	if r := reset.AfterReset; r != nil {
		base = max(*r.BeforeReset, *r.Bound)
	}
	return base + levels
}

func TestFreeRTOSOutOfTheBox(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f", "cm33"} {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			port, opt := port, opt
			t.Run(port+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildFreeRTOSApp(t, dir, port, opt)
				su := suFrames(testutil.ParseSU(t, dir))
				res, err := Run(fw, Options{Config: parseConfig(t, excludeAssert)})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				for _, e := range res.Entries {
					requireFramesFromSU(t, e, su)
				}
				in := res.Interrupts
				for _, h := range in.Handlers {
					for _, vec := range h.Vectors {
						switch vec {
						case "SVCall", "PendSV", "SysTick", "HardFault":
							if !h.Bounded {
								e := entry(t, res, h.Name)
								t.Errorf("%s (%s) not bounded: %s", h.Name, vec, reasonSummary(e))
							}
						}
					}
				}
				if in.Total == nil {
					t.Fatalf("MAIN STACK TOTAL not bounded (at least %d); unbounded: %v", in.TotalAtLeast, in.Unbounded)
				}
				if want := freertosTotal(t, res); *in.Total != want {
					t.Errorf("total %d, computed from the handlers' bounds and the application's priorities %d", *in.Total, want)
				}
				if pendsv, systick := handlerOf(t, in, "PendSV"), handlerOf(t, in, "SysTick"); pendsv.Level != systick.Level {
					t.Errorf("PendSV (level %d) and SysTick (level %d) share the lowest priority: one level", pendsv.Level, systick.Level)
				}
				checkFreeRTOSTasks(t, res, map[string]bool{})
			})
		}
	}
}

func handlerOf(t *testing.T, in *Interrupts, vec string) Handler {
	t.Helper()
	for _, h := range in.Handlers {
		for _, v := range h.Vectors {
			if v == vec {
				return h
			}
		}
	}
	t.Fatalf("no handler for %s", vec)
	return Handler{}
}

// checkFreeRTOSTasks: every task the application and the kernel create is
// found; each is ok, or unknown with a reason, never overflow, except
// those in overflow (which must be).
func checkFreeRTOSTasks(t *testing.T, res *Result, overflow map[string]bool) {
	t.Helper()
	var seen []string
	for _, th := range res.Threads {
		seen = append(seen, th.Entry)
		switch {
		case overflow[th.Entry]:
			if th.Status != "overflow" {
				t.Errorf("%s: %s (%s), want overflow", th.Entry, th.Status, th.Verdict)
			}
		case th.Status == "overflow":
			t.Errorf("%s: false alarm: %s (stack %s from %s; bound %s)", th.Entry, th.Verdict, show(th.StackSize), th.SizeSource, show(th.Bound))
		case th.Status == "unknown" && th.Reason == "":
			t.Errorf("%s: unknown without a reason", th.Entry)
		}
	}
	sort.Strings(seen)
	for _, want := range []string{"control_task", "logger_task", "prvIdleTask", "prvTimerTask", "sensor_task"} {
		if i := sort.SearchStrings(seen, want); i == len(seen) || seen[i] != want {
			t.Errorf("task %s not found (found %v)", want, seen)
		}
	}
}

// TestFreeRTOSSmallTaskStack gives the statically allocated task a stack
// smaller than its bound: it must be OVERFLOW, the others not.
func TestFreeRTOSSmallTaskStack(t *testing.T) {
	for _, port := range []string{"cm3", "cm0"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			fw := buildFreeRTOSApp(t, t.TempDir(), port, "-O2", "CONTROL_STACK_WORDS=24")
			res, err := Run(fw, Options{Config: parseConfig(t, excludeAssert)})
			if err != nil {
				t.Fatal(err)
			}
			checkFreeRTOSTasks(t, res, map[string]bool{"control_task": true})
		})
	}
}

// TestFreeRTOSStacklessHardFault: the seed's stackless HardFault handler
// (compare SP with the limit, put it back at the top, branch to C) is
// bounded: its exception frame on what it interrupted, and separately
// the reporting function's path from the top of the stack it reset to;
// the larger counts for the total, and layout's headroom is a number.
func TestFreeRTOSStacklessHardFault(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f", "cm33"} {
		for _, opt := range []string{"-O2", "-Os"} {
			port, opt := port, opt
			t.Run(port+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildFreeRTOSApp(t, dir, port, opt, "STACKLESS_HARDFAULT=1")
				su := suFrames(testutil.ParseSU(t, dir))
				res, err := Run(fw, Options{Config: parseConfig(t, excludeAssert)})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				hf := entry(t, res, "HardFault_Handler")
				if !hf.Bounded || hf.AfterReset == nil || hf.AfterReset.Bound == nil {
					t.Fatalf("HardFault_Handler: bounded %v, after reset %+v; reasons %s", hf.Bounded, hf.AfterReset, reasonSummary(hf))
				}
				// After the reset: fault_report, then hard_fault_report,
				// from the top of the stack (the naked handler has no frame).
				want := su["fault_report"] + su["hard_fault_report"]
				if got := *hf.AfterReset.Bound; got != want {
					t.Errorf("HardFault after its SP reset: %d B, .su of fault_report + hard_fault_report = %d B (path %v)", got, want, hf.AfterReset.Path)
				}
				in := res.Interrupts
				if in.Total == nil {
					t.Fatalf("MAIN STACK TOTAL not bounded: %v", in.Unbounded)
				}
				var best int64
				for _, p := range in.Phases {
					best = max(best, p.AtLeast)
				}
				if *in.Total != best {
					t.Errorf("total %d is not the largest phase %d (%+v)", *in.Total, best, in.Phases)
				}
				if want := freertosTotal(t, res); *in.Total < want {
					t.Errorf("total %d below the normal nesting %d", *in.Total, want)
				}
			})
		}
	}
}
