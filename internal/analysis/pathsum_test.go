package analysis

import (
	"fmt"
	"strings"
	"testing"
)

// PathSum is what a person gets by adding up a printed worst path: each
// step's frame, except that a caller whose next step is reached by a tail
// call adds only what it kept of its frame at the jump, and the last step
// adds its red zone (docs/analyze.md).
func PathSum(steps []PathStep) int64 {
	var sum int64
	for i, st := range steps {
		if i+1 < len(steps) && steps[i+1].TailCall {
			sum += steps[i+1].CallerKept
		} else {
			sum += st.Frame
		}
	}
	if len(steps) > 0 {
		sum += steps[len(steps)-1].RedZone
	}
	return sum
}

// requirePathSums fails the test for every entry whose printed number (the
// bound, or the depth it reaches at least) is not the sum of its printed
// path, or whose DEPTH column does not end at that number.
func requirePathSums(t *testing.T, res *Result) {
	t.Helper()
	for _, e := range res.Entries {
		if len(e.Steps) == 0 {
			if e.Bounded {
				t.Errorf("%s: bounded at %d with no path", e.Name, *e.Bound)
			}
			continue
		}
		want := e.AtLeast
		if e.Bounded {
			want = *e.Bound
		}
		last := e.Steps[len(e.Steps)-1]
		if sum := PathSum(e.Steps); sum != want || last.Depth != want {
			t.Errorf("%s: printed %d, but its path sums to %d and ends at depth %d: %s", e.Name, want, sum, last.Depth, showSteps(e.Steps))
		}
	}
}

func showSteps(steps []PathStep) string {
	var parts []string
	for _, st := range steps {
		s := fmt.Sprintf("%s %d", st.Function, st.Frame)
		if st.RedZone > 0 {
			s += fmt.Sprintf("+rz%d", st.RedZone)
		}
		if st.TailCall {
			s += fmt.Sprintf(" (tail, kept %d)", st.CallerKept)
		}
		parts = append(parts, s+fmt.Sprintf(" @%d", st.Depth))
	}
	return strings.Join(parts, " -> ")
}
