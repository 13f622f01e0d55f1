package callgraph

import (
	"fmt"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/x86"
)

// BenchmarkIndexCallers makes the argument model's caller index of
// node's graph after the glibc models (the index each model makes).
func BenchmarkIndexCallers(b *testing.B) {
	f := benchFile(b)
	g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16})
	g.Resolve()
	g.ModelRuntime()
	hubs, hubEdges, edges := 0, 0, 0
	for _, n := range g.Nodes {
		if n.Hub {
			hubs++
			hubEdges += len(n.Edges)
		} else {
			edges += len(n.Edges)
		}
	}
	b.Logf("nodes %d, hubs %d, hub edges %d, edges %d", len(g.Nodes), hubs, hubEdges, edges)
	half := 0
	for id, n := range g.Nodes {
		if n.Hub && id >= len(g.Nodes)/2 {
			half += len(n.Edges)
		}
	}
	b.Logf("hub edges in the upper half of the ids: %d", half)
	lowE, hiE := 0, 0
	for id, n := range g.Nodes {
		if n.Hub {
			continue
		}
		if id < len(g.Nodes)/2 {
			lowE += len(n.Edges)
		} else {
			hiE += len(n.Edges)
		}
	}
	b.Logf("non-hub edges, lower half %d, upper half %d", lowE, hiE)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprint("workers=", w), func(b *testing.B) {
			g.opts.Workers = w
			b.ReportAllocs()
			for b.Loop() {
				a := newArgModel(g)
				a.indexCallers()
				a.release()
			}
		})
	}
}
