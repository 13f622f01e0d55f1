package emu

import (
	"context"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestMinStackFirmware: on the emu tests' firmware, whose code forces its
// worst path (every frame filled to its deepest word), the minimum main
// stack found by bisection equals the peak a painted run measures,
// rounded up to the 8 bytes an initial SP steps by; it is within the
// static total, the same on a second bisection, and the run 8 bytes below
// it overflows.
func TestMinStackFirmware(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385")
	run, err := run(t, fw, Options{Machine: "mps2-an385", ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	peak := run.Stacks[0].Peak
	if peak == nil {
		t.Fatalf("peak not measured: %s", run.Stacks[0].NotMeasured)
	}
	var mins []int64
	for i := 0; i < 2; i++ {
		var pid int
		var qdir string
		r, err := MinStack(context.Background(), fw, MinStackOptions{Machine: "mps2-an385", Timeout: 30 * time.Second,
			Started: func(m *Machine) { pid, qdir = m.PID(), m.Dir() }})
		if pid != 0 {
			assertGone(t, pid, qdir)
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Minimum == nil {
			t.Fatalf("no minimum: %s", r.Problem)
		}
		t.Logf("minimum %d, painted peak %d, static total %v, runs %+v", *r.Minimum, *peak, *r.StaticTotal, r.Runs)
		if *r.Minimum < *peak || *r.Minimum >= *peak+8 {
			t.Errorf("minimum %d, want the painted peak %d rounded up to 8", *r.Minimum, *peak)
		}
		if r.StaticTotal == nil || *r.Minimum > *r.StaticTotal || r.AnalysisBug {
			t.Errorf("minimum %d, static total %v, analysis bug %v", *r.Minimum, r.StaticTotal, r.AnalysisBug)
		}
		if !r.Reproducible || r.Below == nil || r.Below.Verdict == VerdictNoOverflow {
			t.Errorf("reproducible %v, below %+v", r.Reproducible, r.Below)
		}
		mins = append(mins, *r.Minimum)
	}
	if mins[0] != mins[1] {
		t.Errorf("minimum %d then %d: not reproducible", mins[0], mins[1])
	}
}
