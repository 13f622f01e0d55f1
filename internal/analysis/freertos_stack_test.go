package analysis

import (
	"strings"
	"testing"
)

// TestFreeRTOSStackModel builds the FreeRTOS application for the ARM_CM3,
// ARM_CM4F and ARM_CM0 ports and checks the stack model on the ports' own
// code: the SVC and PendSV handlers' msr psp are not SP moves (handler
// mode), prvPortStartFirstTask's msr msp through VTOR is a reset of the
// main stack stated with its assumption (CM3/CM4F, whose CONTROL write
// there clears SPSEL), and no entry's reasons name an msr to MSP or PSP
// or an unmodelled SP write in those functions.
func TestFreeRTOSStackModel(t *testing.T) {
	for _, port := range []string{"cm3", "cm4f", "cm0"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			fw := buildFreeRTOSApp(t, t.TempDir(), port, "-O2")
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			svc, pendsv := "vPortSVCHandler", "xPortPendSVHandler"
			if port == "cm0" {
				svc, pendsv = "SVC_Handler", "PendSV_Handler"
			}
			// The handlers' own msr psp, found by objdump, are no reason.
			psp := []uint64{msrAddr(t, fw, pendsv, "PSP")}
			if port != "cm0" {
				psp = append(psp, msrAddr(t, fw, svc, "PSP"))
			}
			for _, e := range res.Entries {
				for _, r := range e.Reasons {
					for _, a := range psp {
						if r.Addr == a {
							t.Errorf("%s: reason at the handler's msr psp %#x: %s", e.Name, a, r.Detail)
						}
					}
					if strings.Contains(r.Detail, "not modelled") && strings.HasPrefix(r.Function, "prvPortStartFirstTask") {
						t.Errorf("%s: %s %s", e.Name, r.Function, r.Detail)
					}
				}
			}
			if s := entryNamed(res, svc); !s.Bounded {
				t.Errorf("%s: %s, want bounded", svc, reasonSummary(s))
			}
			if port == "cm0" {
				return // its first task starts from SVC; MSP is never reset
			}
			reset := entryNamed(res, "Reset_Handler")
			msr := msrAddr(t, fw, "prvPortStartFirstTask", "MSP")
			if r := reset.AfterReset; r == nil || r.Function != "prvPortStartFirstTask" || r.Addr != msr {
				t.Fatalf("Reset_Handler: after reset %+v, want the reset at prvPortStartFirstTask %#x", r, msr)
			}
			vtor := false
			for _, a := range reset.Assumptions {
				vtor = vtor || (a.Addr == msr && strings.Contains(a.Detail, "VTOR"))
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
