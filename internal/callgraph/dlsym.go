package callgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/frame"
)

// Pointers from dlsym.
//
// dlsym and dlvsym return the address of any symbol a loaded object
// exports, by its name: a string the analysis does not follow. The
// function returned is in no address-taken set (its address
// appears in no code or data of the program: dlsym computes it from the
// exporting object's .dynsym), so a call through such a pointer, which
// the graph resolves to an address-taken set (takenHub) or a part of it
// (prototypeHub), would miss it: dlsym(RTLD_DEFAULT, "deep") and a call of
// the result gave a bound without deep's frame.
//
// So once a symbol lookup (symbolLookups) is reachable from the program's
// roots (a model of ModelReachableTables' fixpoint: a pointer comes from a
// lookup that ran before), every hub standing for an address-taken set or
// its prototype part, in every module, also reaches the lookup hub: every
// function a lookup can return, that is every function each loaded module
// exports (defined in its .dynsym; for a GNU ifunc, what its resolver can
// return, see linkIFunc), the program's own included. And when a loader
// (loaderNames) is reachable too, dlsym can return a function of an object
// loaded at run time, which the analysis does not see: the lookup hub then
// also reaches a node of unknown frame saying so. This is no assumption
// (no premise): it only adds targets. A call whose targets a model proved
// or narrowed otherwise (a FILE's jump table, a vtable slot, an annotation)
// keeps them: such a pointer is not one a program gets from dlsym.
//
// The models that read what the direct calls of a registrar pass (exit
// handlers, callbacks passed as arguments) get their module's
// address-taken set back at those calls (widenRegisteredSites). The models
// that decide "nobody calls X, so the table X fills is empty"
// (printf's registry, the FILE jump tables' installers, pthread_key_create's
// destructors, the locale changers of gconvstep.go) are undone as soon as
// a lookup is reachable (lookupReached): X may be called through a pointer
// dlsym returned, and X's node, reached only through the lookup hub, could
// otherwise be missed by a model that looks at reachability alone (a
// --strict graph has no hubs: the call through the pointer stays
// unresolved there, but another entry, a thread, may use what X filled).
//
// libc's private lookups (libcLookups) look up names libc chose in objects
// it loaded itself: what they return is code loaded at run time, which
// libc calls through its own words (resolved to its address-taken hub).
// Once one and a loader are reachable, libc's hubs reach the node of that
// code (unknown), as the lookup hub does.

// symbolLookups are the functions that return the address of a function
// the program names: dlsym and dlvsym with their version aliases (glibc
// 2.34 to 2.36, in libc.so.6; before, in libdl.so.2). Their workers
// (dlsym_doit, _dl_sym) are not listed: dlsym_doit's address is taken
// (passed to _dlerror_run), so every reached libc hub would count.
var symbolLookups = []string{"dlsym", "__dlsym", "___dlsym", "dlvsym", "__dlvsym", "___dlvsym"}

// libcLookups are libc's private lookups, which NSS, the gconv modules
// and the unwinder's link to libgcc_s (__libc_unwind_link_get) use: the
// names are libc's own (_nss_*, gconv*, _Unwind_*), looked up in an object
// __libc_dlopen_mode loaded, so what they return is that object's code,
// not a function the models watch. libc calls it through words of its
// own data (mangled pointers), which its address-taken hub stands for:
// once one of these and a loader are reachable, that hub also reaches the
// node of the functions of objects loaded at run time.
var libcLookups = []string{"__libc_dlsym", "__libc_dlvsym"}

// whyLoadedAtRunTime is the reason of the node standing for the functions
// of objects loaded at run time.
const whyLoadedAtRunTime = "a pointer from dlsym (or libc's __libc_dlsym) can be a function of an object loaded at run time, " +
	"whose code is not analysed"

// lookupReached says whether a symbol lookup (symbolLookups) of a loaded
// module is reachable, with its node; it makes no node (a function
// without one is not reached).
func (g *Graph) lookupReached(reached []bool) (int, bool) {
	return g.namedReached(reached, symbolLookups)
}

// namedReached says whether a function of one of the names, in any
// module, is reachable (see lookupReached).
func (g *Graph) namedReached(reached []bool, names []string) (int, bool) {
	for _, m := range g.Modules {
		for _, name := range names {
			fn, ok := m.File.Lookup(name)
			if !ok {
				continue
			}
			fi, _ := m.File.FunctionIndex(fn.Addr)
			if id, ok := m.nodes.get(fi); ok && id < len(reached) && reached[id] {
				return id, true
			}
		}
	}
	return -1, false
}

// lookupModel is the reachModel that links the hubs to the lookup hub
// and the node of the functions of objects loaded at run time.
type lookupModel struct {
	g      *Graph
	linked bool // the hubs reach the lookup hub
	loaded bool // the lookup hub reaches the run-time objects' node
	// libcLoaded: the hubs of the modules whose private lookups
	// (libcLookups) are reached reach the run-time objects' node.
	libcLoaded bool
}

// symbolLookupModel returns the model, or nil when no module defines a
// lookup or the graph assumes no address-taken sets (--strict).
func (g *Graph) symbolLookupModel() *lookupModel {
	if g.opts.Strict {
		return nil
	}
	if _, ok := g.lookupModule(); !ok {
		return nil
	}
	return &lookupModel{g: g}
}

func (l *lookupModel) update(reached []bool) bool {
	g := l.g
	changed := false
	if _, ok := g.lookupReached(reached); ok && !l.linked {
		l.linked, changed = true, true
		g.lookupHubNode()
		g.eachAddressTakenHub(g.linkLookupHub)
		g.widenRegisteredSites()
		g.resolvePending()
	}
	loader, loads := g.namedReached(reached, loaderNames)
	if !loads {
		return changed
	}
	if l.linked && !l.loaded {
		l.loaded, changed = true, true
		g.linkOnce(g.lookupHub-1, g.runTimeCode(loader))
	}
	if !l.libcLoaded {
		if lookup, ok := g.namedReached(reached, libcLookups); ok {
			l.libcLoaded, changed = true, true
			g.Nodes[lookup].Module.runTimeLookups = true
			g.runTimeCode(loader)
			g.eachAddressTakenHub(g.linkLookupHub)
		}
	}
	return changed
}

// settled: the hubs reach the lookup hub, and both reach the run-time
// objects' node.
func (l *lookupModel) settled() bool { return l.linked && l.loaded && l.libcLoaded }

// widenRegisteredSites gives the calls whose targets were read from the
// direct calls that pass them (exit handlers: MethodAtexit; callbacks
// passed as arguments: MethodArgument) their module's address-taken set
// too, once a lookup is reachable: a call through dlsym's pointer to
// on_exit, __cxa_atexit, tsearch or pthread_once passes a function the
// model did not read (one whose address the program takes, or one dlsym
// returned, which the set's hub reaches).
//
// The nodes with such calls are found on every core first (registeredCallers),
// then widened one after the other in id order, as before: the scan of
// every node's edges (node: 700,000 outside the hubs) ran on the glibc
// models' one goroutine, 5 ms a run (perf, issue 19). Widening a node
// adds edges to its own list only, and the nodes it makes (a module's
// hub, the functions of a module completed) have no such call yet: they
// are read after, as the loop over the growing list read them.
func (g *Graph) widenRegisteredSites() {
	n0 := len(g.Nodes)
	for _, id := range g.registeredCallers(n0) {
		g.widenRegisteredAt(id)
	}
	for id := n0; id < len(g.Nodes); id++ {
		g.widenRegisteredAt(id)
	}
}

// registeredCallers returns, in id order, the nodes below n that are
// not hubs, belong to a module and have a call whose targets were read
// from the calls that pass them (MethodAtexit, MethodArgument): the
// nodes widenRegisteredAt changes. The nodes are cut into parts the
// cores take in turn; it only reads the graph.
func (g *Graph) registeredCallers(n int) []int {
	const parts = 16
	found := make([][]int, parts)
	beside.Each(parts, func(i int) {
		for id := i * n / parts; id < (i+1)*n/parts; id++ {
			if nd := g.Nodes[id]; nd.Module != nil && !nd.Hub && slices.ContainsFunc(nd.Edges, isRegisteredCall) {
				found[i] = append(found[i], id)
			}
		}
	})
	return slices.Concat(found...)
}

// isRegisteredCall says whether e's target was read from the direct
// calls that pass it (widenRegisteredSites).
func isRegisteredCall(e Edge) bool { return e.Method == MethodAtexit || e.Method == MethodArgument }

// widenRegisteredAt gives node id's registered calls (see
// widenRegisteredSites) its module's address-taken set.
func (g *Graph) widenRegisteredAt(id int) {
	n := g.Nodes[id]
	if n.Module == nil || n.Hub {
		return
	}
	var sites []uint64
	for _, e := range n.Edges {
		if isRegisteredCall(e) && !slices.Contains(sites, e.Site) {
			sites = append(sites, e.Site)
		}
	}
	if len(sites) == 0 {
		return
	}
	hub, count := g.takenHub(n.Module)
	if count == 0 {
		return
	}
	for _, site := range sites {
		cs := frame.CallSite{Addr: site, Kind: frame.IndirectCall}
		for _, c := range n.Frame.Calls {
			if c.Addr == site {
				cs = c
			}
		}
		g.addEdge(id, hub, cs, MethodAddressTaken)
		n.Assumed = append(n.Assumed, Assumption{Site: site, Targets: count, Method: MethodAddressTaken,
			Detail: fmt.Sprintf("assumed: address-taken set of %d functions (dlsym is reachable: a function passed through its pointer is not read)", count)})
	}
}

// eachAddressTakenHub calls fn with every hub that stands for a module's
// address-taken set or a part of it its prototype narrows.
func (g *Graph) eachAddressTakenHub(fn func(hub int)) {
	for _, m := range g.Modules {
		if m.hub >= 0 {
			fn(m.hub)
		}
		for key, nw := range m.narrowed {
			if strings.HasPrefix(key, "prototype ") && nw.count > 0 {
				fn(nw.hub)
			}
		}
	}
}

// runTimeCode returns the node standing for the functions of objects
// loaded at run time (unknown frame, the reason naming the loader
// reached), making it.
func (g *Graph) runTimeCode(loader int) int {
	if g.runTimeNode == 0 {
		g.Nodes = append(g.Nodes, &Node{name: "[functions of objects loaded at run time: not analysed]",
			Frame: frame.Frame{Kind: frame.Unknown, Reason: whyLoadedAtRunTime + " (" + g.QualifiedName(loader) + " is reachable)"}})
		g.runTimeNode = len(g.Nodes)
	}
	return g.runTimeNode - 1
}

// linkOnce adds an edge from hub to node to, unless it has one.
func (g *Graph) linkOnce(hub, to int) {
	n := g.Nodes[hub]
	if !edgeTo(n.Edges, to) {
		if len(n.Edges) == cap(n.Edges) {
			// Room for this edge and the other linkLookupHub may add,
			// not the quarter more that append gives a long list (the
			// address-taken hubs are made with that room, hubEdgeRoom).
			grown := make([]Edge, len(n.Edges), len(n.Edges)+hubEdgeRoom)
			copy(grown, n.Edges)
			n.Edges = grown
		}
		n.Edges = append(n.Edges, Edge{To: to, Kind: frame.Call, Method: MethodSymbolLookup})
	}
}

// edgeTo says whether one of edges goes to node to: a plain loop over a
// hub's list (slices.ContainsFunc with a closure was a call per edge,
// over the address-taken hubs' lists when linkLookupHub links them:
// 2.5 ms a run of node's glibc models' one goroutine, perf; issue 19).
func edgeTo(edges []Edge, to int) bool {
	for i := range edges {
		if edges[i].To == to {
			return true
		}
	}
	return false
}

// hubEdgeRoom is the room an address-taken hub's edge list is made
// with beyond its targets: for the edges linkLookupHub adds once a
// symbol lookup is reached (to the lookup hub and to the node of objects
// loaded at run time). Without it each hub's list was copied to a new
// array a quarter longer when the lookup was reached (node: 38 MB of
// hubs), and copied again by ClipEdges, which leaves a hub that room.
const hubEdgeRoom = 2

// lookupHubNode returns the lookup hub, making it: a hub whose edges go
// to every function a loaded module exports.
func (g *Graph) lookupHubNode() int {
	if g.lookupHub > 0 {
		return g.lookupHub - 1
	}
	hub := len(g.Nodes)
	m, _ := g.lookupModule()
	// An edge per exported function, in a list made at its size (grown
	// by append, node's was 12 MB allocated for 2.5 MB kept), with room
	// for the edge to the run-time objects' node (hubEdgeRoom).
	exports := 0
	moduleExports := make([]int, len(g.Modules))
	for mi, m := range g.Modules {
		for fi := range m.File.Functions {
			if m.File.Functions[fi].Exported {
				moduleExports[mi]++
			}
		}
		exports += moduleExports[mi]
	}
	g.Nodes = append(g.Nodes, &Node{Module: m, Hub: true, Frame: frame.Frame{Kind: frame.Static}, Edges: make([]Edge, 0, exports+hubEdgeRoom)})
	g.lookupHub = hub + 1
	count := 0
	for mi, m := range g.Modules {
		var fresh []int
		exported := make([]int, 0, moduleExports[mi]) // (grown by append: 2.6 MB on node)
		for fi := range m.File.Functions {
			if !m.File.Functions[fi].Exported {
				continue
			}
			exported = append(exported, fi)
			if !m.nodes.has(fi) {
				fresh = append(fresh, fi)
			}
		}
		if len(fresh) > 0 {
			g.addNodes(m, fresh)
		}
		for _, fi := range exported {
			fn := &m.File.Functions[fi]
			count++
			if fn.IFunc {
				// What the resolver returns; a resolver not proved
				// leaves the hub an unresolved call naming it.
				g.linkIFunc(hub, m, fi, frame.CallSite{Addr: fn.Addr, Target: fn.Addr, Kind: frame.Call})
				continue
			}
			id, _ := m.nodes.get(fi) // (made above)
			g.Nodes[hub].Edges = append(g.Nodes[hub].Edges, Edge{To: id, Kind: frame.Call, Method: MethodSymbolLookup})
		}
	}
	g.Nodes[hub].name = fmt.Sprintf("[any of %d exported %s: dlsym is reachable]", count, plural(count, "function"))
	slices.SortFunc(g.Nodes[hub].Edges, func(a, b Edge) int { return a.To - b.To })
	return hub
}

// lookupModule is the first module that defines a symbol lookup (libc),
// the module of the lookup hub.
func (g *Graph) lookupModule() (*Module, bool) {
	for _, m := range g.Modules {
		for _, name := range symbolLookups {
			if _, ok := m.File.Lookup(name); ok {
				return m, true
			}
		}
	}
	return g.Modules[0], false
}

// linkLookupHub gives hub (an address-taken set or a part of it) an edge
// to the lookup hub once the lookup model is on, and one to the node of
// run-time objects' code when its module's private lookups are reached
// (see above).
func (g *Graph) linkLookupHub(hub int) {
	if g.lookupHub > 0 {
		g.linkOnce(hub, g.lookupHub-1)
	}
	if m := g.Nodes[hub].Module; m != nil && m.runTimeLookups && g.runTimeNode > 0 {
		g.linkOnce(hub, g.runTimeNode-1)
	}
}
