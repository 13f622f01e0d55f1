package threads

import "testing"

// TestKeepShallowest: per ifunc call site, the shallowest implementation,
// the first edge on a tie, sites in the order they came (what the maps it
// replaced gave, with the tie rule of visit).
func TestKeepShallowest(t *testing.T) {
	var l []ifuncBest
	for _, c := range []struct {
		site uint64
		d    int64
		ei   int
	}{{0x10, 40, 0}, {0x20, 8, 1}, {0x10, 16, 2}, {0x10, 16, 3}, {0x20, 8, 4}, {0x10, 24, 5}} {
		l = keepShallowest(l, c.site, c.d, c.ei)
	}
	want := []ifuncBest{{0x10, 16, 2}, {0x20, 8, 1}}
	if len(l) != len(want) || l[0] != want[0] || l[1] != want[1] {
		t.Errorf("got %+v, want %+v", l, want)
	}
}

// TestChainSeen: membership is the same before and after the set turns
// from a list into a map.
func TestChainSeen(t *testing.T) {
	var c chainSeen
	for v := 0; v < 100; v += 2 {
		if c.has(v) {
			t.Fatalf("%d seen before it was added", v)
		}
		c.add(v)
		for w := 0; w <= v+1; w++ {
			if c.has(w) != (w%2 == 0) {
				t.Fatalf("after adding %d: has(%d) = %v", v, w, c.has(w))
			}
		}
	}
}
