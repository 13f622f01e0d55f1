package frame

import "testing"

// TestFillNever checks fillNever sets every element to -1, at lengths
// around the doubling steps.
func TestFillNever(t *testing.T) {
	for n := 0; n <= 70; n++ {
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(i + 7)
		}
		fillNever(s)
		for i, v := range s {
			if v != -1 {
				t.Fatalf("length %d: element %d is %d after fillNever", n, i, v)
			}
		}
	}
}
