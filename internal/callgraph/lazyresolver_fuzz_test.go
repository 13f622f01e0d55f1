package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa/x86"
)

// FuzzResolverAt: the recognition of ld.so's resolver variants, and the
// walk of a recognised one, never panic on any bytes; a recognised variant
// either fails the walk or gives a static frame with one call, at least
// the XSAVE area (or FXSAVE's 576 B) deep, the stub's pushes counted.
// Seeds (testdata/fuzz/FuzzResolverAt): the three variants of Debian 12's
// ld.so and damaged copies of them.
func FuzzResolverAt(f *testing.F) {
	g := &Graph{Decoder: x86.Decoder{}, opts: Options{StackAlign: 16}}
	f.Fuzz(func(t *testing.T, code []byte, area uint32) {
		v, ok := resolverAt(code, 0x12000)
		if !ok {
			return
		}
		want := int64(area)
		if v.save == "fxsave" {
			want = 0x240
		}
		fr, ok := g.walkResolver(v, want)
		if !ok {
			return
		}
		if len(fr.Calls) != 1 || fr.Size < want+stubPushes || fr.Calls[0].Depth > fr.Size {
			t.Errorf("%s variant: frame %d B with %d calls for an area of %d B", v.save, fr.Size, len(fr.Calls), want)
		}
	})
}
