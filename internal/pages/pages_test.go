package pages

import (
	"testing"
	"unsafe"
)

type record struct {
	name  string
	items []int
	count int64
}

// TestTouchEveryPage checks that Touch writes into every page of a
// slice's backing array (the point of it: no page is first read), for
// element sizes below, at and above the page size.
func TestTouchEveryPage(t *testing.T) {
	check := func(t *testing.T, size uintptr, base uintptr, n int, touched func(do func(addr uintptr))) {
		t.Helper()
		pages := map[uintptr]bool{}
		touched(func(addr uintptr) { pages[addr/Size] = true })
		first, last := base/Size, (base+uintptr(n)*size-1)/Size
		for p := first; p <= last; p++ {
			if !pages[p] {
				t.Fatalf("element size %d, %d elements: page %d of %d..%d not written", size, n, p, first, last)
			}
		}
	}
	for _, n := range []int{1000, 4097, 100000} {
		s := make([]record, n)
		check(t, unsafe.Sizeof(record{}), uintptr(unsafe.Pointer(&s[0])), n, func(do func(uintptr)) {
			Touch(s, func(r *record) { do(uintptr(unsafe.Pointer(&r.count))); r.count = 0 })
		})
	}
	// Elements over a page long: one write each (the pages between
	// their written fields stay to the filler; see Touch).
	type big struct {
		pad   [5000]byte
		count int64
	}
	b := make([]big, 10)
	seen := map[*big]int{}
	Touch(b, func(r *big) { seen[r]++ })
	if len(seen) != len(b) {
		t.Fatalf("elements of 5008 bytes: %d of %d written", len(seen), len(b))
	}
}

// TestTouchSmall checks that a slice of a page or two is left alone.
func TestTouchSmall(t *testing.T) {
	calls := 0
	Touch(make([]int64, 100), func(*int64) { calls++ })
	if calls != 0 {
		t.Fatalf("%d writes into a slice of 800 bytes", calls)
	}
}
