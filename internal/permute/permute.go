// Package permute puts a list in a new order in place: each element moved
// once, no second list. Sorting large structs (a program's 77,000
// functions of 120-200 bytes) moved each many times; sorting small keys
// that remember their places, then moving each struct once to its own
// place (SortByAddr), is what binfile and analysis do instead.
package permute

import (
	"cmp"
	"slices"
	"sort"
)

// Gather makes xs[i] the element that was at xs[from[i]], for every i, in
// place; from must be a permutation of 0..len(xs)-1, and is used up (its
// entries are set to -1). It follows each cycle of the permutation once.
func Gather[T any](xs []T, from []int) {
	for start := range from {
		if from[start] < 0 || from[start] == start {
			continue
		}
		held := xs[start]
		at := start
		for {
			next := from[at]
			from[at] = -1
			if next == start {
				xs[at] = held
				break
			}
			xs[at] = xs[next]
			at = next
		}
	}
}

// SortByAddr sorts xs by addr(x), in the order sort.Slice on xs itself
// would give (elements of one address too: the sort decides from the
// comparisons alone, the same ones on 16-byte keys), each element moved
// once.
func SortByAddr[T any](xs []T, addr func(*T) uint64) {
	keys := make([]addrKey, len(xs))
	for i := range xs {
		keys[i] = addrKey{addr(&xs[i]), i}
	}
	// Where no two addresses are equal, there is one order, which a
	// faster sort finds too: slices.SortFunc, without sort.Slice's
	// swaps through reflection and calls of less through a closure
	// (node's 77,139 functions, no address shared, nearly in order
	// already: 12 of the list's 33 ms a run were that sort). Otherwise
	// sort.Slice itself orders the elements of one address.
	slices.SortFunc(keys, func(x, y addrKey) int { return cmp.Compare(x.addr, y.addr) })
	if sharesAddr(keys) {
		for i := range xs {
			keys[i] = addrKey{addr(&xs[i]), i}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].addr < keys[j].addr })
	}
	from := make([]int, len(keys))
	for k, key := range keys {
		from[k] = key.at // xs[k] takes what was at keys[k].at
	}
	Gather(xs, from)
}

// addrKey is an element's address and place in SortByAddr.
type addrKey struct {
	addr uint64
	at   int
}

// sharesAddr says whether two of the sorted keys have one address.
func sharesAddr(sorted []addrKey) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i].addr == sorted[i-1].addr {
			return true
		}
	}
	return false
}
