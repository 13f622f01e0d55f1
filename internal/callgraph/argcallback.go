package callgraph

import (
	"debug/elf"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// Callbacks passed as arguments. Many of glibc's functions call a
// function their caller passes: __tunable_get_val its callback (rdx),
// tsearch and tfind their comparator (rdx), twalk its action,
// pthread_once its init routine (rsi). Inside libc and ld.so every caller
// passes a constant (lea rdx,[rip+f]) or passes on its own parameter, so
// such a call goes only to those constants, not to the module's whole
// address-taken set. This is a proof from the code, not an assumption
// (it stands with --strict), made only where all of these hold:
//   - in the function, the call's target register holds, on every path
//     to the call, the value a parameter register had at the function's
//     entry (a forward data flow over its code, the registers an
//     instruction may write named by the decoder's RegWriter, a call
//     clobbering the caller-saved ones);
//   - every call of the function in the loaded modules is a direct call
//     (direct, PLT, GOT), each passing in that register a constant or,
//     by the same data flow in the caller, the caller's own parameter,
//     whose callers are then followed the same way;
//   - no function of that chain has its address taken (in its module's
//     code or data, or as a pointer another module imports: a GLOB_DAT or
//     absolute relocation), nor is entered other than at its start.
// A constant 0 (a null callback, which the function tests for) is no
// target. A library loaded later with dlopen could call the function with
// a callback of its own: that library's functions are outside the graph,
// as they are outside the address-taken sets this replaces. Only for a
// program's libraries (the analysed file is not a shared object, whose
// exported functions anyone may call) and x86-64.

// argRegs are the x86-64 System V argument registers, in order.
var argRegs = []int8{7, 6, 2, 1, 8, 9} // rdi, rsi, rdx, rcx, r8, r9

// callerSaved are the registers a call may change (x86-64 System V).
const callerSaved = 1<<0 | 1<<1 | 1<<2 | 1<<6 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11

// regVal is what the data flow knows of a register: nothing (kind
// valUnknown), a constant, the value register reg had at entry, or a word
// read from the fixed address c (valLoad: what the word held when the
// load ran, whatever it is; rtldreceiver.go's restore of a variable's old
// value).
type regVal struct {
	kind uint8
	reg  int8
	c    uint64
}

const (
	valUnknown uint8 = iota
	valConst
	valEntry
	valLoad
)

// newArgModel is an argModel with its caches made.
func newArgModel(g *Graph) *argModel {
	return &argModel{g: g, flows: map[int]*argFlow{}, imports: map[*Module]map[string]bool{}, done: map[argKey]argResult{}, undefined: map[*Module]map[string]bool{}}
}

type regState [16]regVal

// argFlow is the data flow of one function: the registers' values before
// each of its instructions (by address).
type argFlow struct {
	insts []linearInst
	at    map[uint64]int
	state []*regState // nil: not reached
	// states, when not nil, holds the states solve makes: state[i] is
	// then &states[i] (a passing flow's scratch; see passingFlow).
	states []regState
}

// linkArgumentCallbacks applies the model to every indirect call of the
// libraries' functions that has no proved target yet.
func (g *Graph) linkArgumentCallbacks() {
	if g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || g.Modules[0].File.Shared {
		return
	}
	if _, ok := g.Decoder.(isa.RegWriter); !ok {
		return
	}
	a := newArgModel(g)
	defer a.release()
	var sites []argSite
	for id, n := range g.Nodes {
		if n.Module == nil || n.Module == g.Modules[0] || n.Func == nil || n.Hub || n.Summary != "" {
			continue
		}
		for _, cs := range n.Frame.Calls {
			if !cs.Kind.Indirect() || cs.HasSlot || !a.unproved(n, cs.Addr) {
				continue
			}
			// A target read from memory (a struct's member, a table) is no
			// parameter: only a register the code right before the call
			// does not explain, or a slot of the frame it was kept in,
			// can be one (the data flow then decides).
			if v := cs.From; v == nil || !(v.Kind == frame.ValueReg || frameSlotLoad(v)) || v.Off != 0 || v.Indexed {
				continue
			}
			sites = append(sites, argSite{id, cs})
		}
	}
	if len(sites) == 0 {
		return
	}
	a.indexCallers()
	failing := map[int]bool{} // by function: failsAtOnce, asked once (it reads the module's jumps into code)
	var ids []int
	for _, s := range sites {
		if _, asked := failing[s.id]; !asked {
			failing[s.id] = a.failsAtOnce(s.id)
		}
		if !failing[s.id] {
			ids = append(ids, s.id)
		}
	}
	a.prepareFlows(ids)
	a.prepareFlows(a.firstCallers(sites, failing))
	var linked []argSite
	var linkedKeys []argKey
	for _, s := range sites {
		if failing[s.id] {
			continue // (targets would fail before reading a flow)
		}
		reg, ok := a.targetParam(s.id, s.cs.Addr)
		if !ok {
			continue
		}
		r := a.targets(argKey{s.id, reg})
		if !r.ok {
			continue
		}
		n := g.Nodes[s.id]
		site := s.cs.Addr
		n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == site })
		n.Assumed = slices.DeleteFunc(n.Assumed, func(as Assumption) bool { return as.Site == site })
		n.Unresolved = slices.DeleteFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site })
		for _, t := range r.targets {
			g.addEdge(s.id, t, s.cs, MethodArgument)
		}
		linked, linkedKeys = append(linked, s), append(linkedKeys, argKey{s.id, reg})
	}
	g.resolvePending() // the PLT stubs passed as constants
	g.specialiseArgumentCallbacks(a, linked, linkedKeys)
}

type argSite struct {
	id int
	cs frame.CallSite
}

type argKey struct {
	id  int
	reg int8
}

type argResult struct {
	targets []int
	ok      bool
}

// callerEdge is one call indexCallers found: its caller, its site, and
// whether it is a plain call (direct, through the PLT or a GOT slot), the
// only kind the model follows. No pointer and 16 bytes, not the whole
// Edge (64 bytes and its method's string): made for every edge of the
// graph up to three times per program, the index's writes and the collector's
// scan of them were most of its time (node's profile, issue 19).
type callerEdge struct {
	from  int32
	plain bool
	site  uint64
}

// plainCall says whether an edge is a direct call, a PLT call or a call
// through a GOT slot.
func plainCall(e *Edge) bool {
	return e.Method == MethodDirect || e.Method == MethodPLT || e.Method == MethodGOT
}

type argModel struct {
	g       *Graph
	flows   map[int]*argFlow
	imports map[*Module]map[string]bool
	// callers holds the calls of each node, grouped by callee (see
	// callsOf); callerEnd[id] is where id's group ends.
	callers   []callerEdge
	callerEnd []int32
	byHub     []bool       // nodes some hub's edge reaches (see reachedByHub)
	index     *callerIndex // the arrays of the three above (release)
	done      map[argKey]argResult
	// undefined are, per module, the names it imports (importedBy).
	undefined map[*Module]map[string]bool
	// refs index, per module, its nodes' references (refersTo).
	refs map[*Module]*refIndex
}

// refIndex maps the addresses a module's function nodes refer to
// (Frame.Refs) to those nodes, made when the module had nodes nodes.
type refIndex struct {
	nodes int
	by    map[uint64][]int32
}

// refersTo is g.refersTo(m, []uint64{addr}): whether a function of m
// other than the one at addr refers to addr, or m's address-taken set
// holds it. From an index of m's references made once per model (and
// again when m has gained nodes): g.refersTo reads every node of the
// module at each question, 0.05 s of node's models (issue 19). The
// nodes' frames do not change while a model asks: a node's frame is
// final when nodeFor returns it.
func (a *argModel) refersTo(m *Module, addr uint64) bool {
	g := a.g
	if a.refs == nil {
		a.refs = map[*Module]*refIndex{}
	}
	idx := a.refs[m]
	if idx == nil || idx.nodes != m.nodes.len() {
		idx = &refIndex{nodes: m.nodes.len(), by: map[uint64][]int32{}}
		for id := range m.nodes.all() {
			for _, r := range g.Nodes[id].Frame.Refs {
				idx.by[r] = append(idx.by[r], int32(id))
			}
		}
		a.refs[m] = idx
	}
	for _, id := range idx.by[addr] {
		if g.Nodes[id].Func.Addr != addr {
			return true
		}
	}
	return slices.Contains(m.File.AddressTaken(), addr)
}

// unproved says whether node n's indirect call at site goes to an
// assumed set or nowhere known: a call the model may narrow.
func (a *argModel) unproved(n *Node, site uint64) bool {
	if slices.ContainsFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site }) ||
		slices.ContainsFunc(n.Assumed, func(as Assumption) bool { return as.Site == site }) {
		return true
	}
	return false
}

// callersInGraph says whether the graph holds every function that could
// call node id's function: all of its module's, and, when it is
// exported, all of each module's that imports it. The model does not
// complete a module itself (computing every function's frame of each
// library a big program loads doubled its memory): it applies where the
// address-taken set already did (takenHub), as in libc and ld.so.
func (a *argModel) callersInGraph(id int) bool {
	g := a.g
	n := g.Nodes[id]
	mods := []*Module{n.Module}
	if n.Func != nil && n.Func.Exported {
		names := append([]string{n.Func.Name(), n.Func.LinkName}, n.Func.Aliases...)
		for _, m := range g.Modules {
			if m != n.Module && slices.ContainsFunc(names, a.importedBy(m)) {
				mods = append(mods, m)
			}
		}
	}
	for _, m := range mods {
		if m.nodes.len() < len(m.File.Functions) {
			return false
		}
	}
	return true
}

// importedBy returns a test of whether module m imports a name (an
// undefined dynamic symbol), reading m's symbols once.
func (a *argModel) importedBy(m *Module) func(string) bool {
	imp, ok := a.undefined[m]
	if !ok {
		imp = map[string]bool{}
		dyn, _ := m.File.DynamicSymbols()
		for _, s := range dyn {
			if s.Section == elf.SHN_UNDEF {
				name, _, _ := strings.Cut(s.Name, "@")
				imp[name] = true
			}
		}
		a.undefined[m] = imp
	}
	return func(name string) bool { return imp[name] }
}

// indexCallers indexes each node's calls by callee. A hub's edges (the
// address-taken set and its narrowed subsets, thousands of edges each)
// are kept as a mark only: a function a hub reaches fails the model.
// One array grouped by callee, not a map of slices: made up to three times per
// program over all of its edges, the map was 3% of node's analysis
// (profile, issue 19). The calls of each callee stay in the order of
// their callers' ids and edges.
//
// The nodes are shared out among the cores in runs of ids: each worker
// counts, then places, the edges of its run, after those of the runs
// before it (the same array as one sequential pass). The index cannot be
// brought up to date from the last model's instead: between two models
// the graph loses and rewrites edges (on node, 131 and 129 nodes' edges
// changed other than by additions, 23 of them hubs), at some forty
// places that keep no record of it.
func (a *argModel) indexCallers() {
	g := a.g
	n := len(g.Nodes)
	workers := max(min(g.sweepWorkers(), n/1024), 1)
	run := func(w int) (int, int) { return w * n / workers, (w + 1) * n / workers }
	idx := g.takeCallerIndex(n, workers)
	a.index = idx
	counts, byHub := idx.counts, idx.hubs
	hubsOf := make([][]*Node, workers)
	parallel(workers, func(w int) {
		cnt := counts[w]
		lo, hi := run(w)
		for _, nd := range g.Nodes[lo:hi] {
			if nd.Hub {
				hubsOf[w] = append(hubsOf[w], nd)
				continue
			}
			for i := range nd.Edges {
				cnt[nd.Edges[i].To]++
			}
		}
	})
	// Each callee's group, each run's part of it in the runs' order:
	// counts[w][t] becomes where run w places its first call of t.
	end := idx.end
	total := int32(0)
	for t := range end {
		for w := range workers {
			c := counts[w][t]
			counts[w][t] = total
			total += c
		}
		end[t] = total
	}
	idx.callers = grown(idx.callers, int(total))
	a.callers = idx.callers
	hubs := hubEdges{nodes: slices.Concat(hubsOf...)}
	for _, hub := range hubs.nodes {
		hubs.total += len(hub.Edges)
	}
	parallel(workers, func(w int) {
		at := counts[w]
		lo, hi := run(w)
		for id := lo; id < hi; id++ {
			nd := g.Nodes[id]
			if nd.Hub {
				continue
			}
			for i := range nd.Edges {
				e := &nd.Edges[i]
				a.callers[at[e.To]] = callerEdge{from: int32(id), plain: plainCall(e), site: e.Site}
				at[e.To]++
			}
		}
		hubs.mark(byHub[w], w*hubs.total/workers, (w+1)*hubs.total/workers)
	})
	a.byHub = byHub[0]
	for _, reached := range byHub[1:workers] {
		for t, r := range reached {
			if r {
				a.byHub[t] = true
			}
		}
	}
	a.callerEnd = end
}

// hubEdges are the hubs' edges for indexCallers' marks, read after the
// calls are placed and shared out evenly among the workers: on node all
// 248 hubs (1.08 million edges, 35 MB) have ids in the last half, and
// read in the count, between it and the placement, they pushed the 0.61
// million calls' edges (19 MB) out of the cache the placement read them
// from again (issue 19).
type hubEdges struct {
	nodes []*Node
	total int // their edges
}

// mark sets reached[t] for the target t of each of the hubs' edges lo
// to hi-1, counted across the hubs in order.
func (h hubEdges) mark(reached []bool, lo, hi int) {
	at := 0
	for _, hub := range h.nodes {
		from, to := max(lo-at, 0), min(hi-at, len(hub.Edges))
		for i := from; i < to; i++ {
			reached[hub.Edges[i].To] = true
		}
		at += len(hub.Edges)
		if at >= hi {
			return
		}
	}
}

// callerIndex holds the arrays of one argModel's caller index
// (indexCallers), kept by the graph between models: the index is made
// up to three times per program (linkArgumentCallbacks, the TSD destructors,
// ld.so's setter), over every edge of the graph each time, after the
// heap's last collection on node, so each fresh copy was 10 MB more of
// peak heap (29 MB in all, profile, issue 19). A model gives the arrays
// back when it is done with them (argModel.release) and the next one
// clears and reuses them.
type callerIndex struct {
	callers []callerEdge
	end     []int32
	counts  [][]int32 // per worker: its calls of each callee, then where it places them
	hubs    [][]bool  // per worker: the callees a hub's edge reaches
}

// takeCallerIndex returns arrays for an index of n nodes made by
// workers workers, zeroed: the graph's spare ones when it has them, else
// new ones.
func (g *Graph) takeCallerIndex(n, workers int) *callerIndex {
	g.spareIndexMu.Lock()
	idx := g.spareIndex
	g.spareIndex = nil
	g.spareIndexMu.Unlock()
	if idx == nil {
		idx = &callerIndex{}
	}
	idx.end = grown(idx.end, n)
	idx.counts = grown(idx.counts, workers)
	idx.hubs = grown(idx.hubs, workers)
	for w := range workers {
		idx.counts[w] = zeroed(idx.counts[w], n)
		idx.hubs[w] = zeroed(idx.hubs[w], n)
	}
	return idx
}

// release gives a's caller index back to the graph for the next model.
// a must not be asked about callers after it.
func (a *argModel) release() {
	if a.index == nil {
		return
	}
	a.g.spareIndexMu.Lock()
	a.g.spareIndex = a.index
	a.g.spareIndexMu.Unlock()
	a.index, a.callers, a.callerEnd, a.byHub = nil, nil, nil, nil
}

// grown is s at length n: its own array when that holds n, else a new
// one with an eighth more room, since the models between two indexes
// add nodes and edges (on node the second and third index are 0.1-1%
// larger than the first). The elements are not cleared.
func grown[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/8)
}

// zeroed is grown(s, n) with every element zero.
func zeroed[T any](s []T, n int) []T {
	s = grown(s, n)
	clear(s)
	return s
}

// parallel runs do(0) ... do(workers-1), each on a goroutine of its own
// (do(0) on the caller's when there is one worker), and returns when all
// are done.
func parallel(workers int, do func(w int)) {
	if workers == 1 {
		do(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(w)
		}()
	}
	wg.Wait()
}

// callsOf returns the calls of node id that indexCallers found (none
// for a node made since).
func (a *argModel) callsOf(id int) []callerEdge {
	if id < 0 || id >= len(a.callerEnd) {
		return nil
	}
	lo := int32(0)
	if id > 0 {
		lo = a.callerEnd[id-1]
	}
	hi := a.callerEnd[id]
	return a.callers[lo:hi:hi]
}

// reachedByHub says whether some hub's edge reached node id when
// indexCallers ran.
func (a *argModel) reachedByHub(id int) bool {
	return id >= 0 && id < len(a.byHub) && a.byHub[id]
}

// targetParam returns the parameter register whose entry value node id's
// indirect call at site goes to, on every path.
func (a *argModel) targetParam(id int, site uint64) (int8, bool) {
	fl, ok := a.flow(id)
	if !ok {
		return 0, false
	}
	i, ok := fl.at[site]
	if !ok || fl.state[i] == nil || !fl.insts[i].e.HasCallReg || fl.insts[i].e.HasMem {
		return 0, false
	}
	v := fl.state[i][fl.insts[i].e.CallReg&15]
	if v.kind != valEntry || !slices.Contains(argRegs, v.reg) {
		return 0, false
	}
	return v.reg, true
}

// failsAtOnce says whether targets fails for every register of node
// id, before it reads a flow, for a reason that holds for the rest of
// the model: a hub reaches id (the index is fixed when it is made), a
// direct call the graph does not hold reaches it (the decode and the
// index are fixed), or it is entered other than by calls (the model only
// adds nodes, whose references and jumps into code only add reasons).
// linkArgumentCallbacks then skips its sites before their flows: 86 of
// the 447 functions with such a site on node, a fifth of the flows
// prepareFlows made (issue 19).
func (a *argModel) failsAtOnce(id int) bool {
	return a.reachedByHub(id) || !a.enteredOnlyByCalls(id) || !a.callersKnown(id)
}

// failsUnindexed says whether targets fails at once for node id, for
// every register, by a test that needs no caller index: the graph does
// not hold every caller, or the function is entered other than by calls.
// A model with a single starting node asks it before making the index:
// the index reads every edge of the graph (12 ms of CPU on node), and
// node's TSD model (tsdOrigins) fails this way (__pthread_key_create
// is entered other than by calls; issue 19).
func (a *argModel) failsUnindexed(id int) bool {
	return !a.callersInGraph(id) || !a.enteredOnlyByCalls(id)
}

// firstCallers returns the callers whose flows targets reads first for
// the sites' keys: those of each site's function that passes the tests
// targets makes (failing holds failsAtOnce of each), up to its first
// call that is not plain (where targets fails). Their flows are then made on every core (prepareFlows), not
// one after the other on the model's: 91 functions on node, 82 of them
// read, and 13 flows left to make one at a time instead of 95 (issue
// 19). A key's further callers (a parameter passed on) are not guessed.
func (a *argModel) firstCallers(sites []argSite, failing map[int]bool) []int {
	var out []int
	listed := map[int]bool{} // callers
	asked := map[int]bool{}  // sites' functions whose callers are listed
	for _, s := range sites {
		if asked[s.id] || failing[s.id] || !a.callersInGraph(s.id) {
			continue
		}
		if _, ok := a.targetParam(s.id, s.cs.Addr); !ok {
			continue
		}
		asked[s.id] = true
		for _, c := range a.callsOf(s.id) {
			if !c.plain {
				break
			}
			if from := int(c.from); !listed[from] {
				listed[from] = true
				out = append(out, from)
			}
		}
	}
	return out
}

// targets returns the functions the callers of key.id pass in register
// key.reg, following callers that pass their own parameter on.
func (a *argModel) targets(key argKey) argResult {
	if r, ok := a.done[key]; ok {
		return r
	}
	seen := map[argKey]bool{key: true}
	queue := []argKey{key}
	var out []int
	fail := func() argResult {
		a.done[key] = argResult{}
		return argResult{}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if a.reachedByHub(k.id) || !a.callersInGraph(k.id) || !a.enteredOnlyByCalls(k.id) || !a.callersKnown(k.id) {
			return fail()
		}
		for _, c := range a.callsOf(k.id) {
			if !c.plain {
				return fail()
			}
			from := int(c.from)
			v, ok := a.valueAt(from, c.site, k.reg)
			if !ok {
				return fail()
			}
			switch v.kind {
			case valConst:
				if v.c == 0 {
					continue // a null callback: the function tests it
				}
				t, ok := a.function(a.g.Nodes[from].Module, v.c)
				if !ok {
					return fail()
				}
				out = append(out, t)
			case valEntry:
				if !slices.Contains(argRegs, v.reg) {
					return fail()
				}
				nk := argKey{from, v.reg}
				if !seen[nk] {
					seen[nk] = true
					queue = append(queue, nk)
				}
			default:
				return fail()
			}
		}
	}
	sort.Ints(out)
	r := argResult{targets: slices.Compact(out), ok: true}
	a.done[key] = r
	return r
}

// callersKnown says whether every direct call or jump to node id's
// function that a linear decode of its module's functions finds is a
// caller edge of the graph: a function whose walk stopped early (an
// unknown frame) lists no calls past that point, and a caller the graph
// does not hold would pass a callback the model does not see.
func (a *argModel) callersKnown(id int) bool {
	n := a.g.Nodes[id]
	sites := a.g.directCallSites(n.Module)
	known := map[uint64]bool{}
	for _, c := range a.callsOf(id) {
		known[c.site] = true
	}
	for _, s := range sites[n.Func.Addr] {
		if !known[s] {
			return false
		}
	}
	return true
}

// function returns the node of the function that starts at addr in m:
// one of its functions, or a PLT stub (a pointer to an imported function,
// or to an ifunc's implementation through an IRELATIVE slot: strcmp
// passed to tfind), which calls what its slot holds.
func (a *argModel) function(m *Module, addr uint64) (int, bool) {
	if fi, ok := m.File.FunctionIndex(addr); ok {
		return a.g.nodeFor(m, fi), true
	}
	if m.File.InPLT(addr) {
		return a.g.pltNode(m, addr)
	}
	return 0, false
}

// enteredOnlyByCalls says whether node id's function is entered only at
// its start by the calls the graph holds: its address is taken nowhere,
// and no other code jumps into it.
func (a *argModel) enteredOnlyByCalls(id int) bool {
	g := a.g
	n := g.Nodes[id]
	if n.Func == nil || n.Module == nil || n.Func.Source == "jump-target" {
		return false
	}
	m := n.Module
	if a.refersTo(m, n.Func.Addr) {
		return false
	}
	for addr := range m.code {
		if addr > n.Func.Addr && addr < n.Func.Addr+n.Func.Size {
			return false
		}
	}
	if !n.Func.Exported {
		return true
	}
	names := append([]string{n.Func.Name(), n.Func.LinkName}, n.Func.Aliases...)
	for _, other := range g.Modules {
		if other == m {
			continue
		}
		imp, ok := a.imports[other]
		if !ok {
			imp, ok = other.File.AddressImports()
			if !ok {
				return false
			}
			a.imports[other] = imp
		}
		for _, name := range names {
			if imp[name] {
				return false
			}
		}
	}
	return true
}

// valueAt returns what node id holds in register reg right before its
// instruction at site.
func (a *argModel) valueAt(id int, site uint64, reg int8) (regVal, bool) {
	fl, ok := a.flow(id)
	if !ok {
		return regVal{}, false
	}
	i, ok := fl.at[site]
	if !ok || fl.state[i] == nil {
		return regVal{}, false
	}
	return fl.state[i][reg&15], true
}

// flow computes, once per node, the registers' values before each
// instruction: a forward data flow from the function's entry over its
// direct branches, joining paths by keeping what they agree on.
func (a *argModel) flow(id int) (*argFlow, bool) {
	if fl, ok := a.flows[id]; ok {
		return fl, fl != nil
	}
	a.flows[id] = nil
	fl := a.keptFlow(id)
	a.flows[id] = fl
	return fl, fl != nil
}

// keptFlow is node id's flow as flow keeps it, nil when it has none.
// It writes nothing of the model's: the flows of several nodes may be
// computed at once (prepareFlows). A flow reads the node's function, its
// frame's tail calls and --strict alone (decodeLinear, solve), so in a
// run over several programs it is made once per file and linearKeyOf and
// shared by them (argshared.go): it is never changed.
func (a *argModel) keptFlow(id int) *argFlow {
	n := a.g.Nodes[id]
	if n.Func == nil || n.Module == nil {
		return nil
	}
	return derived(a.g, n.Module.File, a.g.linearKeyOf(derivedKeptFlow, n), func() *argFlow {
		return a.keptFlowNow(id)
	})
}

// keptFlowNow is keptFlow's answer, made now.
func (a *argModel) keptFlowNow(id int) *argFlow {
	fl, ok, done := a.passingFlow(id)
	defer done()
	if !ok {
		return nil
	}
	// Keep the states where a caller's argument or a call's target is
	// read (calls and jumps): a whole function's states cost 400 bytes an
	// instruction, too much to keep for every function of a big program.
	// Copied, counted first, into lists of their size: the full flow's
	// states are a scratch.
	keptAt := func(i int) bool {
		if fl.state[i] == nil {
			return false
		}
		switch fl.insts[i].e.Flow {
		case isa.FlowCall, isa.FlowIndirectCall, isa.FlowJump, isa.FlowIndirectJump:
			return true
		}
		return false
	}
	count := 0
	for i := range fl.insts {
		if keptAt(i) {
			count++
		}
	}
	kept := &argFlow{at: make(map[uint64]int, count), insts: make([]linearInst, 0, count), state: make([]*regState, 0, count)}
	states := make([]regState, count)
	for i, in := range fl.insts {
		if keptAt(i) {
			k := len(kept.insts)
			kept.at[in.addr] = k
			kept.insts = append(kept.insts, in)
			states[k] = *fl.state[i]
			kept.state = append(kept.state, &states[k])
		}
	}
	return kept
}

// prepareFlows computes the flows of nodes ids that flow has not, on
// every core, and keeps them as flow does: the model then asks for each
// (linkArgumentCallbacks: one per function with a call through a
// parameter, 0.07 s of node's models one after the other, issue 19). A
// flow depends on the function's code and its frame's calls alone, which
// the model does not change.
func (a *argModel) prepareFlows(ids []int) {
	var todo []int
	for _, id := range ids {
		if _, ok := a.flows[id]; !ok {
			a.flows[id] = nil // (the place taken: listed once)
			todo = append(todo, id)
		}
	}
	out := make([]*argFlow, len(todo))
	var next atomic.Int64
	parallel(max(min(a.g.sweepWorkers(), len(todo)), 1), func(int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(todo) {
				return
			}
			out[i] = a.keptFlow(todo[i])
		}
	})
	for i, id := range todo {
		a.flows[id] = out[i]
	}
}

// fullFlow computes node id's data flow with the state before every
// instruction (nil where none reaches), not kept.
func (a *argModel) fullFlow(id int) (*argFlow, bool) {
	n := a.g.Nodes[id]
	insts, from, ok := a.g.decodeLinear(n.Module, n)
	return a.flowOver(id, insts, from, ok, nil)
}

// passingFlow is fullFlow for a flow used only until done is called
// (keptFlowNow keeps a few of its states): the function is decoded into
// a scratch list, not copied to be kept with the graph's recent answers
// (decodeLinear), unless it is one of them already. The decodes the flows
// of linkArgumentCallbacks' 540 functions kept were 13 MB of node's
// allocation after its last collection, and the next questions (about
// other functions) soon replaced them (profile, issue 19). In a run over
// several programs, where decodes are shared by the file, it is fullFlow.
func (a *argModel) passingFlow(id int) (fl *argFlow, ok bool, done func()) {
	g := a.g
	n := g.Nodes[id]
	states := stateScratch.Get().(*[]regState)
	if g.opts.Libraries.Shares() || !keepRecentAnswers || n.Func == nil {
		insts, from, ok := g.decodeLinear(n.Module, n)
		fl, ok = a.flowOver(id, insts, from, ok, states)
		return fl, ok, func() { stateScratch.Put(states) }
	}
	if v, kept := g.recent.get(n.Module.File, g.linearKeyOf(derivedLinear, n)); kept {
		d := v.(linearDecode)
		fl, ok = a.flowOver(id, d.insts, d.from, d.ok, states)
		return fl, ok, func() { stateScratch.Put(states) }
	}
	scratch := linearScratch.Get().(*[]linearInst)
	insts, from, ok := g.decodeLinearInto(n.Module, n, scratch)
	fl, ok = a.flowOver(id, insts, from, ok, states)
	return fl, ok, func() { linearScratch.Put(scratch); stateScratch.Put(states) }
}

// stateScratch holds passing flows' state lists (*[]regState), one per
// goroutine making a flow at a time. solve made each instruction's state
// on its own, 16 MB on node after its last collection, of which
// keptFlowNow keeps the calls' and jumps'.
var stateScratch = sync.Pool{New: func() any { return new([]regState) }}

// flowOver is fullFlow over node id's decode (decodeLinear's answer),
// its states in *states (grown as needed) when states is not nil.
func (a *argModel) flowOver(id int, insts []linearInst, from map[uint64][]uint64, ok bool, states *[]regState) (*argFlow, bool) {
	g := a.g
	n := g.Nodes[id]
	if !ok || len(insts) == 0 {
		return nil, false
	}
	tables := jumpTableSuccessors(insts, from)
	code, err := n.Module.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return nil, false
	}
	rw := g.Decoder.(isa.RegWriter)
	fl := &argFlow{insts: insts, at: make(map[uint64]int, len(insts)), state: make([]*regState, len(insts))}
	if states != nil {
		*states = grown(*states, len(insts)) // (solve writes each state before reading it)
		fl.states = *states
	}
	for i, in := range insts {
		fl.at[in.addr] = i
	}
	masks := make([]uint32, len(insts))
	for i, in := range insts {
		masks[i] = rw.MayWrite(code[in.addr-n.Func.Addr:], in.addr)
	}
	// Values kept in the frame (argslots.go): a first pass follows the
	// registers alone, SP and a frame pointer as frame addresses, to learn
	// whether a frame address leaks and which words the function writes;
	// a second follows the slots too.
	fs, slotted := scanFrame(insts, code, n.Func.Addr)
	if !fl.solve(n, masks, tables, fs, false) {
		return nil, false
	}
	if slotted {
		leak := false
		for i, in := range insts {
			if fl.state[i] == nil {
				continue
			}
			if fs.record(i, fl.state[i]) {
				leak = true
				break
			}
			if in.e.SP == isa.SPAdd && in.e.SPDelta < 0 && in.e.Flow != isa.FlowCall && in.e.Flow != isa.FlowIndirectCall && !fs.movesOnly(i) {
				fs.recordPush(fl.state[i][regSP], spAfter(&in.e, fl.state[i]))
			}
		}
		if !leak {
			clear(fl.state)
			if !fl.solve(n, masks, tables, fs, true) {
				return nil, false
			}
		}
	}
	return fl, true
}

// newState is a copy of s as instruction i's state: in fl.states when fl
// has them, else on its own.
func (fl *argFlow) newState(i int, s *regState) *regState {
	if fl.states != nil {
		fl.states[i] = *s
		return &fl.states[i]
	}
	c := *s
	return &c
}

// solve runs the data flow over fl's instructions from the function's
// entry (masks: the registers each may write), fs the frame's operands
// (nil: none), slots whether to follow values through the frame's slots.
// It is false where a branch goes into the middle of an instruction.
func (fl *argFlow) solve(n *Node, masks []uint32, tables map[uint64][]int, fs *frameScan, slots bool) bool {
	insts := fl.insts
	var entry regState
	for r := range entry {
		entry[r] = regVal{kind: valEntry, reg: int8(r)}
	}
	if fs != nil {
		entry[regSP] = regVal{kind: valStack}
	}
	var slotState []slotSet
	if slots {
		slotState = make([]slotSet, len(insts))
	}
	fl.state[0] = fl.newState(0, &entry)
	work := []int{0}
	merge := func(j int, s *regState, ss slotSet) {
		if fl.state[j] == nil {
			fl.state[j] = fl.newState(j, s)
			if slots {
				slotState[j] = ss
			}
			work = append(work, j)
			return
		}
		changed := false
		for r := range s {
			if fl.state[j][r] != s[r] && fl.state[j][r].kind != valUnknown {
				fl.state[j][r] = regVal{}
				changed = true
			}
		}
		if slots {
			var lost bool
			if slotState[j], lost = slotState[j].meet(ss); lost {
				changed = true
			}
		}
		if changed {
			work = append(work, j)
		}
	}
	end := n.Func.Addr + n.Func.Size
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		in := insts[i]
		out := *fl.state[i]
		mask := masks[i]
		e := in.e
		var def regVal
		switch e.DefKind {
		case isa.DefConst, isa.DefAddr:
			def = regVal{kind: valConst, c: uint64(e.DefValue)}
		case isa.DefCopy:
			if e.DefValue != 32 && e.DefSrc >= 0 && e.DefSrc < 16 {
				def = out[e.DefSrc]
			}
		case isa.DefLoad:
			if e.HasMem && e.MemBase == -1 && e.MemIndex < 0 {
				def = regVal{kind: valLoad, c: uint64(e.MemDisp)}
			}
		}
		for r := range out {
			if mask&(1<<r) != 0 {
				out[r] = regVal{}
			}
		}
		if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 {
			out[e.DefReg] = def
		}
		if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
			for r := range out {
				if callerSaved&(1<<r) != 0 {
					out[r] = regVal{}
				}
			}
		}
		var outSlots slotSet
		if fs != nil {
			var inSlots slotSet
			if slots {
				inSlots = slotState[i]
			}
			outSlots = fs.step(i, &e, fl.state[i], &out, inSlots)
		}
		next := func() {
			if i+1 < len(insts) {
				merge(i+1, &out, outSlots)
			}
		}
		switch e.Flow {
		case isa.FlowNext, isa.FlowCall, isa.FlowIndirectCall:
			next()
		case isa.FlowCondJump:
			next()
			fallthrough
		case isa.FlowJump:
			if e.HasTarget && e.Target >= n.Func.Addr && e.Target < end {
				j, ok := fl.at[e.Target]
				if !ok {
					return false // into the middle of an instruction
				}
				merge(j, &out, outSlots)
			}
		case isa.FlowIndirectJump:
			for _, j := range tables[in.addr] {
				merge(j, &out, outSlots)
			}
		}
	}
	return true
}

// jumpTableSuccessors maps each indirect jump of a decodeLinear decode
// to the instructions it lands on (the jump tables decodeLinear read:
// their sources in from are indirect jumps).
func jumpTableSuccessors(insts []linearInst, from map[uint64][]uint64) map[uint64][]int {
	at := make(map[uint64]int, len(insts))
	jumps := map[uint64]bool{}
	for i, in := range insts {
		at[in.addr] = i
		if in.e.Flow == isa.FlowIndirectJump {
			jumps[in.addr] = true
		}
	}
	succ := map[uint64][]int{}
	for t, srcs := range from {
		for _, src := range srcs {
			if j, ok := at[t]; ok && jumps[src] {
				succ[src] = append(succ[src], j)
			}
		}
	}
	return succ
}
