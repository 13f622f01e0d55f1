package callgraph

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/vdso"
)

// vdsoPointers are the members of ld.so's struct rtld_global_ro that hold
// a function of the vDSO, and the vDSO symbol each is set to: ld.so's
// setup_vdso_pointers (glibc 2.31 and later, elf/setup-vdso.h and
// sysdeps/unix/sysv/linux/dl-vdso-setup.c) stores dl_vdso_vsym of that
// name (version LINUX_2.6, the names x86-64's sysdep.h gives), or NULL
// when the vDSO has none; libc's clock_gettime, clock_getres, getcpu and
// sched_getcpu test the member and call it (glibc's INLINE_VSYSCALL).
var vdsoPointers = []struct{ member, symbol string }{
	{"_dl_vdso_clock_gettime64", "__vdso_clock_gettime"},
	{"_dl_vdso_gettimeofday", "__vdso_gettimeofday"},
	{"_dl_vdso_time", "__vdso_time"},
	{"_dl_vdso_getcpu", "__vdso_getcpu"},
	{"_dl_vdso_clock_getres_time64", "__vdso_clock_getres"},
}

// rtldGlobalRO is ld.so's read-only global state (GLRO).
const rtldGlobalRO = "_rtld_global_ro"

// vdsoImage is the vDSO whose code the model walks: the running kernel's
// (a variable so that a test can take it away).
var vdsoImage = vdso.Running

// linkVDSO links glibc's calls into the vDSO: an indirect call whose
// target is loaded from a member of ld.so's _rtld_global_ro that holds a
// vDSO pointer (`mov rax,[rip+_rtld_global_ro@GOT]; mov rax,[rax+0x2e0];
// test rax,rax; je fallback; call rax`, every program's path through
// malloc's ptmalloc_init to clock_gettime) goes to the vDSO's function of
// that name, walked from the running kernel's image, instead of libc's
// whole address-taken set (linkVDSOPointers); and a call of glibc's time
// or gettimeofday, ifuncs whose resolver returns the vDSO's function,
// goes there too (linkVDSOIFuncs).
//
// What it rests on: the member's offset is read from ld.so's DWARF
// (libc6-dbg; without it there is no model); the object lies in ld.so's
// PT_GNU_RELRO, read-only once ld.so has relocated itself; what ld.so
// stores there is glibc's source (above); and the program runs on the
// kernel stackscope runs on, whose vDSO is the one walked. The calling
// node carries that premise. Not with --strict (the call stays
// unresolved), not for another architecture than the running kernel's,
// and not when the vDSO cannot be read (no model: the call keeps what
// the resolution gave it).
func (g *Graph) linkVDSO() {
	if g.Arch != binfile.ArchX86_64 {
		return
	}
	v := &vdsoLinker{g: g, targets: map[string]int{}}
	ld, object, ok := g.rtldGlobalRO()
	if ok && !g.opts.Strict {
		g.linkVDSOPointers(v, ld, object)
	}
	// (ld nil when no module defines _rtld_global_ro: the ifuncs'
	// resolvers still read it, through their own module's slot.)
	g.linkVDSOIFuncs(v, ld)
	g.resolvePending()
	// The bound of each vDSO function, for the premise to say: a vDSO
	// function that calls anything unresolved, or has a frame not
	// bounded, keeps its reasons, and the premise says it is not bounded.
	for _, l := range v.linked {
		pr := &g.Nodes[l.from].Premises[l.premise]
		if b, ok := g.vdsoBound(l.to, map[int]bool{}); ok {
			pr.Detail += fmt.Sprintf(", bounded by %d B (its frame walk)", b)
		} else {
			pr.Detail += ", not bounded (see its reasons)"
		}
	}
}

// vdsoLinker makes the vDSO's nodes, once per graph, and remembers the
// premises that name them.
type vdsoLinker struct {
	g       *Graph
	image   *vdso.Image
	module  *Module
	tried   bool
	targets map[string]int // vDSO symbol -> node, -1 when the image has none
	linked  []vdsoLink
}

// vdsoLink is a premise (index in the node's Premises) of node from
// about its call into vDSO node to.
type vdsoLink struct{ from, premise, to int }

// open reads the running kernel's vDSO, once; false when there is none
// for this graph's architecture.
func (v *vdsoLinker) open() bool {
	if !v.tried {
		v.tried = true
		im, err := vdsoImage()
		if err == nil && im.File.Arch == v.g.Arch {
			v.image = im
			v.module = &Module{File: im.File, Name: vdso.Name, nodes: newFuncNodes(len(im.File.Functions)), code: map[uint64]int{}, pltSlots: map[uint64]uint64{}, hub: -1}
		}
	}
	return v.image != nil
}

// target is the node of the vDSO's exported function symbol, -1 when
// the image has none (ld.so then finds none either).
func (v *vdsoLinker) target(symbol string) int {
	if to, ok := v.targets[symbol]; ok {
		return to
	}
	to := -1
	if fn, ok := v.image.File.LookupExported(symbol); ok {
		fi, _ := v.image.File.FunctionIndex(fn.Addr)
		to = v.g.nodeFor(v.module, fi)
	}
	v.targets[symbol] = to
	return to
}

// premise adds the premise of node id's call at site into symbol (what
// says why, what happens) and remembers it for the bound.
func (v *vdsoLinker) premise(id int, site uint64, to int, why, then string) {
	n := v.g.Nodes[id]
	n.Premises = append(n.Premises, Premise{Kind: PremiseGlibcModel, Site: site,
		Detail: fmt.Sprintf("the vDSO is the running kernel's (Linux %s): %s %s", v.image.Release, why, then)})
	if to >= 0 {
		v.linked = append(v.linked, vdsoLink{id, len(n.Premises) - 1, to})
	}
}

// linkVDSOPointers links the calls through the vDSO pointers of
// _rtld_global_ro (see linkVDSO).
func (g *Graph) linkVDSOPointers(v *vdsoLinker, ld *Module, object uint64) {
	offsets := map[int64]int{} // member offset -> index in vdsoPointers
	store := g.libraryStore(ld)
	var all map[string]int64
	for i, p := range vdsoPointers {
		// The debug file goes with ld.so's build ID: libcache keeps the
		// answer. It does not depend on the running kernel.
		off := store.Fact("rtld-global-ro-member:"+p.member, func() int64 {
			if all == nil {
				all = rtldGlobalROMembers(ld.File)
			}
			if v, ok := all[p.member]; ok {
				return v
			}
			return -1
		})
		if off >= 0 {
			offsets[off] = i
		}
	}
	if len(offsets) == 0 {
		return
	}
	type site struct {
		id int
		cs frame.CallSite
		p  int
	}
	var sites []site
	for id, n := range g.Nodes {
		m := n.Module
		if m == nil || n.Hub || n.External || n.Summary != "" {
			continue
		}
		for _, cs := range n.Frame.Calls {
			if !cs.Kind.Indirect() || cs.HasSlot {
				continue
			}
			if p, ok := vdsoPointerCall(m, ld, object, cs.From, offsets); ok {
				sites = append(sites, site{id, cs, p})
			}
		}
	}
	if len(sites) == 0 || !v.open() {
		return
	}
	for _, s := range sites {
		p := vdsoPointers[s.p]
		to := v.target(p.symbol)
		n := g.Nodes[s.id]
		at := s.cs.Addr
		n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == at })
		n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return a.Site == at })
		n.Unresolved = slices.DeleteFunc(n.Unresolved, func(cs frame.CallSite) bool { return cs.Addr == at })
		why := fmt.Sprintf("%s's call through GLRO(%s) at %#x", n.Name(), strings.TrimPrefix(p.member, "_"), at)
		if to < 0 {
			v.premise(s.id, at, to, why, "never happens (this kernel's vDSO has no "+p.symbol+": ld.so leaves the pointer NULL, and the code makes the system call)")
			continue
		}
		g.addEdge(s.id, to, s.cs, MethodGlibcModel)
		v.premise(s.id, at, to, why, "goes to "+p.symbol+" of that image")
	}
}

// vdsoIFuncs are glibc's ifuncs whose resolver returns the vDSO's
// function when the vDSO has one, else a system call
// (`dl_vdso_vsym (HAVE_TIME_VSYSCALL) ?: time_syscall`, x86-64's
// sysdeps/unix/sysv/linux/x86/time.c and gettimeofday.c): the vDSO's
// function is a target of every call the resolver's constants are.
var vdsoIFuncs = []struct{ ifunc, symbol string }{
	{"time", "__vdso_time"},
	{"gettimeofday", "__vdso_gettimeofday"},
}

// linkVDSOIFuncs gives every call of time or gettimeofday (an edge to
// the implementations their resolver names, method "ifunc") the vDSO's
// function as one more target: the resolver looks it up in the vDSO
// through ld.so's state (a load through the module's GOT slot for
// _rtld_global_ro, the check made), and the implementation it names is
// only the fallback. With --strict, or without a vDSO to read, the call
// is unresolved as well: its other target is code the analysis does not
// walk.
func (g *Graph) linkVDSOIFuncs(v *vdsoLinker, ld *Module) {
	type site struct {
		id int
		at uint64
	}
	var calls ifuncCalls
	for _, m := range g.Modules[1:] {
		if m == ld {
			continue
		}
		var slot uint64
		for addr, name := range m.File.Slots {
			if name, _, _ = strings.Cut(name, "@"); name == rtldGlobalRO {
				slot = addr
			}
		}
		if slot == 0 {
			continue
		}
		for fi := range m.File.Functions {
			fn := &m.File.Functions[fi]
			k := slices.IndexFunc(vdsoIFuncs, func(x struct{ ifunc, symbol string }) bool {
				return fn.Name() == x.ifunc || fn.LinkName == x.ifunc || slices.Contains(fn.Aliases, x.ifunc)
			})
			if !fn.IFunc || k < 0 || !g.loadsSlot(m, fn, slot) {
				continue
			}
			// The implementations linkIFunc links a call of it to.
			impls := map[int]bool{}
			for _, ref := range g.analyzeFunction(m.File, fn).Refs {
				if ri, ok := m.File.FunctionIndex(ref); ok && ri != fi {
					if id, ok := m.nodes.get(ri); ok {
						impls[id] = true
					}
				}
			}
			var sites []site
			for _, e := range calls.upTo(g) {
				if impls[int(e.to)] && !slices.Contains(sites, site{int(e.id), e.site}) {
					sites = append(sites, site{int(e.id), e.site})
				}
			}
			sym := vdsoIFuncs[k].symbol
			for _, s := range sites {
				n := g.Nodes[s.id]
				ci := slices.IndexFunc(n.Frame.Calls, func(cs frame.CallSite) bool { return cs.Addr == s.at })
				if ci < 0 {
					continue
				}
				cs := n.Frame.Calls[ci]
				if g.opts.Strict || !v.open() || v.target(sym) < 0 {
					if g.opts.Strict || !v.open() {
						// "target not known": the code is the kernel's.
						cs.Kind, cs.Target = frame.IndirectCall, 0
						if e := slices.IndexFunc(n.Edges, func(e Edge) bool { return e.Site == s.at }); e >= 0 && n.Edges[e].Kind == frame.TailCall {
							cs.Kind = frame.IndirectTailCall
						}
						n.Unresolved = append(n.Unresolved, cs)
					}
					continue
				}
				to := v.target(sym)
				g.addEdge(s.id, to, cs, MethodGlibcModel)
				v.premise(s.id, s.at, to, fmt.Sprintf("%s's call of %s at %#x (an ifunc whose resolver returns the vDSO's %s, else a system call)",
					n.Name(), vdsoIFuncs[k].ifunc, s.at, sym), "also goes to "+sym+" of that image")
			}
		}
	}
}

// ifuncCalls are the graph's edges of method "ifunc" (linkIFunc's), in
// the order of their nodes and of each node's edges, for
// linkVDSOIFuncs: each ifunc it links (time, gettimeofday, under each of
// their names) asked for them with a scan of every edge of the graph,
// 0.02 s of node's models on the analysis' goroutine. linkVDSOIFuncs
// adds no edge of that method to the nodes already scanned (its edges
// are the glibc model's), so the list is extended only with the nodes
// added since (v.target may add the vDSO function's).
type ifuncCalls struct {
	scanned int // the nodes scanned: g.Nodes[:scanned]
	edges   []ifuncCall
}

// ifuncCall is an edge of method "ifunc": node id's call at site to to.
// (Ids of 32 bits, 16 bytes: node's list of them grown by append was 11
// MB after its last collection, profile, issue 19.)
type ifuncCall struct {
	id, to int32
	site   uint64
}

// upTo returns the "ifunc" edges of every node of g, scanning those added
// since the last call.
func (c *ifuncCalls) upTo(g *Graph) []ifuncCall {
	for ; c.scanned < len(g.Nodes); c.scanned++ {
		for _, e := range g.Nodes[c.scanned].Edges {
			if e.Method == MethodIfunc {
				c.edges = append(c.edges, ifuncCall{id: int32(c.scanned), to: int32(e.To), site: e.Site})
			}
		}
	}
	return c.edges
}

// loadsSlot says whether fn's code loads the word at slot (a GOT slot):
// `mov reg,[rip+slot]`.
func (g *Graph) loadsSlot(m *Module, fn *binfile.Function, slot uint64) bool {
	code, err := m.File.Code(fn.Addr, fn.Size)
	if err != nil {
		return false
	}
	for off := 0; off < len(code); {
		e, err := g.Decoder.Decode(code[off:], fn.Addr+uint64(off))
		if err != nil || e.Len <= 0 {
			return false
		}
		if e.HasMem && e.MemBase < 0 && e.MemIndex < 0 && uint64(e.MemDisp) == slot {
			return true
		}
		off += e.Len
	}
	return false
}

// rtldGlobalRO finds the module that defines _rtld_global_ro (ld.so) and
// the object's address, which must lie in its PT_GNU_RELRO segment.
func (g *Graph) rtldGlobalRO() (*Module, uint64, bool) {
	if g.opts.FollowLibraries {
		g.loadLibraries()
	}
	for _, m := range g.Modules[1:] {
		dyn, _ := m.File.DynamicSymbols()
		for _, s := range dyn {
			name, _, _ := strings.Cut(s.Name, "@")
			if name == rtldGlobalRO && s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
				if !inRelro(m, s.Value) {
					return nil, 0, false
				}
				return m, s.Value, true
			}
		}
	}
	return nil, 0, false
}

// vdsoPointerCall says whether target (an indirect call's, as the slice
// before it shows) is the word at a vDSO-pointer member of ld.so's
// _rtld_global_ro (rtldROMember). It returns the index in vdsoPointers.
func vdsoPointerCall(m, ld *Module, object uint64, target *frame.Value, offsets map[int64]int) (int, bool) {
	off, ok := rtldROMember(m, ld, object, target)
	if !ok {
		return 0, false
	}
	p, ok := offsets[off]
	return p, ok
}

// rtldROMember says whether target (an indirect call's, as the slice
// before it shows) is a word of ld.so's _rtld_global_ro, and at which
// offset: loaded through m's GOT slot for the object (a library that
// imports it: `mov rax,[rip+slot]; mov rax,[rax+off]`), or, in ld.so
// itself, read at its address (`mov rax,[rip+object+off]`).
func rtldROMember(m, ld *Module, object uint64, target *frame.Value) (int64, bool) {
	v := target
	if v == nil || v.Kind != frame.ValueLoad || v.Off != 0 || v.Indexed || v.Addr == nil || v.Addr.Indexed {
		return 0, false
	}
	a := v.Addr // the member's address
	switch {
	case a.Kind == frame.ValueLoad && a.Addr != nil && isConstant(a.Addr):
		slot := uint64(a.Addr.Off)
		name, ok := m.File.Slots[slot]
		if name, _, _ = strings.Cut(name, "@"); !ok || name != rtldGlobalRO || m == ld {
			return 0, false
		}
		return a.Off, true
	case m == ld && a.Kind == frame.ValueConst:
		return a.Off - int64(object), true
	}
	return 0, false
}

// vdsoBound is the worst case of node id and what it calls, as the bound
// package computes it (a call adds the caller's frame, a tail call its
// depth at the jump less the return address); ok false when a frame is
// not static, a call is not resolved or the calls recurse.
func (g *Graph) vdsoBound(id int, active map[int]bool) (int64, bool) {
	n := g.Nodes[id]
	if active[id] || n.Frame.Kind != frame.Static || len(n.Unresolved) > 0 || len(n.BadTargets()) > 0 || len(n.Assumed) > 0 || n.External || n.Hub {
		return 0, false
	}
	active[id] = true
	defer delete(active, id)
	best := n.Frame.Size + n.Frame.RedZone
	for _, e := range n.Edges {
		b, ok := g.vdsoBound(e.To, active)
		if !ok {
			return 0, false
		}
		v := n.Frame.Size + b
		if e.Kind == frame.TailCall {
			v = e.Depth - 8 + b
		}
		best = max(best, v)
	}
	return best, true
}

// rtldGlobalROMembers reads the offsets of the vDSO-pointer members of
// struct rtld_global_ro from the DWARF of ld.so's debug file: each
// member's offset where every definition of the struct agrees on it.
func rtldGlobalROMembers(file *binfile.File) map[string]int64 {
	var names []string
	for _, p := range vdsoPointers {
		names = append(names, p.member)
	}
	return rtldStructMembers(file, "rtld_global_ro", names...)
}

// rtldStructMembers reads the offsets of the named members of one of
// ld.so's structs from the DWARF of its debug file (memberOffsets); empty
// without one.
func rtldStructMembers(file *binfile.File, structName string, names ...string) map[string]int64 {
	all := rtldGlobalROMemberNames()
	if structName == rtldGlobalROStruct && file.DebugSymbols != "" && !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(all, n) }) {
		// Each member's offset is read on its own (memberOffsets): those
		// of all the models' members, read once per debug file (a
		// prefetch may have, see debugprefetch.go), answer for any of them.
		offsets := rtldGlobalROOffsets.get(file, func(file *binfile.File) map[string]int64 {
			out := map[string]int64{}
			withDebugDWARFScanned(file, func(d *dwarf.Data, sc *dieScanner) { out = rtldGlobalROOffsetsIn(d, sc) })
			return out
		})
		out := map[string]int64{}
		for _, n := range names {
			if v, ok := offsets[n]; ok {
				out[n] = v
			}
		}
		return out
	}
	out := map[string]int64{}
	withDebugDWARF(file, func(d *dwarf.Data) { out = memberOffsets(d, structName, names...) })
	return out
}

// rtldGlobalROStruct is the type of _rtld_global_ro.
const rtldGlobalROStruct = "rtld_global_ro"

// rtldGlobalROOffsets keeps the offsets of struct rtld_global_ro's
// members the models read (rtldGlobalROMemberNames), per debug file.
var rtldGlobalROOffsets debugFileCache[map[string]int64]

// rtldGlobalROMemberNames are the members of struct rtld_global_ro the
// models read: the vDSO pointers and the hooks of rtldmcount.go.
func rtldGlobalROMemberNames() []string {
	var names []string
	for _, p := range vdsoPointers {
		names = append(names, p.member)
	}
	return append(names, rtldROHookMembers...)
}

// rtldGlobalROOffsetsIn reads those members' offsets from ld.so's DWARF d
// (sc: its scanner, or nil; see memberOffsetsScanned).
func rtldGlobalROOffsetsIn(d *dwarf.Data, sc *dieScanner) map[string]int64 {
	return memberOffsetsScanned(d, sc, rtldGlobalROStruct, rtldGlobalROMemberNames()...)
}
