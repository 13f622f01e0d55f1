package emu

import "testing"

// TestRatchetOverBoundIsAFinding: a depth the --deepest run reached past a
// bounded static bound is an analysis bug: recorded on the stack and exit
// 1, even though the measured run's peak is within the bound.
func TestRatchetOverBoundIsAFinding(t *testing.T) {
	peak, bound := int64(600), int64(616)
	s := StackResult{Name: "worker", Kind: "task", Size: 1024, Peak: &peak, StaticBound: &bound, Bounded: true}
	if w := ratchetOverBound(&s, 616); w != nil || s.RatchetOverBound != 0 {
		t.Fatalf("at the bound: %v, %d", w, s.RatchetOverBound)
	}
	r := Result{Stop: StopResult{Kind: "exit"}, Stacks: []StackResult{s}}
	if got := r.ExitStatus(); got != exitOK {
		t.Fatalf("within the bound: exit %d", got)
	}
	w := ratchetOverBound(&r.Stacks[0], 620)
	if len(w) != 1 || r.Stacks[0].RatchetOverBound != 620 {
		t.Fatalf("over the bound: %v, %d", w, r.Stacks[0].RatchetOverBound)
	}
	if got := r.ExitStatus(); got != exitFinding {
		t.Errorf("over the bound: exit %d, want %d", got, exitFinding)
	}
}
