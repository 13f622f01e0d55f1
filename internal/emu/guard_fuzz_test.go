package emu

import "testing"

// FuzzGuardRegion: for any limit and memory below it, the guard region is
// 32-byte aligned, ends at the limit rounded down to 32, is at least 32
// bytes and at most 1 MiB, overlaps none of the ranges to avoid, and on
// PMSAv7 is a power of two aligned to its size.
func FuzzGuardRegion(f *testing.F) {
	f.Add(uint64(0x20000000), false, uint64(0), uint64(0x400000), uint64(0x20000000), uint64(0x20004000))
	f.Add(uint64(0x38000000), true, uint64(0x10000000), uint64(0x10400000), uint64(0x38000000), uint64(0x38004000))
	f.Add(uint64(0x200000b0), false, uint64(0x20000000), uint64(0x20004000), uint64(0), uint64(0x400000))
	f.Add(uint64(0x1ff00010), false, uint64(0x1fefffe0), uint64(0x1fefffff), uint64(0), uint64(0))
	f.Add(uint64(16), true, uint64(0), uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, limit uint64, v8 bool, a0, a1, b0, b1 uint64) {
		limit &= 0xffffffff
		avoid := []Range{{a0 & 0xffffffff, a1 & 0xffffffff}, {b0 & 0xffffffff, b1 & 0xffffffff}}
		g, ok := guardRegion(limit, v8, avoid)
		if !ok {
			return
		}
		size := g.End - g.Start
		if g.End != limit&^31 || g.Start%32 != 0 || size < 32 || size > 1<<20 || g.Start > g.End {
			t.Fatalf("limit %#x: guard %#x-%#x", limit, g.Start, g.End)
		}
		if !v8 && (size&(size-1) != 0 || g.Start%size != 0) {
			t.Fatalf("PMSAv7 guard %#x-%#x is not a power of two aligned to its size", g.Start, g.End)
		}
		for _, a := range avoid {
			if a.Start < g.End && a.End > g.Start {
				t.Fatalf("guard %#x-%#x overlaps %#x-%#x", g.Start, g.End, a.Start, a.End)
			}
		}
	})
}
