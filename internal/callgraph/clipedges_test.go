package callgraph

import "testing"

// TestClipEdgesClipsEveryNode: ClipEdges, shared among the cores, leaves
// every node of a program followed into libc the same edges and assumed
// calls, each list without room but a hub's (at most hubEdgeRoom); run
// with -race, it shows the parts share no node.
func TestClipEdgesClipsEveryNode(t *testing.T) {
	prog := buildC(t, t.TempDir(), "settled", settledProgram, "-ldl")
	g := buildModelled(t, prog)
	before := graphDump(g)
	roomy := 0
	for _, n := range g.Nodes {
		if cap(n.Edges) > len(n.Edges)+hubEdgeRoom {
			roomy++
		}
	}
	if roomy == 0 {
		t.Fatal("no node's edge list has room: the test shows nothing")
	}
	g.ClipEdges()
	if after := graphDump(g); after != before {
		t.Fatalf("ClipEdges changed the graph:\n%s", firstDiff(after, before))
	}
	for id, n := range g.Nodes {
		room := cap(n.Edges) - len(n.Edges)
		if room > 0 && !(n.Hub && room <= hubEdgeRoom) || cap(n.Assumed) > len(n.Assumed) {
			t.Fatalf("node %d (%s): %d edges in %d, %d assumed in %d after ClipEdges", id, n.Name(), len(n.Edges), cap(n.Edges), len(n.Assumed), cap(n.Assumed))
		}
	}
}
