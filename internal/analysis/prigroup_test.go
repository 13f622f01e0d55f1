package analysis

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestPrigroupWithoutMainExtension: AIRCR's PRIGROUP exists only with the
// Main Extension. The priority fixture writes PRIGROUP 5 (under which
// UART 0x80 and ADC 0xA0 share a group); built for ARMv8-M baseline
// (Cortex-M23) the write is ignored by the core, and built for the M3
// with its build attributes removed the core is not known: both must keep
// PRIGROUP 0 (UART and ADC on two levels) and say why. The M3 with its
// attributes keeps PRIGROUP 5 (TestThumbPrioritiesFromCode). The ARMv6-M
// case is measured in QEMU by internal/emu's TestPriorityGroupingMeasured.
func TestPrigroupWithoutMainExtension(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
		strip bool
		why   string
	}{
		{"m23", []string{"-O2", "-mcpu=cortex-m23"}, false, "ARMv8-M baseline has no PRIGROUP"},
		{"m3-no-attributes", []string{"-O2", "-mcpu=cortex-m3"}, true, "no build attributes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fw := buildPriorityFirmware(t, dir, c.flags...)
			if c.strip {
				objcopy := testutil.RequireTool(t, "arm-none-eabi-objcopy")
				testutil.Run(t, dir, objcopy, "--remove-section", ".ARM.attributes", fw)
			}
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Interrupts == nil || !strings.Contains(res.Interrupts.PriorityGrouping, c.why) ||
				!strings.Contains(res.Interrupts.PriorityGrouping, "PRIGROUP taken as 0") {
				t.Fatalf("priority grouping %q, want PRIGROUP taken as 0 because %s", res.Interrupts.PriorityGrouping, c.why)
			}
			checkPriorities(t, res, suFrames(testutil.ParseSU(t, dir)), 0, false)
		})
	}
}
