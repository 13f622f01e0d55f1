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

// TestTopMergerAsAppendMergeTop: topMerger's merges, with their shortcuts
// (a callee's list that adds nothing, a merge into an empty list), give
// what appendMergeTop gives, and never write a list kept before: lists
// chained as reachedTop chains them, many of them subsets of others.
func TestTopMergerAsAppendMergeTop(t *testing.T) {
	rng := rand.New(rand.NewSource(50))
	shortcuts := 0
	for trial := 0; trial < 300; trial++ {
		k := 1 + rng.Intn(8)
		var kept, snapshots [][]int32
		var m topMerger
		for c := 0; c < 30; c++ {
			r := randomTop(rng, k, 12)
			for n := rng.Intn(4); n > 0 && len(kept) > 0; n-- {
				y := kept[rng.Intn(len(kept))]
				want := appendMergeTop(nil, r, y, k)
				if addsNothing(r, y, k) || len(r) == 0 {
					shortcuts++
				}
				r = m.merge(r, y, k)
				if !slices.Equal(r, want) {
					t.Fatalf("trial %d: merge gives %v, want %v", trial, r, want)
				}
			}
			r = m.kept(r)
			kept, snapshots = append(kept, r), append(snapshots, slices.Clone(r))
		}
		for i := range kept {
			if !slices.Equal(kept[i], snapshots[i]) {
				t.Fatalf("trial %d: kept list %d written after: %v, was %v", trial, i, kept[i], snapshots[i])
			}
		}
	}
	if shortcuts == 0 {
		t.Fatal("no merge took a shortcut")
	}
}

// randomTop is a sorted list of at most k distinct numbers below limit.
func randomTop(rng *rand.Rand, k int, limit int32) []int32 {
	var v []int32
	for x := int32(0); x < limit && len(v) < k; x++ {
		if rng.Intn(3) == 0 {
			v = append(v, x)
		}
	}
	return v
}
