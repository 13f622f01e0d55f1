package analysis

import (
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/testutil"
)

// requireFramesFromSU checks that each step of an entry's printed path
// shows the function's .su frame, unless the step is a declaration of
// stackscope.toml (a frame, a recursion's trips).
func requireFramesFromSU(t *testing.T, e Entry, su map[string]int64) {
	t.Helper()
	for _, st := range e.Steps {
		if st.Recursion != nil || hasAssumption(e, bound.AssumeFrame, st.Function) {
			continue
		}
		// GCC's .su says 0 for a naked function, whatever its inline asm
		// pushes (FreeRTOS's PendSV handler: stmdb sp!, {r0, r3}): only
		// the machine code knows; requirePathSums still checks the sum.
		if want, ok := su[testutil.SUName(st.Function)]; ok && want > 0 && st.Kind == "static" && st.Frame != want {
			t.Errorf("%s: step %s shows %d B, .su says %d", e.Name, st.Function, st.Frame, want)
		}
	}
}

// TestFreeRTOSAnnotations: on the FreeRTOS application, the annotations
// of the report do what docs/analyze.md says: excluding the
// assert handler bounds the handlers that reach it, a [[frame]] on
// HardFault_Handler makes it a leaf, an [[indirect]] on it is followed,
// and every printed bound is the sum of its printed path, whose frames
// are the compiler's.
func TestFreeRTOSAnnotations(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fw := buildFreeRTOSApp(t, dir, port, "-O2")
			su := suFrames(testutil.ParseSU(t, dir))
			run := func(cfg string) *Result {
				t.Helper()
				res, err := Run(fw, Options{Config: parseConfig(t, cfg)})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				for _, e := range res.Entries {
					requireFramesFromSU(t, e, su)
				}
				return res
			}
			plain := run("")
			suggested := false
			for _, e := range plain.Entries {
				for _, n := range e.NeverReturns {
					suggested = suggested || n.Function == "vAssertCalled"
				}
			}
			if !suggested {
				t.Errorf("vAssertCalled (prints, then loops) is not suggested for [[exclude]] on any entry")
			}

			res := run("[[exclude]]\nfunction = \"vAssertCalled\"\n")
			for _, name := range []string{"IRQ0_Handler", "IRQ1_Handler"} {
				before, after := entry(t, plain, name), entry(t, res, name)
				if before.Bounded {
					t.Fatalf("fixture: %s bounded without the exclusion", name)
				}
				if !after.Bounded || !hasAssumption(after, bound.AssumeExcluded, "vAssertCalled") {
					t.Errorf("%s with vAssertCalled excluded: bounded %v, reasons %s, assumptions %+v", name, after.Bounded, reasonSummary(after), after.Assumptions)
				}
				for _, n := range after.NeverReturns {
					if n.Function == "vAssertCalled" {
						t.Errorf("%s: vAssertCalled suggested again once excluded", name)
					}
				}
			}

			// [[frame]] on the handler and on the assert handler.
			res = run("[[frame]]\nfunction = \"HardFault_Handler\"\nbytes = 8\n[[frame]]\nfunction = \"vAssertCalled\"\nbytes = 16\n")
			hf := entry(t, res, "HardFault_Handler")
			if !hf.Bounded || *hf.Bound != 8 || len(hf.Reasons) != 0 || len(hf.Steps) != 1 {
				t.Errorf("HardFault_Handler declared at 8 B: bound %s, reasons %s, path %s", show(hf.Bound), reasonSummary(hf), showSteps(hf.Steps))
			}
			for _, name := range []string{"IRQ0_Handler", "IRQ1_Handler"} {
				if e := entry(t, res, name); !e.Bounded || !hasAssumption(e, bound.AssumeFrame, "vAssertCalled") {
					t.Errorf("%s with vAssertCalled declared at 16 B: bounded %v, reasons %s", name, e.Bounded, reasonSummary(e))
				}
			}

			// [[indirect]] on the exception handler: its literal-pool
			// branch goes to hard_fault_report (the naked handler keeps
			// nothing on the stack at the branch).
			res = run("[[indirect]]\nfunction = \"HardFault_Handler\"\ntargets = [\"hard_fault_report\"]\n")
			hf = entry(t, res, "HardFault_Handler")
			if want := su["hard_fault_report"]; !hf.Bounded || *hf.Bound != want {
				t.Errorf("HardFault_Handler -> hard_fault_report: bound %s, want %d (.su); reasons %s, path %s", show(hf.Bound), want, reasonSummary(hf), showSteps(hf.Steps))
			}
		})
	}
}
