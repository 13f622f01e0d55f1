package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// Annotation names the targets of indirect calls, from stackscope.toml.
type Annotation struct {
	Function string
	Site     uint64 // 0: every indirect call of Function
	Targets  []string
}

// Assumption records an indirect call resolved by assumption rather than
// proof: its edges go to every function whose address the program takes,
// or to the part of that set the call's code and types narrow it to.
type Assumption struct {
	Site    uint64
	Targets int
	// Method is MethodAddressTaken, MethodPrototype, MethodVtableSlot or
	// MethodVtableTyped.
	Method Method
	// Detail says what was assumed, for reports: "assumed: 2 functions
	// with prototype int (*)(int, char *)".
	Detail string
}

// resolveIndirect gives the node's unresolved indirect calls targets: the
// annotated ones first, then (unless Strict) the address-taken set, as
// assumed edges. What stays unresolved stays a reason.
func (g *Graph) resolveIndirect(id int) {
	n := g.Nodes[id]
	if len(n.Unresolved) == 0 {
		return
	}
	var still []frame.CallSite
	for _, cs := range n.Unresolved {
		if g.linkAnnotated(id, cs) {
			continue
		}
		if g.callsInitArrays(n) && g.linkInitArrays(id, cs) {
			continue
		}
		if g.linkOwnersTable(id, cs) {
			continue // proved: also with --strict
		}
		if !g.opts.Strict && g.rtldMutex(id, cs) {
			continue // glibc's source: an assumption, not with --strict
		}
		if g.Arch == binfile.ArchThumb && isConstant(cs.From) {
			// A constant that starts no function (see linkConstant):
			// the target is known and is not a function; no set of
			// functions stands for it.
			still = append(still, cs)
			continue
		}
		if g.libioVtable(id, cs) {
			continue // proved: also with --strict
		}
		if g.opts.Strict || g.ifuncUnproved[ifuncSite{id, cs.Addr}] != "" {
			still = append(still, cs)
			continue
		}
		if nw, method, ok := g.narrow(id, cs); ok {
			g.addEdge(id, nw.hub, cs, method)
			n.Assumed = append(n.Assumed, Assumption{Site: cs.Addr, Targets: nw.count, Method: method, Detail: nw.detail})
			continue
		}
		hub, count := g.takenHub(n.Module)
		if count == 0 {
			still = append(still, cs)
			continue
		}
		g.addEdge(id, hub, cs, MethodAddressTaken)
		n.Assumed = append(n.Assumed, Assumption{Site: cs.Addr, Targets: count, Method: MethodAddressTaken, Detail: takenDetail(n.Module)})
	}
	n.Unresolved = still
}

// takenDetail is the Detail of an assumption of m's address-taken set
// (its hub made), formatted once per module: once per call it was a
// string made at each of node's thousands of calls through pointers.
func takenDetail(m *Module) string {
	if m.hubDetail == "" {
		m.hubDetail = fmt.Sprintf("assumed: address-taken set of %d functions", m.hubCount)
	}
	return m.hubDetail
}

// initArrayCallers are the runtime functions that call the constructors and
// destructors listed in the init and fini arrays through pointers.
var initArrayCallers = map[string]bool{
	"__libc_init_array": true, "__libc_fini_array": true, "__libc_csu_init": true,
	"call_init": true, "_dl_init": true, "_dl_fini": true, "_dl_call_fini": true, "__do_global_ctors_aux": true, "__do_global_dtors_aux": true,
}

// callsInitArrays says whether node n is one of initArrayCallers, whose
// indirect calls are the init and fini functions. ld.so's _dl_fini is one
// only when its module has no _dl_call_fini: glibc 2.37 (and Debian's
// 2.36, which took the change) moved the calls of DT_FINI_ARRAY and
// DT_FINI into _dl_call_fini, and _dl_fini's own indirect calls are then
// the loader's lock hooks (GL(dl_rtld_lock_recursive) and its unlock),
// not destructors: linking them to the destructors would miss their real
// targets.
func (g *Graph) callsInitArrays(n *Node) bool {
	if !initArrayCallers[n.CName()] { // (C names)
		return false
	}
	if n.Name() == "_dl_fini" && n.Module != nil {
		if _, split := n.Module.File.Lookup("_dl_call_fini"); split {
			return false
		}
	}
	return true
}

// linkInitArrays links a runtime indirect call to the init/fini arrays'
// functions: the calls these loops make are exactly those.
//
// In a shared library (ld.so's _dl_init, call_init and _dl_fini; libc's
// call_init; musl's libc.so) the loop runs over every loaded module's
// arrays, and ld.so also calls each module's DT_INIT and DT_FINI
// functions: all of them are linked, not just the library's own (the
// names come from the library's debug file, see binfile.DebugRoots).
// (musl's __libc_start_init and __libc_exit_fini are not listed: a static
// musl program's crtbegin then reaches its `call 0` to a weak function
// the link left undefined, a reason of its own; left for later.)
func (g *Graph) linkInitArrays(id int, cs frame.CallSite) bool {
	m := g.Nodes[id].Module
	mods := []*Module{m}
	if m != g.Modules[0] {
		mods = g.Modules
	}
	linked := false
	for _, mod := range mods {
		addrs := mod.File.InitArrays()
		if m != g.Modules[0] {
			for _, tag := range []elf.DynTag{elf.DT_INIT, elf.DT_FINI} {
				if v, err := mod.File.ELF.DynValue(tag); err == nil && len(v) > 0 {
					addrs = append(addrs, v[0])
				}
			}
		}
		for _, addr := range addrs {
			if fi, ok := mod.File.FunctionIndex(addr); ok {
				g.addEdge(id, g.nodeFor(mod, fi), cs, MethodInitArray)
				linked = true
			}
		}
	}
	if !linked && len(g.Modules) == 1 && m.File.EmptyInitArrays() {
		// A static image whose init, fini and preinit arrays are empty
		// (no section of them, and the linker's bounding symbols equal):
		// the loops in __libc_init_array and its kin run zero times
		// (picolibc and newlib firmware with no constructors), so the
		// call is never made. It goes to a node
		// with no code, so that it is resolved, not a reason.
		g.addEdge(id, g.emptyInitArrays(m), cs, MethodInitArray)
		linked = true
	}
	return linked
}

// emptyInitArrays is the node the calls of an empty init or fini loop go
// to: no code, no frame.
func (g *Graph) emptyInitArrays(m *Module) int {
	if g.emptyInit == 0 {
		g.Nodes = append(g.Nodes, &Node{Module: m, name: "[init and fini arrays: empty]", Frame: frame.Frame{Kind: frame.Static}, Summary: "init-array"})
		g.emptyInit = len(g.Nodes) // the index plus one
	}
	return g.emptyInit - 1
}

// linkAnnotated links a call site to the targets the configuration names.
func (g *Graph) linkAnnotated(id int, cs frame.CallSite) bool {
	n := g.Nodes[id]
	linked := false
	for _, a := range g.opts.Annotations {
		if !n.Named(a.Function) || (a.Site != 0 && a.Site != cs.Addr) {
			continue
		}
		for _, name := range a.Targets {
			to, ok := g.nodeByName(name)
			if !ok {
				to = g.external(name)
			}
			g.addEdge(id, to, cs, MethodAnnotated)
			linked = true
		}
	}
	return linked
}

// nodeByName finds a function by name in the program, then the libraries.
func (g *Graph) nodeByName(name string) (int, bool) {
	for _, m := range g.Modules {
		if fn, ok := m.File.Lookup(name); ok {
			fi, _ := m.File.FunctionIndex(fn.Addr)
			return g.nodeFor(m, fi), true
		}
	}
	return 0, false
}

// runtimeEntries are called by the C runtime through pointers it is
// handed once; no program function calls them back. Keeping them out of
// the address-taken set stops every callback from looking like recursion
// through main.
var runtimeEntries = map[string]bool{"main": true, "_start": true, "_init": true, "_fini": true, "Reset_Handler": true}

// takenHub returns the node that stands for "any function whose address
// the module m or the program takes", creating it: the functions whose
// address appears in code (lea, literal pools: frame.Refs) or in data
// (pointer-sized words and relocations: binfile.AddressTaken). A callback
// the program passes into a library is thus a target of the library's
// indirect calls. Every assumed indirect call links to the hub, which links
// to the set once: a large program has thousands of indirect calls and
// thousands of such functions, and an edge for each pair would not fit in
// memory. count is the number of functions the hub stands for.
func (g *Graph) takenHub(m *Module) (hub, count int) {
	if m.hub >= 0 {
		return m.hub, m.hubCount
	}
	g.completeModule(m)
	refs := g.TakenAddresses(m, nil)
	// Made at the count of references (an upper bound but for the
	// vector table's handlers): grown, they were most of add's time.
	taken := make([]int, 0, len(refs))
	seen := make(map[int]bool, len(refs))
	add := func(fi int) {
		if runtimeEntries[m.File.Functions[fi].CName()] { // (C names)
			return
		}
		if id := g.nodeFor(m, fi); !seen[id] {
			seen[id] = true
			taken = append(taken, id)
		}
	}
	vectors := m.File.VectorWords()
	readsVectors := false
	for _, ref := range refs {
		if t, ok := m.File.FunctionIndex(ref); ok {
			add(t)
		} else if m.File.InPLT(ref) {
			// A stub's address: a non-PIE program's pointer to an
			// imported function (see pltNode).
			if id, ok := g.pltNode(m, ref); ok && !seen[id] {
				seen[id] = true
				taken = append(taken, id)
			}
		}
		// An address inside the vector table: code that may read
		// handlers out of it and call them. The table's own address
		// counts too (what startup code writes to VTOR is also a base
		// to index from): that costs precision, never soundness.
		readsVectors = readsVectors || (ref >= vectors.Begin && ref < vectors.End)
	}
	if readsVectors {
		for _, v := range m.File.VectorTable().Vectors {
			if t, ok := m.File.FunctionIndex(v.Handler); ok {
				add(t)
			}
		}
	}
	sort.Ints(taken)
	m.taken = taken
	count = len(taken)
	var programHub int
	if main := g.Modules[0]; m != main {
		var n int
		programHub, n = g.takenHub(main)
		count += n
	}
	hub = len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, Hub: true, name: fmt.Sprintf("[any of %d address-taken functions]", count),
		Frame: frame.Frame{Kind: frame.Static}, Edges: make([]Edge, 0, len(taken)+1+hubEdgeRoom)})
	for _, t := range taken {
		g.Nodes[hub].Edges = append(g.Nodes[hub].Edges, Edge{To: t, Kind: frame.Call, Method: MethodAddressTaken})
	}
	if m != g.Modules[0] && programHub >= 0 && count > len(taken) {
		g.Nodes[hub].Edges = append(g.Nodes[hub].Edges, Edge{To: programHub, Kind: frame.Call, Method: MethodAddressTaken})
	}
	m.hub, m.hubCount = hub, count
	g.linkLookupHub(hub) // (dlsym.go, once a lookup is reachable)
	return hub, count
}

// TakenAddresses returns the addresses module m's code and data take, in
// address order without duplicates: every address its code computes or
// loads as a constant (frame.Frame.Refs, except in the nodes skip names,
// when skip is not nil), the function pointers in its data sections
// (binfile.AddressTaken), and the literal-pool words that hold a
// function's address, except those only constant branches read (see
// branchOnlyWords). The address-taken set (takenHub) and the Cortex-M
// stack model's tasks (which code may run on the process stack) both
// start from it, so that they agree.
func (g *Graph) TakenAddresses(m *Module, skip func(id int) bool) []uint64 {
	g.completeModule(m)
	var out []uint64
	g.eachNode(m, func(id int, n *Node) {
		if skip == nil || !skip(id) {
			out = append(out, n.Frame.Refs...)
		}
	})
	out = append(out, m.File.AddressTaken()...)
	// (branchOnlyWords reads every node's literal loads: asked only of a
	// module with literal-pool words, which x86-64 code has none of.)
	if pool := m.File.PoolWords(); len(pool) > 0 {
		branchOnly := g.branchOnlyWords(m)
		for _, w := range pool {
			if !branchOnly[w.At] {
				out = append(out, w.Func)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// branchOnlyWords returns the literal-pool words of module m that hold a
// function's address and that no code reads but constant branches (ldr
// r3, =f; bx r3, which the graph links to f as a direct tail call: see
// frame.LiteralRead). Such a word is a branch target, not a function
// pointer that escapes: SVC_Handler's vPortSVCHandler_C (FreeRTOS
// ARM_CM0 and ARM_CM33 ports) is no task and no target of indirect
// calls. A word counts only when at least one branch reads it, every
// PC-relative load of its bytes in the module's walked code is such a
// branch's, and no address the code computes (adr, a literal's value)
// falls in its pool, from which code could read it some other way.
func (g *Graph) branchOnlyWords(m *Module) map[uint64]bool {
	branch := map[uint64]bool{}
	other := map[uint64]bool{} // words some other load reads (any byte)
	var computed []uint64
	g.eachNode(m, func(_ int, n *Node) {
		for _, r := range n.Frame.LiteralReads() {
			if r.Branch && !g.mayReceiveOwnAddress(m, r) {
				branch[r.Addr] = true
				continue
			}
			for a := r.Addr &^ 3; a < r.Addr+uint64(r.Size); a += 4 {
				other[a] = true
			}
		}
		computed = append(computed, n.Frame.Refs...)
	})
	if len(branch) == 0 {
		return nil
	}
	pools := m.File.DataInCode
	poolOf := func(a uint64) int {
		i := sort.Search(len(pools), func(i int) bool { return pools[i].End > a })
		if i < len(pools) && pools[i].Begin <= a {
			return i
		}
		return -1
	}
	reached := map[int]bool{}
	for _, a := range computed {
		if p := poolOf(a); p >= 0 {
			reached[p] = true
		}
	}
	out := map[uint64]bool{}
	for a := range branch {
		if !other[a] && a&3 == 0 {
			if p := poolOf(a); p >= 0 && !reached[p] {
				out[a] = true
			}
		}
	}
	return out
}

// mayReceiveOwnAddress says whether the function a branch literal names
// could get its own address as an argument: the branch's register is one
// of the AAPCS parameter registers r0-r3 and the callee's DWARF prototype
// does not show it takes fewer parameters than that (or there is none, or
// it is variadic). The callee could then store its own address: the word
// is no longer only a branch target.
func (g *Graph) mayReceiveOwnAddress(m *Module, r frame.LiteralRead) bool {
	if r.Reg > 3 {
		return false
	}
	data, err := m.File.Code(r.Addr, 4)
	if err != nil || len(data) < 4 {
		return true
	}
	fn := uint64(m.File.ELF.ByteOrder.Uint32(data)) &^ 1
	info := g.dwarfOf(m)
	if info == nil {
		return true
	}
	p, ok := info.Prototype(fn)
	return !ok || p.Unknown || p.Variadic || len(p.Params) > int(r.Reg)
}

// eachNode calls fn for every node of module m's code: its functions and
// the code nodes of jumps into code no symbol starts.
func (g *Graph) eachNode(m *Module, fn func(id int, n *Node)) {
	for id := range m.nodes.all() {
		fn(id, g.Nodes[id])
	}
	for _, id := range m.code {
		fn(id, g.Nodes[id])
	}
}

// sortedNodes lists eachNode's nodes of module m in node order.
func (g *Graph) sortedNodes(m *Module) []int {
	ids := make([]int, 0, m.nodes.len()+len(m.code))
	g.eachNode(m, func(id int, _ *Node) { ids = append(ids, id) })
	slices.Sort(ids)
	return ids
}

// AddressTaken returns the nodes of the functions whose address module m
// takes (see takenHub), in node order.
func (g *Graph) AddressTaken(m *Module) []int {
	g.takenHub(m)
	return m.taken
}

// completeModule makes sure every function of m has a node (and so a
// frame): the address-taken set needs the references of all of them.
func (g *Graph) completeModule(m *Module) {
	if m.nodes.len() == len(m.File.Functions) {
		// Every function has its node (m.nodes holds function indexes
		// alone): the program's after its walk, a library's after its
		// first address-taken set. The check below was node's 77,000
		// map lookups at each of the resolution's takenHub calls, and
		// the models ask again and again.
		return
	}
	var missing []int
	for fi := range m.File.Functions {
		if !m.nodes.has(fi) {
			missing = append(missing, fi)
		}
	}
	if len(missing) > 0 {
		g.addNodes(m, missing)
	}
}

// Named reports whether the node is the function called name: by its name,
// its link name, or another symbol at its address (a handler that the
// vector table and the startup code call by different names).
func (n *Node) Named(name string) bool {
	if n.Name() == name {
		return true
	}
	if n.Func == nil {
		return false
	}
	return n.Func.LinkName == name || slices.Contains(n.Func.Aliases, name)
}

// NodesNamed returns the existing nodes (functions and externals) with
// this name or link name.
func (g *Graph) NodesNamed(name string) []int {
	var out []int
	for id, n := range g.Nodes {
		if n.Named(name) {
			out = append(out, id)
		}
	}
	return out
}
