package dwtypes

import (
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// BenchmarkLoadNode reads the types of /usr/bin/node's DWARF (libuv's 111
// units, about 88,000 entries), what the call graph loads for it:
// go test -run XXX -bench LoadNode -benchmem ./internal/dwtypes
func BenchmarkLoadNode(b *testing.B) {
	f := testutil.ELFWith(b, "/usr/bin/node", ".debug_info")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if Load(f) == nil {
			b.Fatal("no types")
		}
	}
}
