package bound

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"
)

// rankTableByMap is rankTable as it was, with one map of every content:
// the reference its tie runs must agree with.
func rankTableByMap[T any, K comparable](items []T, key func(T) K, before func(x, y *T) bool) (table []T, order []int, rank []int32, tiesMixed bool) {
	order = make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return before(&items[order[i]], &items[order[j]]) })
	rank = make([]int32, len(items))
	ranks := map[K]int32{}
	prev, prevRank := -1, int32(-1)
	for _, i := range order {
		k := key(items[i])
		r, ok := ranks[k]
		if !ok {
			r = int32(len(table))
			ranks[k] = r
			table = append(table, items[i])
		}
		if prev >= 0 && r != prevRank && !before(&items[prev], &items[i]) {
			tiesMixed = true
		}
		prev, prevRank = i, r
		rank[i] = r
	}
	return table, order, rank, tiesMixed
}

// TestRankTableRunsAsMap: rankTable, which looks a content up in its tie
// run alone, gives the table, order, ranks and tiesMixed of one map of
// all contents, on assumptions with few and many functions and
// addresses, details that differ within a tie (mixed ties, runs of more
// contents than runScanLimit) and repeated contents.
func TestRankTableRunsAsMap(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	mixed, long := 0, 0
	for trial := 0; trial < 400; trial++ {
		n := rng.Intn(300)
		functions, addrs, details := 1+rng.Intn(6), 1+rng.Intn(4), 1+rng.Intn(3*runScanLimit)
		items := make([]Assumption, n)
		for i := range items {
			items[i] = Assumption{Kind: []string{AssumeIndirect, AssumeNoCancel, AssumeFrame}[rng.Intn(3)],
				Function: fmt.Sprintf("f%d", rng.Intn(functions)), Addr: uint64(rng.Intn(addrs)),
				Detail: fmt.Sprintf("d%d", rng.Intn(details)), Library: []string{"", "libc.so.6"}[rng.Intn(2)]}
		}
		same := func(x Assumption) Assumption { return x }
		order := stableOrder(items, assumptionBefore)
		table, rank, ties := rankTable(items, order, same, assumptionBefore)
		wTable, wOrder, wRank, wTies := rankTableByMap(items, same, assumptionBefore)
		if !slices.Equal(table, wTable) || !slices.Equal(order, wOrder) || !slices.Equal(rank, wRank) || ties != wTies {
			t.Fatalf("trial %d (%d items): rankTable differs from one map of all contents", trial, n)
		}
		if ties {
			mixed++
		}
		if longestRun(items, order) > runScanLimit {
			long++
		}
	}
	if mixed == 0 || long == 0 {
		t.Fatalf("%d trials with mixed ties, %d with long runs: want some of each", mixed, long)
	}
}

// longestRun is the most contents of one tie run of the sorted items.
func longestRun(items []Assumption, order []int) int {
	most := 0
	run := map[Assumption]bool{}
	for k, i := range order {
		if k > 0 && assumptionBefore(&items[order[k-1]], &items[i]) {
			clear(run)
		}
		run[items[i]] = true
		most = max(most, len(run))
	}
	return most
}
