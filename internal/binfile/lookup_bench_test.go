package binfile

import "testing"

// BenchmarkLookupFirst: the first Lookup of a freshly opened node, which
// indexes every name (the open not timed).
func BenchmarkLookupFirst(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f, err := Open("/usr/bin/node")
		if err != nil {
			b.Skip(err)
		}
		b.StartTimer()
		f.Lookup("malloc")
		b.StopTimer()
		f.Close()
		b.StartTimer()
	}
}
