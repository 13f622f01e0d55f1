package dwtypes

import (
	"debug/elf"
	"testing"
)

// BenchmarkLoadNode reads the types of /usr/bin/node's DWARF (libuv's 111
// units, about 88,000 entries), what the call graph loads for it:
// go test -run XXX -bench LoadNode -benchmem ./internal/dwtypes
func BenchmarkLoadNode(b *testing.B) {
	f, err := elf.Open("/usr/bin/node")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	if f.Section(".debug_info") == nil {
		b.Skip("no DWARF")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if Load(f) == nil {
			b.Fatal("no types")
		}
	}
}
