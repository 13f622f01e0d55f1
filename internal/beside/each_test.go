package beside

import (
	"sync/atomic"
	"testing"
)

// TestEach: every index is done exactly once, whatever n (none, fewer
// than the cores, many), and a panic in one is raised on the caller.
func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 3, 1000} {
		counts := make([]atomic.Int32, n)
		Each(n, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d done %d times", n, i, c)
			}
		}
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the panic of do", r)
		}
	}()
	Each(100, func(i int) {
		if i == 57 {
			panic("boom")
		}
	})
	t.Fatal("Each returned after a panic in do")
}
