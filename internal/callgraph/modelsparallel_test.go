package callgraph

import (
	"reflect"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// The glibc models' work shared out among the cores (issue 19) gives
// what the one-at-a-time work gives, in the same order.

// callbackProgram passes a comparator to qsort and tsearch: calls the
// argument model follows into libc.
const callbackProgram = `#include <stdio.h>
#include <stdlib.h>
#include <search.h>
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
	int v[] = {3, 1, 2};
	qsort(v, 3, sizeof v[0], cmp);
	void *root = NULL;
	tsearch(&v[0], &root, cmp);
	printf("%d\n", v[argc % 3]);
	return 0;
}
`

// modelledLibcProgram is a small program's graph after the glibc models,
// with libc and ld.so complete (their address-taken hubs made).
func modelledLibcProgram(t *testing.T) *Graph {
	t.Helper()
	prog := buildC(t, t.TempDir(), "cb", callbackProgram)
	g := buildModelled(t, prog)
	if len(g.Modules) < 3 {
		t.Fatalf("%d modules: libc and ld.so not loaded", len(g.Modules))
	}
	return g
}

// TestIndexCallersMatchesEdges: on every core or one, the argument
// model's index holds, for each node, the calls of the graph's non-hub
// nodes to it in the order of their callers' ids and edges (site, and
// whether the call is plain), and marks exactly the nodes a hub reaches.
func TestIndexCallersMatchesEdges(t *testing.T) {
	g := modelledLibcProgram(t)
	want := make([][]callerEdge, len(g.Nodes))
	wantHub := make([]bool, len(g.Nodes))
	hubEdges := 0
	for id, n := range g.Nodes {
		for _, e := range n.Edges {
			if n.Hub {
				wantHub[e.To] = true
				hubEdges++
				continue
			}
			want[e.To] = append(want[e.To], callerEdge{from: int32(id), plain: plainCall(&e), site: e.Site})
		}
	}
	if hubEdges == 0 {
		t.Fatal("no hub's edges in the graph: the test shows nothing of them")
	}
	// Each model after the first reuses the arrays the one before gave
	// back (release), left holding that index and another worker count's
	// counts: they must be cleared, and reused.
	var before *callerEdge
	for _, workers := range []int{1, 2, 3, 7} {
		g.opts.Workers = workers
		a := newArgModel(g)
		a.indexCallers()
		if len(a.callers) == 0 {
			t.Fatal("no calls indexed")
		}
		if before != nil && &a.callers[0] != before {
			t.Fatalf("%d workers: the index was made in new arrays, not in those the last model gave back", workers)
		}
		before = &a.callers[0]
		for id := range g.Nodes {
			if got := a.callsOf(id); !slices.Equal(got, want[id]) {
				t.Fatalf("%d workers: node %d (%s): calls %v, want %v", workers, id, g.Nodes[id].Name(), got, want[id])
			}
			if a.reachedByHub(id) != wantHub[id] {
				t.Fatalf("%d workers: node %d (%s): reached by a hub %v, want %v", workers, id, g.Nodes[id].Name(), a.reachedByHub(id), wantHub[id])
			}
		}
		a.release()
	}
}

// TestDirectCallSitesMatchesDecode: the direct calls and jumps into libc's
// functions found once on every core are those a full decode of each
// function, one after the other, finds (as callersKnown did), in the
// same order.
func TestDirectCallSitesMatchesDecode(t *testing.T) {
	g, libc := libcGraph(t, false)
	want := map[uint64][]uint64{}
	for _, fn := range libc.File.Functions {
		code, err := libc.File.Code(fn.Addr, fn.Size)
		if err != nil {
			continue
		}
		for off := 0; off < len(code); {
			pc := fn.Addr + uint64(off)
			e, err := g.Decoder.Decode(code[off:], pc)
			if err != nil || e.Len <= 0 {
				off++
				continue
			}
			if e.HasTarget && (e.Flow == isa.FlowCall || e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) &&
				(e.Target < fn.Addr || e.Target >= fn.Addr+fn.Size) {
				want[e.Target] = append(want[e.Target], pc)
			}
			off += e.Len
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d functions of libc are called directly", len(want))
	}
	for _, workers := range []int{1, 2, 5} {
		g.opts.Workers = workers
		g.directSites = nil
		if got := g.directCallSites(libc); !reflect.DeepEqual(got, want) {
			t.Fatalf("%d workers: %d targets, the sequential decode %d (or other sites)", workers, len(got), len(want))
		}
	}
	// Found ahead on a goroutine of their own when the models start
	// (startDirectCallSites): the same, taken by the first question.
	g.directSites = nil
	g.startDirectCallSites()
	if g.directAhead[libc] == nil {
		t.Fatalf("libc's direct sites were not started ahead")
	}
	if got := g.directCallSites(libc); !reflect.DeepEqual(got, want) {
		t.Fatalf("found ahead: %d targets, the sequential decode %d (or other sites)", len(got), len(want))
	}
	if _, ok := g.directAhead[libc]; ok {
		t.Errorf("the question did not take the sites found ahead")
	}
	g.finishDirectCallSites()
	if g.directAhead != nil || g.directSites != nil {
		t.Errorf("finishDirectCallSites kept the sites")
	}
}

// TestPrepareFlowsMatchesFlow: the flows the argument model computes at
// once for libc's functions with an indirect call (each listed twice)
// are those it computes for each alone, and most are found.
func TestPrepareFlowsMatchesFlow(t *testing.T) {
	g := modelledLibcProgram(t)
	var ids []int
	for id, n := range g.Nodes {
		if n.Module != nil && n.Module != g.Modules[0] && n.Func != nil && !n.Hub &&
			slices.ContainsFunc(n.Frame.Calls, func(cs frame.CallSite) bool { return cs.Kind.Indirect() }) {
			ids = append(ids, id, id)
		}
	}
	if len(ids) < 40 {
		t.Fatalf("only %d library functions with an indirect call", len(ids)/2)
	}
	g.opts.Workers = 3
	at := newArgModel(g)
	at.prepareFlows(ids)
	alone := newArgModel(g)
	found := 0
	for _, id := range ids {
		want, ok := alone.flow(id)
		got, gotOK := at.flow(id)
		if gotOK != ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("node %d (%s): the flow computed at once (%v) is not the one computed alone (%v)", id, g.Nodes[id].Name(), gotOK, ok)
		}
		if ok {
			found++
		}
	}
	if found < len(ids)/4 {
		t.Errorf("flows of %d of %d functions found", found/2, len(ids)/2)
	}
}

// TestSweepPartsParallelKeepsOrder: libc's code and the program's swept
// in parts on 1 to 7 workers, each part's visits put one after the other
// in the parts' order, are the sequential sweep's visits (address,
// length, what the instruction defines) in its order, and its
// completeness.
func TestSweepPartsParallelKeepsOrder(t *testing.T) {
	g, libc := libcGraph(t, false)
	type inst struct {
		pc   uint64
		n    int
		kind isa.DefKind
	}
	for _, m := range []*Module{g.Modules[0], libc} {
		var want []inst
		wantComplete := g.sweepCode(m, func(pc uint64, code []byte, e *isa.Effect) bool {
			want = append(want, inst{pc, e.Len, e.DefKind})
			return true
		})
		if len(want) < 50 {
			t.Fatalf("%s: the sequential sweep visited %d instructions", m.Name, len(want))
		}
		for workers := 1; workers <= 7; workers += 2 {
			plan := g.planSweep(m, workers)
			got := make([][]inst, len(plan.parts))
			complete := g.sweepPartsParallel(plan, workers, isa.DecodeInto, func(p int) func(uint64, []byte, *isa.Effect) bool {
				return func(pc uint64, code []byte, e *isa.Effect) bool {
					got[p] = append(got[p], inst{pc, e.Len, e.DefKind})
					return true
				}
			})
			if complete != wantComplete {
				t.Errorf("%s, %d workers: complete %v, the sequential sweep's %v", m.Name, workers, complete, wantComplete)
			}
			if all := slices.Concat(got...); !slices.Equal(all, want) {
				t.Errorf("%s, %d workers (%d parts): %d instructions visited, the sequential sweep %d (or not in its order)",
					m.Name, workers, len(plan.parts), len(all), len(want))
			}
		}
	}
}

// keptFromFull is keptFlowNow's answer made the plain way: the kept
// instructions and states picked from a flow made with a state of its
// own for each instruction (fullFlow).
func keptFromFull(fl *argFlow) *argFlow {
	kept := &argFlow{at: map[uint64]int{}}
	for i, in := range fl.insts {
		if fl.state[i] == nil {
			continue
		}
		switch in.e.Flow {
		case isa.FlowCall, isa.FlowIndirectCall, isa.FlowJump, isa.FlowIndirectJump:
			kept.at[in.addr] = len(kept.insts)
			kept.insts = append(kept.insts, in)
			kept.state = append(kept.state, fl.state[i])
		}
	}
	return kept
}

// TestPassingFlowKeepsFullFlows: the kept flows made one after the other
// from scratch decodes and scratch states (passingFlow, each reusing the
// last one's lists) are those picked from full flows, for libc's
// functions with an indirect call; and, once the scratch is made, making
// the largest allocates less than a state of its own for each of its
// instructions would.
func TestPassingFlowKeepsFullFlows(t *testing.T) {
	g := modelledLibcProgram(t)
	a := newArgModel(g)
	largest, largestLen, found := -1, 0, 0
	for id, n := range g.Nodes {
		if n.Module == nil || n.Module == g.Modules[0] || n.Func == nil || n.Hub ||
			!slices.ContainsFunc(n.Frame.Calls, func(cs frame.CallSite) bool { return cs.Kind.Indirect() }) {
			continue
		}
		got := a.keptFlowNow(id)
		full, ok := a.fullFlow(id)
		if (got != nil) != ok {
			t.Fatalf("node %d (%s): kept flow %v, full flow %v", id, n.Name(), got != nil, ok)
		}
		if !ok {
			continue
		}
		if want := keptFromFull(full); !reflect.DeepEqual(got, want) {
			t.Fatalf("node %d (%s): the kept flow differs from the one picked from the full flow", id, n.Name())
		}
		found++
		if len(full.insts) > largestLen {
			largest, largestLen = id, len(full.insts)
		}
	}
	if found < 20 {
		t.Fatalf("flows of only %d functions found", found)
	}
	full, _ := a.fullFlow(largest)
	reached := 0
	for _, s := range full.state {
		if s != nil {
			reached++
		}
	}
	perState := uint64(reached) * uint64(unsafe.Sizeof(regState{}))
	least := ^uint64(0)
	for range 5 { // (a collection empties the pools: the least of a few)
		a.keptFlowNow(largest)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a.keptFlowNow(largest)
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least >= perState {
		t.Errorf("%s's kept flow allocated %d bytes, no less than a state for each of its %d reached instructions (%d bytes)", g.Nodes[largest].Name(), least, reached, perState)
	}
}
