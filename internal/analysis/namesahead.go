package analysis

import (
	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// The assumptions' names, demangled ahead. bound.New names the function
// of every assumption of every node the entries reach (assumptionFacts),
// to sort them by name (assumptionBefore) before any is printed: on
// /usr/bin/node 32,800 assumptions, 28,100 of them in 8,900 C++
// functions whose names nothing had demangled yet, 0.05 s on the
// longest of bound.New's three goroutines. Nearly all those assumptions
// are made before the last of the glibc models, which run on one
// goroutine while the other core idles (ModelReachableTables on:
// callgraph.Graph.BesideLastModels): the names are demangled there, on a
// goroutine of their own. (Started at the models' start, the demangling
// took turns with the models' own goroutines there and made the phase
// 0.04 s longer.) A demangled name is kept in its function,
// made once whichever goroutine asks first (binfile.Function.Name), so
// the bound finds them made and its names, and so every report, are
// what they were.

// startAssumedNames demangles, on another goroutine, the names of the
// functions of g's nodes that carry assumptions (nil: none to demangle).
// Which nodes is read here, while the models wait: the goroutine reads
// no node.
func startAssumedNames(g *callgraph.Graph) *beside.Result[struct{}] {
	var fns []*binfile.Function
	for _, n := range g.Nodes {
		if len(n.Assumed) == 0 && len(n.Premises) == 0 {
			continue
		}
		if fn := n.NamedBy(); fn != nil && fn.NotYetDemangled() {
			fns = append(fns, fn)
		}
	}
	if len(fns) == 0 {
		return nil
	}
	return beside.Start(func() struct{} {
		for _, fn := range fns {
			fn.Name()
		}
		return struct{}{}
	})
}
