package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// Thread-specific data destructors. When a thread ends (start_thread, and
// __libc_start_call_main when the main thread calls pthread_exit), glibc's
// __nptl_deallocate_tsd calls, for each key with a value, the destructor
// held in __pthread_keys[key].destr: one indirect call, which the
// address-taken set would otherwise resolve to every function of libc
// whose address is taken. glibc's source (nptl/pthread_key_create.c,
// 2.34 to 2.36) stores destr only in __pthread_key_create, from its
// second argument, so the call's targets are the destructors passed to
// pthread_key_create (and tss_create, which passes its own on): the
// constants every call passes in rsi, a caller that passes its own
// parameter on followed up its callers, as argcallback.go does (0, no
// destructor, is no target). A destructor is a target once the function
// that passes it is reachable (the fixpoint of ModelReachableTables: a key
// is created before its destructor can run).
//
// The model applies only when every caller is known: pthread_key_create
// called directly, through the PLT or a GOT word, its address taken
// nowhere (no hub reaches it, no module holds it as a value), and each
// value passed a constant or a parameter followed; otherwise the call
// keeps its set. That nothing else writes destr is glibc's source, not a
// proof from the code: __pthread_keys is exported (GLIBC_PRIVATE) and
// pthread_getspecific, pthread_setspecific and pthread_key_delete compute
// its address too. A scan of libc's code checks that only the functions
// the source names touch it, and that no data holds its address nor any
// loaded module imports it; the entry then carries the premise (kind
// glibc-model), and with --strict the call stays unresolved.

// tsdKeyUsers are the functions of glibc 2.34-2.36 that name
// __pthread_keys in their code.
var tsdKeyUsers = []string{"__nptl_deallocate_tsd", "__pthread_key_create", "__pthread_key_delete",
	"__pthread_getspecific", "__pthread_setspecific", "pthread_key_delete", "pthread_getspecific", "pthread_setspecific"}

// tsdOrigin is a destructor and the function that passes it (a constant
// in its code): the destructor can run once that function has.
type tsdOrigin struct {
	from, target int
}

// tsdCut is the model applied to one module's __nptl_deallocate_tsd.
type tsdCut struct {
	g       *Graph
	hub     int
	origins []tsdOrigin
	added   map[int]bool
	// site is the destructor call cut, given back its address-taken set
	// once a symbol lookup is reachable (undone).
	site   cutSite
	undone bool
}

// update makes the destructors of the reachable key creations targets.
// Once a symbol lookup is reachable (dlsym.go), pthread_key_create may be
// called through a pointer dlsym returned, with any destructor: the call
// gets its address-taken set back.
func (t *tsdCut) update(reached []bool) bool {
	if t.undone {
		return false
	}
	if _, ok := t.g.lookupReached(reached); ok {
		t.undone = true
		t.g.restore(t.site)
		return true
	}
	changed := false
	for _, o := range t.origins {
		if t.added[o.target] || o.from >= len(reached) || !reached[o.from] {
			continue
		}
		t.added[o.target] = true
		t.g.Nodes[t.hub].Edges = append(t.g.Nodes[t.hub].Edges, Edge{To: o.target, Kind: frame.Call, Method: MethodGlibcModel})
		changed = true
	}
	if changed {
		t.g.Nodes[t.hub].name = tsdHubName(len(t.added))
	}
	return changed
}

// settled: the call has its address-taken set back (with every
// destructor a target, a symbol lookup reached later still gives it back).
func (t *tsdCut) settled() bool { return t.undone }

func tsdHubName(n int) string {
	return fmt.Sprintf("[thread-specific data destructors: %d %s passed to pthread_key_create]", n, plural(n, "function"))
}

// tsdModel applies the model to module m (libc), or returns nil when it
// does not apply (see above).
func (g *Graph) tsdModel(m *Module) *tsdCut {
	if g.opts.Strict {
		return nil
	}
	dealloc, ok := m.File.Lookup("__nptl_deallocate_tsd")
	create, ok2 := m.File.Lookup("__pthread_key_create")
	if !ok || !ok2 {
		return nil
	}
	var keys elf.Symbol
	for _, s := range m.File.Symbols() {
		if s.Name == "__pthread_keys" && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 {
			keys = s
		}
	}
	if keys.Size == 0 || !g.tsdKeysConfined(m, keys) {
		return nil
	}
	fi, _ := m.File.FunctionIndex(dealloc.Addr)
	id := g.nodeFor(m, fi)
	n := g.Nodes[id]
	if n.Frame.Kind == frame.Unknown || !g.namesKeys(m, dealloc, keys) {
		return nil
	}
	// The shape: one indirect call, the destructor's.
	var site frame.CallSite
	count := 0
	for _, cs := range n.Frame.Calls {
		if cs.Kind.Indirect() {
			site, count = cs, count+1
		}
	}
	if count != 1 || site.HasSlot {
		return nil
	}
	// Only the address-taken set is replaced: an annotated or otherwise
	// proved target stays.
	for _, e := range n.Edges {
		if e.Site == site.Addr && e.Method != MethodAddressTaken {
			return nil
		}
	}
	ci, _ := m.File.FunctionIndex(create.Addr)
	origins, ok := g.tsdOrigins(g.nodeFor(m, ci))
	if !ok {
		return nil
	}
	t := &tsdCut{g: g, origins: origins, added: map[int]bool{}}
	t.site = g.cut(id, site)
	t.hub = len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, Hub: true, name: tsdHubName(0), Frame: frame.Frame{Kind: frame.Static},
		Premises: []Premise{{Kind: PremiseGlibcModel, Site: site.Addr, Detail: "__nptl_deallocate_tsd calls only the destructors passed to " +
			"pthread_key_create: glibc 2.34-2.36's __pthread_key_create is the only writer of __pthread_keys[].destr (its other users compute the " +
			"array's address too, which the code cannot show they use only to read)"}}})
	g.addEdge(id, t.hub, site, MethodGlibcModel)
	return t
}

// namesKeys says whether fn's code has an operand at a fixed address in
// the __pthread_keys array (the destructor call's shape).
func (g *Graph) namesKeys(m *Module, fn *binfile.Function, keys elf.Symbol) bool {
	fr, ok := g.Decoder.(isa.FixedRefReader)
	code, err := m.File.Code(fn.Addr, fn.Size)
	if !ok || err != nil {
		return false
	}
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		e, err := g.Decoder.Decode(code[off:], pc)
		if err != nil || e.Len <= 0 {
			return false
		}
		if ref, has, ok := fr.FixedRef(code[off:], pc); ok && has && ref.Addr >= keys.Value && ref.Addr < keys.Value+keys.Size {
			return true
		}
		off += e.Len
	}
	return false
}

// tsdKeysConfined says whether only the functions glibc's source names
// (tsdKeyUsers) have an operand in __pthread_keys, in a complete decode
// of m's code, no data word holds an address in it, and no other loaded
// module imports it.
func (g *Graph) tsdKeysConfined(m *Module, keys elf.Symbol) bool {
	for _, other := range g.Modules {
		if other != m && (&argModel{g: g, undefined: map[*Module]map[string]bool{}}).importedBy(other)(keys.Name) {
			return false
		}
	}
	fr, ok := g.Decoder.(isa.FixedRefReader)
	if !ok {
		return false
	}
	var users []uint64
	for _, name := range tsdKeyUsers {
		if fn, ok := m.File.Lookup(name); ok {
			users = append(users, fn.Addr)
		}
	}
	lo, hi := keys.Value, keys.Value+keys.Size
	key := fmt.Sprintf("tsd-keys-confined %x %x %x", lo, hi, users)
	return g.libraryStore(m).Fact(key, func() int64 {
		if m.File.PointersTo(lo, hi) {
			return 0
		}
		foreign, complete := g.foreignFixedRefs(m, fr, lo, hi, users, true, func(ref isa.FixedRef) bool {
			return ref.Addr < hi && ref.Addr+uint64(max(ref.Size, 1)) > lo
		})
		if foreign || !complete {
			return 0
		}
		return 1
	}) == 1
}

// tsdOrigins returns the destructors the callers of node create (libc's
// __pthread_key_create) pass in rsi, each with the function that passes
// it as a constant, following callers that pass their own parameter on
// (argcallback.go's data flow and its conditions); ok is false when one
// is not proved.
func (g *Graph) tsdOrigins(create int) ([]tsdOrigin, bool) {
	a := newArgModel(g)
	defer a.release()
	if a.failsUnindexed(create) {
		return nil, false // (the queue's first test, before the index)
	}
	a.indexCallers()
	const rsi = 6
	start := argKey{create, rsi}
	seen := map[argKey]bool{start: true}
	queue := []argKey{start}
	var out []tsdOrigin
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if a.reachedByHub(k.id) || !a.callersInGraph(k.id) || !a.enteredOnlyByCalls(k.id) || !a.callersKnown(k.id) {
			return nil, false
		}
		for _, c := range a.callsOf(k.id) {
			if !c.plain {
				return nil, false
			}
			v, ok := a.valueAt(int(c.from), c.site, k.reg)
			if !ok {
				return nil, false
			}
			switch v.kind {
			case valConst:
				if v.c == 0 {
					continue // no destructor
				}
				t, ok := a.function(g.Nodes[int(c.from)].Module, v.c)
				if !ok {
					return nil, false
				}
				out = append(out, tsdOrigin{from: int(c.from), target: t})
			case valEntry:
				if !slices.Contains(argRegs, v.reg) {
					return nil, false
				}
				nk := argKey{int(c.from), v.reg}
				if !seen[nk] {
					seen[nk] = true
					queue = append(queue, nk)
				}
			default:
				return nil, false
			}
		}
	}
	g.resolvePending() // PLT stubs passed as constants
	return out, true
}
