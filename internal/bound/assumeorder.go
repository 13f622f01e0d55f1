package bound

import (
	"cmp"
	"slices"
)

// assumptionOrder is stableOrder(items, assumptionBefore), sorted by
// integer keys instead: each item's (Library, Function) is first given
// its rank among the distinct pairs, so the sort of the items compares
// numbers, not strings. node's 32,800 assumptions name 9,000-odd
// functions, C++ names of 89 bytes on average that share long prefixes:
// sort.SliceStable compared them some 700,000 times (0.015 s a run, on
// bound.New's longest goroutine); the pairs' own sort compares far fewer.
func assumptionOrder(items []Assumption) []int {
	names := nameRanks(items)
	keys := make([]assumeKey, len(items))
	for i := range items {
		keys[i] = assumeKey{class: premiseClass(items[i].Kind), name: names[i], addr: items[i].Addr, index: int32(i)}
	}
	// The index breaks every tie, so an unstable sort gives the stable
	// order.
	slices.SortFunc(keys, func(x, y assumeKey) int {
		if c := cmp.Compare(x.class, y.class); c != 0 {
			return c
		}
		if c := cmp.Compare(x.name, y.name); c != 0 {
			return c
		}
		if c := cmp.Compare(x.addr, y.addr); c != 0 {
			return c
		}
		return cmp.Compare(x.index, y.index)
	})
	order := make([]int, len(items))
	for k, key := range keys {
		order[k] = int(key.index)
	}
	return order
}

// assumeKey is an assumption's place in assumptionBefore's order.
type assumeKey struct {
	addr  uint64
	name  int32 // rank of (Library, Function) among the items' pairs
	index int32
	class uint8 // premiseClass
}

// premiseClass is assumptionBefore's first two questions as a number:
// the no-cancel premise first, then glibc's models' premises, then the
// rest.
func premiseClass(kind string) uint8 {
	switch {
	case kind == AssumeNoCancel:
		return 0
	case glibcPremise(kind):
		return 1
	}
	return 2
}

// nameRanks gives each item the rank of its (Library, Function) among the
// distinct pairs of items, ordered by Library, then Function: equal pairs
// get equal ranks. An item whose pair is its predecessor's (a node's
// assumptions are listed together) shares its predecessor's entry.
func nameRanks(items []Assumption) []int32 {
	firsts := make([]int32, 0, len(items)/2)
	for i := range items {
		if i == 0 || !samePair(&items[i-1], &items[i]) {
			firsts = append(firsts, int32(i))
		}
	}
	slices.SortFunc(firsts, func(i, j int32) int {
		x, y := &items[i], &items[j]
		if c := cmp.Compare(x.Library, y.Library); c != 0 {
			return c
		}
		return cmp.Compare(x.Function, y.Function)
	})
	ranks := make([]int32, len(items))
	rank := int32(-1)
	for k, i := range firsts {
		if k == 0 || !samePair(&items[firsts[k-1]], &items[i]) {
			rank++
		}
		ranks[i] = rank
	}
	for i := 1; i < len(items); i++ {
		if samePair(&items[i-1], &items[i]) {
			ranks[i] = ranks[i-1]
		}
	}
	return ranks
}

func samePair(x, y *Assumption) bool {
	return x.Function == y.Function && x.Library == y.Library
}
