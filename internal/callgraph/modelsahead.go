package callgraph

import (
	"debug/elf"
	"slices"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// The glibc models run one after the other on the analysis' goroutine,
// each on the graph the one before changed, and most leave the other core
// idle: on node about half of the phase ran one goroutine (an execution
// trace, scripts/trace-cores.sh; issue 19). Two of the answers they ask
// for late in the phase depend on a file's bytes alone, not on the graph:
// the program's index of exported names (binfile.File.LookupExported,
// first asked by ld.so's malloc hooks, linkRtldHooks, which builds it for
// node's 67,000 exported names) and the sweep of libc's code and data
// for the FILE jump tables (libioShared, asked by ModelReachableTables).
// startModelsAhead makes them on a goroutine from the phase's start,
// beside the models before them; the models then find them made (a
// sync.Once, binfile.Derived: a model that asks first waits for the one
// computation under way, never makes its own). Nothing of the graph is
// read on that goroutine: what decides whether to start (the libio hubs,
// the modules) is read before it starts.

// startModelsAhead starts making, on another goroutine, the file-pure
// answers that the models will ask for (see above), for those of them the
// graph will ask: the same conditions as their models', read now. A
// condition that changes before the model runs costs the work, never the
// answer: the answers are the file's, whoever makes them.
func (g *Graph) startModelsAhead() {
	if !modelsAheadOn || g.Modules[0].File.Shared {
		return // no ModelReachableTables, no linkRtldHooks (a shared object)
	}
	var program *binfile.File
	if !g.opts.Strict && slices.ContainsFunc(g.Modules[1:], func(m *Module) bool {
		return g.isInterpreter(m) && hasRtldMallocWord(m.File)
	}) {
		program = g.Modules[0].File // (rtldMallocHubs' firstDefinition)
	}
	var scans []*Module
	if _, ok := g.Decoder.(isa.FixedRefReader); ok {
		for _, m := range g.Modules[1:] {
			if m.File.ELF.Section(libioSection) != nil && len(m.narrowed) > 0 && len(libioSlotHubs(m)) > 0 {
				scans = append(scans, m)
			}
		}
	}
	if program == nil && len(scans) == 0 {
		return
	}
	g.modelsAheadMade = len(scans)
	if program != nil {
		g.modelsAheadMade++
	}
	g.modelsAhead = beside.Start(func() struct{} {
		if program != nil {
			program.LookupExported("") // builds the index once (sync.Once)
		}
		for _, m := range scans {
			g.libioSharedOf(m)
		}
		return struct{}{}
	}).Wait
}

// modelsAheadOn says whether startModelsAhead starts anything (a test
// turns it off to compare the graphs).
var modelsAheadOn = true

// finishModelsAhead waits for startModelsAhead's goroutine (raising its
// panic), so that none outlives the models.
func (g *Graph) finishModelsAhead() {
	if g.modelsAhead != nil {
		g.modelsAhead()
		g.modelsAhead = nil
	}
}

// hasRtldMallocWord says whether ld.so's file has the first of the words
// rtldMallocHubs reads (its symbols, as that reads them): whether the
// hubs, and so the program's exported index, will likely be asked for.
func hasRtldMallocWord(ld *binfile.File) bool {
	for _, s := range ld.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size == 8 && s.Name == rtldMallocWords[0].word {
			return true
		}
	}
	return false
}
