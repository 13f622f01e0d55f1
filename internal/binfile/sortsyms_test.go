package binfile

import (
	"cmp"
	"math/rand"
	"slices"
	"sort"
	"testing"
)

// TestSortSymbolsByAddr: the radix sort gives what a stable comparison
// sort by address gives, on addresses that differ in few bits, in many
// (up to the top one), with repeats (aliases) and with one address only.
func TestSortSymbolsByAddr(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, c := range []struct {
		n    int
		base uint64
		span uint64 // addresses base .. base+span-1
	}{
		{0, 0, 1}, {1, 5, 1}, {7, 0x1000, 1}, {100, 0x400000, 64},
		{5000, 0x401000, 1 << 26}, {5000, 0, 1 << 63}, {5000, 1 << 63, 1 << 62}, {20000, 0x1000, 5000},
	} {
		keys := make([]symbolAt, c.n)
		for i := range keys {
			keys[i] = symbolAt{addr: c.base + uint64(r.Int63n(int64(min(c.span, 1<<62)))), at: i}
		}
		if c.span == 1<<63 {
			for i := range keys {
				keys[i].addr |= uint64(r.Intn(2)) << 63
			}
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b symbolAt) int { return cmp.Compare(a.addr, b.addr) })
		if got := sortSymbolsByAddr(keys); !slices.Equal(got, want) {
			t.Errorf("%d keys over %#x from %#x: not in the order of a stable sort", c.n, c.span, c.base)
		}
	}
}

// TestMergeInPlace: merging into the spare capacity of the first list
// gives what merging into a new list gives, and writes no function of
// the first list over before it moved.
func TestMergeInPlace(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, sizes := range [][2]int{{0, 3}, {3, 0}, {1, 1}, {50, 1}, {1, 50}, {300, 200}} {
		addrs := r.Perm(sizes[0] + sizes[1])
		mk := func(ix []int) []Function {
			fns := make([]Function, len(ix))
			for i, a := range ix {
				fns[i] = Function{LinkName: "f" + string(rune('a'+a%26)), Addr: uint64(a) * 16}
			}
			sortByAddr(fns)
			return fns
		}
		a, b := mk(addrs[:sizes[0]]), mk(addrs[sizes[0]:])
		want := mergeByAddr(a[:len(a):len(a)], b) // (no spare capacity: a new list)
		roomy := append(make([]Function, 0, len(a)+len(b)), a...)
		got := mergeByAddr(roomy, b)
		if len(b) > 0 && &got[0] != &roomy[:1][0] {
			t.Errorf("%v: merged into a new list, with room in the first", sizes)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d functions, want %d", sizes, len(got), len(want))
		}
		for i := range want {
			if got[i].Addr != want[i].Addr || got[i].LinkName != want[i].LinkName {
				t.Fatalf("%v: function %d is %s at %#x, want %s at %#x", sizes, i, got[i].LinkName, got[i].Addr, want[i].LinkName, want[i].Addr)
			}
		}
	}
}

// TestFunctionCursor: the cursor answers as a search of every function
// does, for addresses in increasing order, with jumps ahead and back, at
// starts, inside and between functions (some of size 0).
func TestFunctionCursor(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var fns []Function
	for addr := uint64(0x1000); len(fns) < 500; addr += uint64(1 + r.Intn(64)) {
		size := uint64(r.Intn(48))
		fns = append(fns, Function{Addr: addr, Size: size})
		addr += size
	}
	end := fns[len(fns)-1].Addr + 100
	search := func(addr uint64) bool {
		i := sort.Search(len(fns), func(i int) bool { return fns[i].Addr > addr }) - 1
		return i >= 0 && (addr == fns[i].Addr || addr < fns[i].Addr+fns[i].Size)
	}
	c := functionCursor{fns: fns, i: -1}
	addr := uint64(0xf00)
	for range 20000 {
		switch r.Intn(10) {
		case 0: // a jump anywhere
			addr = 0xf00 + uint64(r.Int63n(int64(end-0xf00)))
		case 1: // a function's start
			addr = fns[r.Intn(len(fns))].Addr
		default:
			addr += uint64(r.Intn(40))
		}
		if got, want := c.startsOrCovers(addr), search(addr); got != want {
			t.Fatalf("%#x: %v, a search says %v", addr, got, want)
		}
	}
}
