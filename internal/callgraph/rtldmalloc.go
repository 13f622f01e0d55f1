package callgraph

import (
	"debug/elf"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// ld.so's own function pointers that every lazy binding passes through
// (read on glibc 2.36, x86-64), modelled like its loader lock
// (rtldmutex.go): the malloc indirection of the symbol lookup, and
// _dl_fixup's call of an IFUNC resolver (fixupifunc.go). Without them
// both calls took ld.so's address-taken set, which reaches dl_open_worker
// and from there libc's whole set, on the path of every lazy binding.

// rtldMallocWord is one of ld.so's allocator pointers (elf/dl-minimal-malloc.c,
// rtld.c): __rtld_malloc_init_stubs stores ld.so's __minimal_* function in
// it before anything is relocated, and __rtld_malloc_init_real, once libc
// is relocated, the definition of the public name that a lookup from the
// program finds (lookup_malloc_symbol: the main namespace, in load order).
type rtldMallocWord struct {
	word, minimal, name string
}

var rtldMallocWords = []rtldMallocWord{
	{"__rtld_malloc", "__minimal_malloc", "malloc"},
	{"__rtld_calloc", "__minimal_calloc", "calloc"},
	{"__rtld_realloc", "__minimal_realloc", "realloc"},
	{"__rtld_free", "__minimal_free", "free"},
}

// rtldMallocWriters are the only functions of ld.so that glibc's source
// lets store into those words.
var rtldMallocWriters = []string{"__rtld_malloc_init_stubs", "__rtld_malloc_init_real"}

// linkRtldHooks applies the models of ld.so's words to every node of
// ld.so that the graph has, and to those that resolving the new edges
// brings, until no new one appears: its allocator words, _dl_fixup's
// IFUNC call, do_lookup_x's unique-symbol free (premises, not with
// --strict), its error receiver (rtldreceiver.go: proved from the code,
// or a premise); and, in every library, the calls through the members of
// _rtld_global_ro that only ld.so's initialiser sets (rtldmcount.go). A
// program only (a shared object's loader is not known: the program that
// loads it may define malloc, or bind an IFUNC lazily).
func (g *Graph) linkRtldHooks() {
	if g.Arch != binfile.ArchX86_64 || g.Modules[0].File.Shared {
		return
	}
	var ld *Module
	for _, m := range g.Modules[1:] {
		if g.isInterpreter(m) {
			ld = m
		}
	}
	if ld == nil {
		return
	}
	hubs := map[uint64]int{}
	if !g.opts.Strict {
		hubs = g.rtldMallocHubs(ld)
		if hubs == nil {
			hubs = map[uint64]int{}
		}
	}
	if word, hub, ok := g.rtldReceiverHub(ld); ok {
		hubs[word] = hub
	}
	var object uint64
	if m, obj, ok := g.rtldGlobalRO(); ok && m == ld {
		object = obj
		maps.Copy(hubs, g.rtldROHookHubs(ld, object))
	}
	if len(hubs) == 0 && g.opts.Strict {
		return
	}
	done := map[int]bool{}
	for {
		g.resolvePending() // a node's edges exist before they are replaced
		changed := false
		for id := 0; id < len(g.Nodes); id++ {
			n := g.Nodes[id]
			if done[id] || n.Module == nil || n.Module == g.Modules[0] || n.Hub || n.Func == nil {
				continue
			}
			done[id] = true
			changed = true
			for _, cs := range n.Frame.Calls {
				if !cs.Kind.Indirect() || !assumedAt(n, cs.Addr) {
					continue // resolved otherwise (an annotation, a proof): kept
				}
				if hub, ok := hubs[rtldWordCall(n, cs, ld, object)]; ok {
					g.cut(id, cs)
					g.addEdge(id, hub, cs, g.hubMethod(hub))
					continue
				}
				if n.Module != ld || g.opts.Strict {
					continue
				}
				if hub, ok := g.uniqueSymFreeHub(n, cs, hubs); ok { // rtlduniquesym.go
					g.cut(id, cs)
					g.addEdge(id, hub, cs, MethodGlibcModel)
					continue
				}
				if n.Named("_dl_fixup") && g.isIFuncInvoke(n, cs) {
					if hub, ok := g.fixupIFuncHub(ld, cs.Addr); ok {
						g.cut(id, cs)
						g.addEdge(id, hub, cs, MethodGlibcModel)
					}
				}
			}
		}
		if !changed {
			return
		}
	}
}

// assumedAt says whether the call at site has assumed targets (an
// address-taken set, narrowed or not) or none.
func assumedAt(n *Node, site uint64) bool {
	return slices.ContainsFunc(n.Assumed, func(a Assumption) bool { return a.Site == site }) ||
		slices.ContainsFunc(n.Unresolved, func(cs frame.CallSite) bool { return cs.Addr == site })
}

// loadedWord is the fixed address an indirect call reads its target from:
// `call [rip+word]`, or `mov rax,[rip+word]; call rax`; 0 for another.
func loadedWord(cs frame.CallSite) uint64 {
	switch v := cs.From; {
	case cs.HasSlot:
		return cs.Slot
	case v != nil && v.Kind == frame.ValueLoad && v.Off == 0 && !v.Indexed && v.Addr != nil && isConstant(v.Addr):
		return uint64(v.Addr.Off)
	}
	return 0
}

// rtldMallocHubs returns, for each of ld.so's allocator words, the node
// standing for what it can hold: {__minimal_X} and the first definition of
// X in the load order of the graph's modules (the program, then its
// DT_NEEDED breadth first: the order loadLibraries opened them, which is
// the main namespace's search list). Empty when the words are not known
// (no debug symbols), are exported, or a scan of ld.so's code finds a
// store into them outside the two init functions, or does not decode all
// of it: the calls then keep ld.so's set.
func (g *Graph) rtldMallocHubs(ld *Module) map[uint64]int {
	words := map[uint64]rtldMallocWord{}
	for _, s := range ld.File.Symbols() {
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Size != 8 {
			continue
		}
		for _, w := range rtldMallocWords {
			if s.Name == w.word {
				words[s.Value] = w
			}
		}
	}
	if len(words) != len(rtldMallocWords) {
		return nil
	}
	dyn, _ := ld.File.DynamicSymbols()
	for _, s := range dyn {
		if _, ok := words[s.Value]; ok && s.Section != elf.SHN_UNDEF {
			return nil // exported: another module could store into it
		}
	}
	var writers []uint64
	for _, name := range rtldMallocWriters {
		fn, ok := ld.File.Lookup(name)
		if !ok {
			return nil
		}
		writers = append(writers, fn.Addr)
	}
	vars := map[uint64]bool{}
	key := "rtld-malloc-stores"
	for _, w := range sortedKeys(words) {
		vars[w] = true
		key += fmt.Sprintf(" %x", w)
	}
	key += fmt.Sprintf(" w%x", writers)
	if g.libraryStore(ld).Fact(key, func() int64 { return g.scanStores(ld, vars, writers) }) != storesComplete {
		return nil
	}
	if g.opts.FollowLibraries {
		g.loadLibraries()
	}
	hubs := map[uint64]int{}
	for _, addr := range sortedKeys(words) {
		w := words[addr]
		minimal, ok := ld.File.Lookup(w.minimal)
		if !ok {
			return nil
		}
		mi, _ := ld.File.FunctionIndex(minimal.Addr)
		def, defMod, ok := g.firstDefinition(w.name)
		if !ok || def.IFunc {
			return nil // none, or an IFUNC whose resolver picks: not modelled
		}
		di, _ := defMod.File.FunctionIndex(def.Addr)
		targets := []int{g.nodeFor(ld, mi), g.nodeFor(defMod, di)}
		nw := g.subsetHub(ld, "rtld malloc "+w.name, MethodGlibcModel, targets, func(int) string {
			return fmt.Sprintf("ld.so's %s: %s or %s's %s", w.name, w.minimal, defMod.Name, w.name)
		})
		g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel, Detail: fmt.Sprintf(
			"ld.so's %s holds %s or the %s a lookup from the program finds (%s's; one preloaded with LD_PRELOAD or /etc/ld.so.preload is not seen): "+
				"glibc 2.36's %s store nothing else, and no other code of ld.so stores into it (a scan of its code)",
			w.word, w.minimal, w.name, defMod.Name, strings.Join(rtldMallocWriters, " and "))})
		hubs[addr] = nw.hub
	}
	return hubs
}

// firstDefinition is the exported function of that name in the first of
// the graph's modules that defines one, in load order: what ld.so's symbol
// lookup in the main namespace finds (symbol versions aside).
func (g *Graph) firstDefinition(name string) (*binfile.Function, *Module, bool) {
	for _, m := range g.Modules {
		if fn, ok := m.File.LookupExported(name); ok {
			return fn, m, true
		}
	}
	return nil, nil, false
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
