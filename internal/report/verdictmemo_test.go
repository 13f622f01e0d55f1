package report

import "testing"

// TestVerdictMemoIsVerdict: the verdict table's memo gives every entry of
// Lua built as a shared object (hundreds of unbounded entries, which
// share their reason lists) the verdict Verdict makes for it alone,
// without a budget and with one, and the memo is used: fewer lists are
// kept than entries asked.
func TestVerdictMemoIsVerdict(t *testing.T) {
	lua := buildLuaShared(t)
	for _, budget := range []int64{0, 256} {
		m := newVerdictMemo(budget)
		unbounded := 0
		for _, e := range lua.Entries {
			if !e.Bounded {
				unbounded++
			}
			// Twice: the second answer is the memo's.
			for range 2 {
				if got, want := m.of(e), Verdict(e, budget); got != want {
					t.Fatalf("budget %d, %s: memo says %q, Verdict %q", budget, e.Name, got, want)
				}
			}
		}
		if unbounded < 10 || len(m.reasons) == 0 || len(m.reasons) >= unbounded {
			t.Errorf("budget %d: %d reason lists kept for %d unbounded entries; want some, shared", budget, len(m.reasons), unbounded)
		}
	}
}
