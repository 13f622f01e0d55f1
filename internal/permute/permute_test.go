package permute

import (
	"math/rand"
	"slices"
	"testing"
)

// TestGatherIsACopyInOrder: for random permutations (fixed points, one
// long cycle, many short ones), Gather in place gives what copying
// xs[from[i]] into a new list gives.
func TestGatherIsACopyInOrder(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 2, 3, 10, 1000} {
		for trial := range 20 {
			xs := make([]string, n)
			for i := range xs {
				xs[i] = string(rune('a'+i%26)) + string(rune('0'+i/26%10))
			}
			from := r.Perm(n)
			if trial == 0 {
				for i := range from {
					from[i] = i
				}
			}
			want := make([]string, n)
			for i, f := range from {
				want[i] = xs[f]
			}
			Gather(xs, from)
			if !slices.Equal(xs, want) {
				t.Fatalf("n=%d trial %d: got %v, want %v", n, trial, xs, want)
			}
		}
	}
}
