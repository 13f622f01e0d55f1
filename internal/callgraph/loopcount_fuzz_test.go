package callgraph

import (
	"testing"
)

// FuzzCountLoopMoves: the counted-loop pass never panics or runs away on
// any bytes, and what it proves is consistent: at least one counted move,
// each a `sub $b,%rsp` (b > 0) inside the code, a count of at least one,
// the total the count times the largest move, and the counter set inside
// the code; the pass run strictly (odd lengths) keeps no slot across a
// call by the stack-argument rule. Calls out of the code never return (as __assert_fail@plt),
// jumps out are tail calls. Seeds (testdata/fuzz/FuzzCountLoopMoves):
// testdata/x86/countedalloca.c's counted, decremented and overflowing
// (package analysis) from gcc -O1 and -O2, and the slowest inputs a run
// of the fuzzer found (slow-*: 6 ms at most, the step budget holds).
func FuzzCountLoopMoves(f *testing.F) {
	f.Fuzz(func(t *testing.T, code []byte) {
		const base = 0x1000
		end := uint64(base + len(code))
		outside := func(a uint64) bool { return a < base || a >= end }
		strict := len(code)%2 == 1
		lc, err := countLoopMoves(code, base, outside, outside, strict)
		if err != nil {
			if err.Error() == "" {
				t.Error("not proved, without a reason")
			}
			return
		}
		if len(lc.Moves) == 0 || lc.Count < 1 || lc.Birth < base || lc.Birth >= end {
			t.Fatalf("proof %+v: no move, no count, or a counter set outside the code", lc)
		}
		largest := int64(0)
		for a, b := range lc.Moves {
			if a < base || a >= end || b <= 0 {
				t.Errorf("counted move at %#x of %d B", a, b)
			}
			largest = max(largest, b)
		}
		if lc.Total != lc.Count*largest {
			t.Errorf("total %d B, want %d x %d B", lc.Total, lc.Count, largest)
		}
		if strict && len(lc.ArgKept) > 0 {
			t.Errorf("strict pass kept slots across calls by the stack-argument rule: %+v", lc.ArgKept)
		}
		for _, k := range lc.ArgKept {
			if k.Call < base || k.Call >= end || len(k.Slots) == 0 {
				t.Errorf("slots kept across a call at %#x: %v", k.Call, k.Slots)
			}
		}
	})
}
