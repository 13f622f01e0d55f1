package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa/x86"
)

// BenchmarkProgramWalk walks every function of one program on one worker
// as Build's program walk does (addNodes: the frames and the nodes), with
// a fresh graph each time, so that the per-file answers the walk asks for
// at each call (fileCalls: thunks, functions that never return) are
// computed as in a real run, not found from an earlier iteration as in
// BenchmarkWalk. /usr/bin/node, or STACKSCOPE_BENCH_FILE.
func BenchmarkProgramWalk(b *testing.B) {
	f := benchFile(b)
	idx := make([]int, len(f.Functions))
	for i := range idx {
		idx[i] = i
	}
	b.ReportAllocs()
	for b.Loop() {
		g := &Graph{Arch: f.Arch, Decoder: x86.Decoder{}, opts: Options{StackAlign: 16, Workers: 1}, externals: map[string]int{}}
		m := g.addModule(f)
		g.addNodes(m, idx)
		b.ReportMetric(float64(len(g.Nodes)), "nodes")
	}
}
