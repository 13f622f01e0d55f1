package permute

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
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

// TestSortByAddrIsSortSlice: SortByAddr puts a list in the order
// sort.Slice on the list itself gives, elements at one address included,
// whatever order they come in: lists of every length up to a few hundred
// and larger ones, most addresses shared by several elements.
func TestSortByAddrIsSortSlice(t *testing.T) {
	type fn struct {
		name string
		addr uint64
	}
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 2, 3, 7, 12, 13, 50, 200, 1000, 5000} {
		for trial := 0; trial < 20; trial++ {
			list := make([]fn, n)
			for i := range list {
				list[i] = fn{fmt.Sprint(i), uint64(r.Intn(max(n/3, 1)))}
				if trial%4 == 0 {
					list[i].addr = uint64(i / 3) // nearly sorted: pdqsort's other paths
				}
				if trial%4 == 1 {
					// No address shared (SortByAddr's faster sort), in
					// order but for a block moved to the end, as node's
					// list of functions.
					list[i].addr = uint64((i + n/4) % n)
				}
			}
			want := slices.Clone(list)
			sort.Slice(want, func(i, j int) bool { return want[i].addr < want[j].addr })
			SortByAddr(list, func(f *fn) uint64 { return f.addr })
			if !slices.Equal(list, want) {
				t.Fatalf("%d elements, trial %d: not sort.Slice's order", n, trial)
			}
		}
	}
}
