package bound

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// TestAssumptionOrderIsStableSort: assumptionOrder gives the order
// sort.SliceStable gives by assumptionBefore (stableOrder), on
// assumptions of every premise class, names that share long prefixes or
// differ only in their library, pairs that recur apart and together, and
// equal keys (which keep the items' order).
func TestAssumptionOrderIsStableSort(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	kinds := []string{AssumeIndirect, AssumeNoCancel, AssumeFrame, AssumeRecursion, "glibc-model", "libc-checks", "cpu", AssumeExcluded}
	libs := []string{"", "libc.so.6", "libstdc++.so.6"}
	for trial := 0; trial < 500; trial++ {
		n := rng.Intn(400)
		functions, addrs := 1+rng.Intn(40), 1+rng.Intn(5)
		items := make([]Assumption, 0, n)
		for len(items) < n {
			// A node's assumptions come together, as assumptionFacts
			// lists them.
			f := fmt.Sprintf("std::__1::basic_string<char>::%s%d", []string{"", "append"}[rng.Intn(2)], rng.Intn(functions))
			lib := libs[rng.Intn(len(libs))]
			for k := 1 + rng.Intn(4); k > 0 && len(items) < n; k-- {
				items = append(items, Assumption{Kind: kinds[rng.Intn(len(kinds))], Function: f, Library: lib,
					Addr: uint64(rng.Intn(addrs)), Detail: fmt.Sprint(rng.Intn(3))})
			}
		}
		if got, want := assumptionOrder(items), stableOrder(items, assumptionBefore); !slices.Equal(got, want) {
			t.Fatalf("trial %d (%d items): assumptionOrder\n%v\nwant\n%v", trial, n, got, want)
		}
	}
}
