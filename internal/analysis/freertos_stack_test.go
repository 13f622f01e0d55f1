package analysis

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/testutil"
)

// freertosHandlers names, per port, the functions the vector table gives
// SVCall, PendSV and SysTick.
var freertosHandlers = map[string][3]string{
	"cm3":  {"vPortSVCHandler", "xPortPendSVHandler", "xPortSysTickHandler"},
	"cm4f": {"vPortSVCHandler", "xPortPendSVHandler", "xPortSysTickHandler"},
	"cm0":  {"SVC_Handler", "PendSV_Handler", "SysTick_Handler"},
	"cm33": {"SVC_Handler", "PendSV_Handler", "SysTick_Handler"},
}

// TestFreeRTOSStackModel builds the FreeRTOS application for the ARM_CM3,
// ARM_CM4F, ARM_CM0 and ARM_CM33_NTZ ports and analyses it as issue 12
// asks, with only [[exclude]] function = "vAssertCalled": the main-stack
// total and the SVC, PendSV, SysTick and HardFault handlers are bounded,
// each bound is its printed path's sum, and the path's frames are .su's.
// For the right reasons:
//   - the handlers' msr psp are no SP moves and no reason (handler mode);
//   - CM3, CM4F and CM33 reset MSP through VTOR before the first task
//     (prvPortStartFirstTask, vStartFirstTask, whose literal pool on CM33
//     lies past its symbol's end): a reset, with its assumption at the msr;
//   - CM0 and CM33 resume a task with bx through the EXC_RETURN read from
//     the context they restore (vRestoreContextOfFirstTask from SVC,
//     PendSV_Handler): an exception return, stated as an "exc-return"
//     assumption at that bx, and the only one of its kind; CM3 and CM4F
//     return with bx lr and have none;
//   - vPortSVCHandler_C, which SVC_Handler branches to through a literal,
//     is not address-taken, so no task's assumed call reaches it.
func TestFreeRTOSStackModel(t *testing.T) {
	for _, port := range []string{"cm3", "cm4f", "cm0", "cm33"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fw := buildFreeRTOSApp(t, dir, port, "-O2")
			su := suFrames(testutil.ParseSU(t, dir))
			res, err := Run(fw, Options{Config: parseConfig(t, "[[exclude]]\nfunction = \"vAssertCalled\"\n")})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			h := freertosHandlers[port]
			svc, pendsv, systick := h[0], h[1], h[2]
			for _, name := range []string{svc, pendsv, systick, "HardFault_Handler", "Reset_Handler"} {
				e := entry(t, res, name)
				if !e.Bounded {
					t.Errorf("%s: %s, want bounded", name, reasonSummary(e))
				}
				requireFramesFromSU(t, e, su)
			}
			if in := res.Interrupts; in == nil || in.Total == nil {
				t.Errorf("main-stack total not bounded")
			}

			// The handlers' own msr psp, found by objdump, are no reason.
			psp := []uint64{msrAddr(t, fw, pendsv, "PSP")}
			if port == "cm3" || port == "cm4f" {
				psp = append(psp, msrAddr(t, fw, svc, "PSP"))
			}
			for _, e := range res.Entries {
				for _, r := range e.Reasons {
					for _, a := range psp {
						if r.Addr == a {
							t.Errorf("%s: reason at the handler's msr psp %#x: %s", e.Name, a, r.Detail)
						}
					}
				}
			}

			// Exception returns through the restored context.
			var wantExc map[string]uint64 // entry -> the bx
			if port == "cm0" || port == "cm33" {
				wantExc = map[string]uint64{
					svc:    bxAddr(t, fw, "vRestoreContextOfFirstTask"),
					pendsv: bxAddr(t, fw, pendsv),
				}
			}
			for _, e := range res.Entries {
				var got []uint64
				for _, a := range e.Assumptions {
					if a.Kind == bound.AssumeExcReturn {
						got = append(got, a.Addr)
					}
				}
				want, ok := wantExc[e.Name]
				if ok && (len(got) != 1 || got[0] != want) || !ok && len(got) != 0 {
					t.Errorf("%s: exc-return assumptions at %#x, want %#x", e.Name, got, want)
				}
			}
			g := res.Graph
			for _, id := range g.AddressTaken(g.Modules[0]) {
				if g.Nodes[id].Name() == "vPortSVCHandler_C" {
					t.Errorf("vPortSVCHandler_C is address-taken: SVC_Handler only branches to it")
				}
			}

			if port == "cm0" {
				return // its first task starts from SVC; MSP is never reset
			}
			start := "prvPortStartFirstTask"
			if port == "cm33" {
				start = "vStartFirstTask"
			}
			reset := entryNamed(res, "Reset_Handler")
			msr := msrAddr(t, fw, start, "MSP")
			if r := reset.AfterReset; r == nil || r.Function != start || r.Addr != msr {
				t.Fatalf("Reset_Handler: after reset %+v, want the reset at %s %#x", r, start, msr)
			}
			vtor := false
			for _, a := range reset.Assumptions {
				vtor = vtor || (a.Kind == bound.AssumeVTOR && a.Addr == msr)
			}
			if !vtor {
				t.Errorf("Reset_Handler does not state the VTOR assumption at %#x", msr)
			}
			// The scheduler phase: nothing runs on the main stack after
			// the reset but the svc that starts the first task.
			if in := res.Interrupts; len(in.Phases) < 2 || in.Phases[1].Name != "scheduler" || in.Phases[1].Path != 0 {
				t.Errorf("phases %+v, want startup then a scheduler phase of 0 B", in.Phases)
			}
		})
	}
}

// bxAddr finds, with arm-none-eabi-objdump, the address of the last bx
// through a register other than lr in function fn.
func bxAddr(t *testing.T, elf, fn string) uint64 {
	t.Helper()
	od := testutil.RequireTool(t, "arm-none-eabi-objdump")
	out := testutil.Run(t, filepath.Dir(elf), od, "-d", "--disassemble="+fn, elf)
	re := regexp.MustCompile(`(?m)^\s*([0-9a-f]+):\s.*\tbx\tr\d+\s*$`)
	m := re.FindAllStringSubmatch(out, -1)
	if m == nil {
		t.Fatalf("no bx rN in %s:\n%s", fn, out)
	}
	a, _ := strconv.ParseUint(m[len(m)-1][1], 16, 64)
	return a
}
