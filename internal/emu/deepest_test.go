package emu

import (
	"strings"
	"testing"
)

// TestDeepestPath: on the emu tests' firmware, which forces its worst
// path, the write that reached the main stack's peak is found with a
// backtrace whose frames are the static worst path, function by function,
// and whose frame sizes add up to that path's static bound: at -O2 (CFA
// from SP) and at -O0 (CFA from the frame pointer r7).
func TestDeepestPath(t *testing.T) {
	for _, opt := range []string{"-O2", "-O0"} {
		t.Run(opt, func(t *testing.T) {
			fw := buildFirmware(t, t.TempDir(), "mps2-an385", opt)
			res, err := run(t, fw, Options{ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Stacks[0]
			d := s.Deepest
			if s.Peak == nil || d == nil {
				t.Fatalf("peak %v deepest %+v (%s)", s.Peak, d, s.DeepestNote)
			}
			var measured []string
			sum := int64(0)
			for i := len(d.Backtrace) - 1; i >= 0; i-- {
				measured = append(measured, d.Backtrace[i].Function)
				sum += d.Backtrace[i].Size
			}
			// The frames are what the code allocated, the depth what it
			// wrote: at -O0 the lowest word of leaf's frame is padding that
			// is never written. The frames add up to the reset path's
			// static bound, which counts allocations.
			if d.Depth != *s.Peak || sum < d.Depth || s.ResetBound == nil || sum != *s.ResetBound {
				t.Errorf("deepest at %d B, frames add to %d B, peak %d B, reset path's bound %v", d.Depth, sum, *s.Peak, s.ResetBound)
			}
			if strings.Join(measured, " ") != strings.Join(s.StaticPath, " ") {
				t.Errorf("measured path %v, static worst path %v", measured, s.StaticPath)
			}
		})
	}
}
