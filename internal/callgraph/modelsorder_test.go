package callgraph

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestSortedUniqueMatchesSort: sortedUnique's answer is slices.Sort's
// and Compact's, duplicates and all.
func TestSortedUniqueMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 19))
	for _, n := range []int{0, 1, 7, 1000} {
		ids := make([]int, 2*n)
		for i := range ids {
			ids[i] = rng.IntN(n + 1)
		}
		want := slices.Clone(ids)
		slices.Sort(want)
		want = slices.Compact(want)
		if got := sortedUnique(slices.Clone(ids), n+1); !slices.Equal(got, want) {
			t.Errorf("n %d: sortedUnique %v, want %v", n, got, want)
		}
	}
}

// TestModelsIndexesMatchGraph: on a real program followed into libc, the
// adjacency cycles.find walks holds every node's edges' targets in their
// order (and the resolver's lazy callers read from it are those of the
// edges), and completeModule, asked of a module it completed, makes no node.
func TestModelsIndexesMatchGraph(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	prog := buildC(t, t.TempDir(), "idx", printAtoiProgram)
	g := buildModelled(t, prog)
	adj := adjacencyOf(g)
	if len(adj.First) != len(g.Nodes)+1 {
		t.Fatalf("adjacency of %d nodes, the graph has %d", len(adj.First)-1, len(g.Nodes))
	}
	for v, n := range g.Nodes {
		got := adj.To[adj.First[v]:adj.First[v+1]]
		if len(got) != len(n.Edges) {
			t.Fatalf("node %d: %d targets, %d edges", v, len(got), len(n.Edges))
		}
		for i, e := range n.Edges {
			if int(got[i]) != e.To {
				t.Fatalf("node %d's edge %d: target %d, adjacency %d", v, i, e.To, got[i])
			}
		}
	}
	if r := g.resolver.node; g.resolver.done && r >= 0 {
		in, of := g.lazyCallersIn(adj, r), g.lazyCallersOf(r)
		if len(of) == 0 || !slices.Equal(in, of) {
			t.Errorf("the resolver's lazy callers: %d read from the adjacency, %d from the edges (want the same, some)", len(in), len(of))
		}
	} else {
		t.Errorf("%s: the lazy-binding resolver is not modelled", prog)
	}
	libc := g.Modules[1]
	g.completeModule(libc)
	nodes := len(g.Nodes)
	if libc.nodes.len() != len(libc.File.Functions) {
		t.Fatalf("%s: %d nodes for %d functions after completeModule", libc.Name, libc.nodes.len(), len(libc.File.Functions))
	}
	g.completeModule(libc)
	if len(g.Nodes) != nodes {
		t.Errorf("completeModule of a complete module made %d nodes", len(g.Nodes)-nodes)
	}
}
