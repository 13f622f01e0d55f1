package callgraph

import (
	"debug/dwarf"

	"github.com/stackscope/stackscope/internal/binfile"
)

// Work the resolution of the edges (resolvePending) would do on the
// analysis' goroutine, one node after the other, while the other core
// idles (issue 19: node's resolution was about 1 s of one core, libLLVM's
// 1.1 s): what depends on a file alone is read ahead on goroutines of its
// own, as soon as the libraries are known (loadLibraries, at the first
// call into one, after the program's frames are walked), and the answers
// the resolution repeats for each call are kept. The answers are the
// same: the readers are the ones the resolution calls, behind the same
// sync.Once or cache, and only when they would be read anyway.

// prefetchLibioLayouts starts reading the FILE layout (libiolayout.go) of
// each library with glibc's libio vtables and a debug file, which
// libioVtable asks during the build: a shared object's layouts are
// otherwise read on the analysis' goroutine (prefetchDebugLayouts reads
// nothing for a shared object). A file whose prefetch is under way (a
// program's, which reads the FILE layout too) or whose layout is kept is
// left alone. The reads' memory is what readLibioLayout allocates at the
// same point of the build, a little earlier.
func (g *Graph) prefetchLibioLayouts() {
	if g.Arch != binfile.ArchX86_64 {
		return // (libioVtable is for x86-64 alone)
	}
	for _, m := range g.Modules[1:] {
		file := m.File
		path := file.DebugSymbols
		if path == "" || file.ELF.Section(libioSection) == nil || libioLayouts.has(path) || debugPrefetches.under(path) {
			continue
		}
		debugPrefetches.start(file, []func(*dwarf.Data, *dieScanner){func(d *dwarf.Data, sc *dieScanner) {
			t := newLibioTop()
			libioLayouts.put(path, t.layout(walkTopLevelScanned(d, sc, nil, t))) // libioLayoutIn's, the entries no reader reads passed by (diescan.go)
		}})
	}
}

// under says whether a prefetch of the debug file at path is under way.
func (p *prefetches) under(path string) bool {
	p.Lock()
	defer p.Unlock()
	return p.running[path] != nil
}

// startIndexing runs index, which builds indexes of files that the
// resolution reads the first time it asks them, on another goroutine:
// the program's names (binfile.Lookup: its first call through the PLT
// asks them; node's 77,000 functions), then its address-taken words
// (binfile.AddressTaken, for every module's takenHub) and its vtables'
// slots (binfile.VtableSlot, for every module's vtableHub: withProgram),
// all while the frames are walked, and the libraries' exported names as
// soon as they are opened (startOpeningLibraries). (The address-taken
// words and vtables were indexed from the walk's end, beside the
// resolution, whose first narrowing or address-taken set then waited for
// them: node's resolution, in an execution trace at load 13, blocked
// 0.19 s in AddressTaken; their CPU, some 0.04 s for node, now shares the
// walk's two cores.) Each index is behind a sync.Once: a question
// asked while the goroutine builds it waits for it, and gets what the
// question alone would have built. A program that never asks one (no
// indirect call to narrow or assume) pays for it on the other core only.
//
// A panic of the indexing would leave the Once done and its index empty:
// it is raised again on the analysis' goroutine (finishIndexing, at the
// end of Build), so that no result comes from a half-built index.
func (g *Graph) startIndexing(index func()) {
	done := make(chan any, 1)
	g.indexed = append(g.indexed, done)
	go func() {
		defer func() { done <- recover() }()
		index()
	}()
}

// finishIndexing waits for startIndexing's goroutines and raises the
// first panic, if any, on the analysis' goroutine.
func (g *Graph) finishIndexing() {
	var first any
	for _, done := range g.indexed {
		if fault := <-done; fault != nil && first == nil {
			first = fault
		}
	}
	g.indexed = nil
	if first != nil {
		panic(first)
	}
}

// importKey is an imported symbol asked for by a module.
type importKey struct {
	m    *Module
	name string
}

// importDef is where the dynamic linker's search finds an imported symbol
// (importDefinition): fn in mod, or nothing (mod nil).
type importDef struct {
	mod *Module
	fn  *binfile.Function
}

// loadProgramDWARFAhead loads the program's DWARF types (dwarfOf:
// dwtypes.Load) on another goroutine while its frames are walked, when
// the resolution is likely to read them: the program has DWARF and the
// build narrows indirect calls (not --strict). The resolution's first
// narrowing otherwise loads them on the analysis' goroutine (node: its
// 1 MB of .debug_info, some 50 ms of CPU), and node's first comes at the
// start of its resolution: a load started only then kept the resolution
// waiting for a goroutine that shared a core with the walk ahead and the
// prefetches (a trace). The types are what that load reads, behind the
// module's sync.Once; a panic is raised again at the end of Build
// (startIndexing). A program whose calls are never narrowed loads them
// for nothing, on the core the walk shares.
func (g *Graph) loadProgramDWARFAhead(m *Module) {
	if !dwarfAheadOn || g.opts.Strict || m.File.ELF.Section(".debug_info") == nil {
		return
	}
	g.dwarfAhead = true
	g.startIndexing(func() { g.dwarfOf(m) })
}

// dwarfAheadOn is false only in a test, which compares the graph built
// with the program's DWARF types loaded ahead and without.
var dwarfAheadOn = true
