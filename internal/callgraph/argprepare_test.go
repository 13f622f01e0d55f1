package callgraph

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// librarySites are the indirect calls of g's library functions, as
// argSites, in the nodes' order.
func librarySites(g *Graph) []argSite {
	var sites []argSite
	for id, n := range g.Nodes {
		if n.Module == nil || n.Module == g.Modules[0] || n.Func == nil || n.Hub || n.Summary != "" {
			continue
		}
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() {
				sites = append(sites, argSite{id, cs})
			}
		}
	}
	return sites
}

// TestFailsAtOnceFailsEveryRegister: a function linkArgumentCallbacks
// skips before its flow (failsAtOnce) is one whose targets fail for
// every parameter register, so the skip changes no edge.
func TestFailsAtOnceFailsEveryRegister(t *testing.T) {
	g := modelledLibcProgram(t)
	a := newArgModel(g)
	a.indexCallers()
	fails, passes := 0, 0
	seen := map[int]bool{}
	for _, s := range librarySites(g) {
		if seen[s.id] {
			continue
		}
		seen[s.id] = true
		if !a.failsAtOnce(s.id) {
			passes++
			continue
		}
		fails++
		for _, reg := range argRegs {
			if r := a.targets(argKey{s.id, reg}); r.ok {
				t.Fatalf("%s fails at once, but its callers pass register %d's targets %v", g.Nodes[s.id].Name(), reg, r.targets)
			}
		}
	}
	if fails == 0 || passes == 0 {
		t.Fatalf("%d functions fail at once, %d do not: the test shows nothing", fails, passes)
	}
}

// TestFirstCallersFlowsPrepared: with the flows of the sites' first
// callers made at once (firstCallers, prepareFlows), the sites' targets
// are those found without them, and fewer flows are left to make one at
// a time; each caller listed is one whose flow targets reads.
func TestFirstCallersFlowsPrepared(t *testing.T) {
	type run struct {
		done     map[argKey]argResult
		alone    int   // flows made one at a time, after the prepared ones
		prepared []int // the first callers listed
		read     map[int]bool
	}
	model := func(first bool) run {
		g := modelledLibcProgram(t)
		a := newArgModel(g)
		a.indexCallers()
		sites := librarySites(g)
		var ids []int
		for _, s := range sites {
			ids = append(ids, s.id)
		}
		a.prepareFlows(ids)
		var r run
		if first {
			failing := map[int]bool{}
			for _, s := range sites {
				failing[s.id] = a.failsAtOnce(s.id)
			}
			r.prepared = a.firstCallers(sites, failing)
			a.prepareFlows(r.prepared)
		}
		before := len(a.flows)
		for _, s := range sites {
			if reg, ok := a.targetParam(s.id, s.cs.Addr); ok {
				a.targets(argKey{s.id, reg})
			}
		}
		r.done, r.alone = a.done, len(a.flows)-before
		r.read = map[int]bool{}
		for id := range a.flows {
			r.read[id] = true
		}
		return r
	}
	without, with := model(false), model(true)
	if !reflect.DeepEqual(with.done, without.done) {
		t.Fatalf("the targets differ with the first callers' flows prepared:\n%v\nwant\n%v", with.done, without.done)
	}
	if len(with.prepared) == 0 || with.alone >= without.alone {
		t.Fatalf("%d first callers prepared: %d flows made one at a time, %d without them", len(with.prepared), with.alone, without.alone)
	}
	read := 0
	for _, id := range with.prepared {
		if without.read[id] {
			read++
		}
	}
	if read*2 < len(with.prepared) {
		t.Errorf("of %d first callers prepared, targets read the flows of %d", len(with.prepared), read)
	}
	t.Logf("%d first callers prepared (%d read), flows made one at a time: %d, %d without", len(with.prepared), read, with.alone, without.alone)
}

// TestHubEdgesMarkSplits: the hubs' edges marked in any number of even
// parts (indexCallers' workers) mark exactly the targets of all of them,
// empty hubs and parts smaller than a hub included.
func TestHubEdgesMarkSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 16))
	const targets = 500
	for round := range 50 {
		var h hubEdges
		want := make([]bool, targets)
		for range rng.IntN(6) {
			hub := &Node{Hub: true}
			for range rng.IntN(40) {
				to := rng.IntN(targets)
				hub.Edges = append(hub.Edges, Edge{To: to})
				want[to] = true
			}
			h.nodes = append(h.nodes, hub)
			h.total += len(hub.Edges)
		}
		for parts := 1; parts <= 9; parts++ {
			got := make([]bool, targets)
			for w := range parts {
				reached := make([]bool, targets)
				h.mark(reached, w*h.total/parts, (w+1)*h.total/parts)
				for i, r := range reached {
					got[i] = got[i] || r
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, %d parts: marks differ from the hubs' targets", round, parts)
			}
		}
	}
}

// TestTSDOriginsFailWithoutIndex: for a start that fails the tests
// needing no caller index (node's __pthread_key_create is entered other
// than by calls), tsdOrigins answers as it did with the index made first,
// without making one.
func TestTSDOriginsFailWithoutIndex(t *testing.T) {
	g := modelledLibcProgram(t)
	start, checked := -1, 0
	probe := newArgModel(g)
	for id, n := range g.Nodes {
		if n.Module == nil || n.Module == g.Modules[0] || n.Func == nil || n.Hub || n.Summary != "" {
			continue
		}
		checked++
		if probe.failsUnindexed(id) {
			start = id
			break
		}
	}
	if start < 0 {
		t.Fatalf("none of %d library functions fails without an index: the test shows nothing", checked)
	}
	// As it was: the index first, then the queue's first test.
	a := newArgModel(g)
	a.indexCallers()
	failsFirst := a.reachedByHub(start) || !a.callersInGraph(start) || !a.enteredOnlyByCalls(start) || !a.callersKnown(start)
	a.release()
	if !failsFirst {
		t.Fatalf("%s fails without an index, but not with one", g.Nodes[start].Name())
	}
	g.spareIndex = nil
	if origins, ok := g.tsdOrigins(start); ok || origins != nil {
		t.Fatalf("tsdOrigins(%s): %v, %v; want none, false", g.Nodes[start].Name(), origins, ok)
	}
	if g.spareIndex != nil {
		t.Errorf("tsdOrigins made a caller index for a start that fails without one")
	}
}
