package callgraph

import (
	"runtime"
	"slices"
	"sync"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/isa"
)

// The direct calls and jumps into each function of a module, for the
// argument model's callersKnown (argcallback.go).
//
// They depend on the module's code alone, so they are found once per
// graph, not once per argModel: the three models that ask (ld.so's
// receiver hubs, the argument callbacks, the TSD destructors) each
// decoded all of libc's functions again (issue 19); and, in a run over
// several programs, once per file for all of them (sharedDirectSites). The decode reads only
// the length, flow and target of each instruction (isa.DecodeSweep), and
// the functions are shared out among the cores in runs, each worker
// keeping its own sites, merged in the functions' order: the same lists
// in the same order as one sequential decode.

// directSites are a module's direct calls and jumps by target, with the
// number of its file's functions when they were found (a function added
// since makes them stale).
type directSites struct {
	funcs int
	sites map[uint64][]uint64
}

// directCallSites maps each address of m's code to the direct calls and
// jumps to it, from outside the function that holds them, that a linear
// decode of each of m's functions finds (from its start, over data or
// padding a byte at a time).
func (g *Graph) directCallSites(m *Module) map[uint64][]uint64 {
	fns := m.File.Functions
	if d, ok := g.directSites[m]; ok && d.funcs == len(fns) {
		return d.sites
	}
	if g.directSites == nil {
		g.directSites = map[*Module]directSites{}
	}
	if wait, ok := g.directAhead[m]; ok {
		delete(g.directAhead, m)
		if d := wait(); d.funcs == len(fns) {
			g.directSites[m] = d
			return d.sites
		}
	}
	workers := g.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	d := g.sharedDirectSites(m, workers)
	g.directSites[m] = d
	return d.sites
}

// findDirectSites decodes m's functions for directCallSites on workers
// goroutines.
func (g *Graph) findDirectSites(m *Module, workers int) directSites {
	fns := m.File.Functions
	// Runs of functions, a few per worker so that one slow run does not
	// leave a core idle.
	runs := max(min(workers*8, len(fns)/256), 1)
	type site struct{ target, pc uint64 }
	found := make([][]site, runs)
	var wg sync.WaitGroup
	next := make(chan int, runs)
	for r := range runs {
		next <- r
	}
	close(next)
	for range min(workers, runs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e isa.Effect
			for r := range next {
				var out []site
				for _, fn := range fns[r*len(fns)/runs : (r+1)*len(fns)/runs] {
					code, err := m.File.Code(fn.Addr, fn.Size)
					if err != nil {
						continue
					}
					for off := 0; off < len(code); {
						pc := fn.Addr + uint64(off)
						err := isa.DecodeSweep(g.Decoder, code[off:], pc, &e)
						if err != nil || e.Len <= 0 {
							off++ // data or padding: resynchronise on the next byte
							continue
						}
						if e.HasTarget && (e.Flow == isa.FlowCall || e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) &&
							(e.Target < fn.Addr || e.Target >= fn.Addr+fn.Size) {
							out = append(out, site{e.Target, pc})
						}
						off += e.Len
					}
				}
				found[r] = out
			}
		}()
	}
	wg.Wait()
	sites := map[uint64][]uint64{}
	for _, out := range found {
		for _, s := range out {
			sites[s.target] = append(sites[s.target], s.pc)
		}
	}
	return directSites{funcs: len(fns), sites: sites}
}

// directAheadMarks name, for each module whose direct sites the argument
// models ask in every program seen (node, gzip: ld.so, libc, libstdc++,
// libgcc_s), a function the models ask about there: a module that
// defines one has its sites found ahead (startDirectCallSites).
var directAheadMarks = []string{"_dl_catch_exception", "__libc_start_main", "__cxa_vec_new", "_Unwind_Backtrace"}

// startDirectCallSites starts finding, on a goroutine per module, the
// direct sites of the modules the argument models will most likely ask
// (directAheadMarks), one worker each, when the models start: the models
// before linkArgumentCallbacks (the vDSO, the exit handlers, ld.so's
// hooks: 0.1 s of node's) run on the analysis' goroutine with the other
// core idle, and libc's and libstdc++'s decode took 0.04 and 0.03 s of
// the models' wall time (node, load 10). The sites are the module's code's alone, so they are
// the same whenever they are found; a module never asked costs that core
// its decode. Programs only: a shared object's models have asked none
// (libLLVM-15). finishDirectCallSites waits for what was not asked.
func (g *Graph) startDirectCallSites() {
	if g.Modules[0].File.Shared {
		return
	}
	for _, m := range g.Modules[1:] {
		if _, ok := g.directSites[m]; ok {
			continue
		}
		if !slices.ContainsFunc(directAheadMarks, func(name string) bool { _, ok := m.File.Lookup(name); return ok }) {
			continue
		}
		if g.directAhead == nil {
			g.directAhead = map[*Module]func() directSites{}
		}
		g.directAhead[m] = beside.Start(func() directSites { return g.sharedDirectSites(m, 1) }).Wait
	}
}

// finishDirectCallSites waits for the sites found ahead that no model
// asked (raising a panic of their goroutine), and lets all go: they are
// the models' alone, not kept to the peak of memory.
func (g *Graph) finishDirectCallSites() {
	for _, m := range g.Modules {
		if wait, ok := g.directAhead[m]; ok {
			wait()
		}
	}
	g.directAhead, g.directSites = nil, nil
}
