package binfile

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestDerivedOncePerKey: concurrent callers with one key get one result,
// made once; another key or another file makes its own.
func TestDerivedOncePerKey(t *testing.T) {
	var f, other File
	var made atomic.Int32
	build := func() []int { made.Add(1); return []int{int(made.Load())} }
	type key struct{ addr uint64 }
	var wg sync.WaitGroup
	results := make8(&wg, func() []int { return Derived(&f, key{1}, build) })
	wg.Wait()
	for _, r := range results {
		if &r[0] != &results[0][0] {
			t.Fatalf("callers got different results: %v and %v", r, results[0])
		}
	}
	if made.Load() != 1 {
		t.Fatalf("made %d times for one key, want once", made.Load())
	}
	Derived(&f, key{2}, build)
	Derived(&other, key{1}, build)
	if made.Load() != 3 {
		t.Fatalf("made %d times for three (file, key) pairs, want 3", made.Load())
	}
}

func make8(wg *sync.WaitGroup, call func() []int) [][]int {
	out := make([][]int, 8)
	for i := range out {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = call() }()
	}
	return out
}

// TestDerivedPanicsForEveryCaller: a make that panics is not a result:
// every caller with the key panics with its value.
func TestDerivedPanicsForEveryCaller(t *testing.T) {
	var f File
	for range 2 {
		func() {
			defer func() {
				if p := recover(); p != "broken" {
					t.Fatalf("recovered %v, want the compute's panic", p)
				}
			}()
			Derived(&f, "k", func() int { panic("broken") })
		}()
	}
}
