package callgraph

import (
	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// The gconv model's reading of libc's step functions (gconvStepCalls, one
// forward pass over every path of each function that handles a
// __gconv_step) is a file's answer, kept with the file (sharedStepCalls:
// binfile.Derived), and the model asks for it late in the glibc models,
// in ModelReachableTables, where nothing runs beside the analysis'
// goroutine: on node 0.009 s of that goroutine's time (perf, 35 samples
// at 4 kHz a run, of 230 in ModelReachableTables), with the other core
// idle. startGconvAhead makes those answers on another goroutine from
// linkArgumentCallbacks' start (about 0.015 s of the phase's one
// goroutine on node's trace): the model then finds them made, or waits
// for the one under way (binfile.Derived's sync.Once), never makes its
// own.
//
// The goroutine reads what the answers read: the file, the layout of
// its __gconv_step (a debug file's, cached) and the nodes' functions and
// frames. Between its start and ModelReachableTables' end no model
// writes a frame (modelCountedLoop and the frame walk ran in the build;
// ModelLoadedObjects and refreshExitHandlers, which do, run after the
// wait). Which nodes it reads is decided before it starts, from what the
// model's own choice reads that does not change (function, hub, summary,
// indirect calls without a slot); the model's last test, that the call
// has only the address-taken set's edge (onlyAddressTaken), reads edges
// the models change, so it is left out: a node asked for ahead that the
// model does not ask costs its pass, never an answer.

// gconvAheadOn says whether startGconvAhead starts anything (a test turns
// it off to compare the graphs).
var gconvAheadOn = true

// gconvAheadJob is a node whose step calls startGconvAhead reads.
type gconvAheadJob struct {
	m *Module
	n *Node
}

// startGconvAhead starts reading, on another goroutine, the step calls
// gconvModel's cutStepCalls will likely ask for (see above). Its wait is
// g.gconvAhead, called by finishGconvAhead.
func (g *Graph) startGconvAhead() {
	if !gconvAheadOn || !g.gconvModelsRun() {
		return
	}
	var jobs []gconvAheadJob
	for _, m := range g.Modules[1:] {
		if _, ok := m.File.Lookup("__wcsmbs_load_conv"); !ok {
			continue
		}
		for _, id := range g.sortedNodes(m) {
			if n := g.Nodes[id]; mayAskStepCalls(n) {
				jobs = append(jobs, gconvAheadJob{m, n})
			}
		}
	}
	if len(jobs) == 0 {
		return
	}
	g.gconvAhead = beside.Start(func() int {
		made := 0
		var layouts map[*Module]*gconvLayout
		for _, j := range jobs {
			l, ok := layouts[j.m]
			if !ok {
				l = gconvLayoutOf(j.m) // (cached per debug file; prefetched)
				if layouts == nil {
					layouts = map[*Module]*gconvLayout{}
				}
				layouts[j.m] = l
			}
			if l == nil || !handlesStep(l.users, j.n.Func.Addr) {
				continue
			}
			g.sharedStepCalls(j.m, j.n, l)
			made++
		}
		return made
	}).Wait
}

// gconvModelsRun says whether ModelReachableTables will run gconvModel:
// their conditions that do not depend on the module.
func (g *Graph) gconvModelsRun() bool {
	if g.opts.Strict || g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || g.Modules[0].File.Shared {
		return false
	}
	_, ok := g.Decoder.(isa.FixedRefReader)
	return ok
}

// mayAskStepCalls is cutStepCalls' choice of the nodes whose step calls
// it reads, but for the step users (the layout's, read on the goroutine)
// and the edges (onlyAddressTaken, which the models change).
func mayAskStepCalls(n *Node) bool {
	if n.Func == nil || n.Hub || n.Summary != "" {
		return false
	}
	for _, cs := range n.Frame.Calls {
		if cs.Kind.Indirect() && !cs.HasSlot {
			return true
		}
	}
	return false
}

// finishGconvAhead waits for startGconvAhead's goroutine (raising its
// panic), before any model that writes frames.
func (g *Graph) finishGconvAhead() {
	if g.gconvAhead != nil {
		g.gconvAheadMade = g.gconvAhead()
		g.gconvAhead = nil
	}
}
