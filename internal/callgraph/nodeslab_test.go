package callgraph

import (
	"testing"
	"unsafe"

	"github.com/stackscope/stackscope/internal/pages"
)

// TestNodeSlabChunks checks that a module's nodes are made in chunks of at
// most nodeSlabChunk (a slab made whole is read by a collection it starts
// before it is touched: see nodeSlab), and that at numbers every node once.
func TestNodeSlabChunks(t *testing.T) {
	if size := unsafe.Sizeof(Node{}) * nodeSlabChunk; size < 2*pages.Size {
		t.Fatalf("a chunk is %d bytes: too small for pages.Touch to write it", size)
	}
	for _, n := range []int{0, 1, nodeSlabChunk - 1, nodeSlabChunk, nodeSlabChunk + 1, 5*nodeSlabChunk + 7} {
		s := newNodeSlab(n)
		total := 0
		for _, c := range s {
			if len(c) == 0 || len(c) > nodeSlabChunk {
				t.Fatalf("n=%d: a chunk of %d nodes", n, len(c))
			}
			total += len(c)
		}
		if total != n {
			t.Fatalf("n=%d: %d nodes in the chunks", n, total)
		}
		seen := map[*Node]bool{}
		for i := range n {
			p := s.at(i)
			if seen[p] {
				t.Fatalf("n=%d: node %d is another's", n, i)
			}
			seen[p] = true
			p.RecursionDepth = int64(i) // (addressable, and each its own)
		}
		for i := range n {
			if s.at(i).RecursionDepth != int64(i) {
				t.Fatalf("n=%d: node %d lost its value", n, i)
			}
		}
	}
}
