package callgraph

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// ld.so's arrays and recursion sized by the number of loaded objects.
//
// At exit, ld.so's _dl_fini (glibc 2.36's elf/dl-fini.c) copies each
// namespace's link maps into a VLA, `struct link_map *maps[nloaded]` with
// nloaded = GL(dl_ns)[ns]._ns_nloaded, and sorts them with _dl_sort_maps
// (elf/dl-sort-maps.c), which has VLAs of nmaps elements (`uint16_t
// seen[nmaps]` in the original algorithm, `struct link_map *rpo[nmaps]` in
// the DFS one) and whose DFS, dfs_traversal, recurses once per map it
// has not visited yet (l_visited), so at most once per loaded object.
// Every program's exit path runs them; unbounded, they keep every
// dynamically linked program NOT BOUNDED.
//
// For a program that cannot load objects after its start, the number of
// objects in its namespace is known: the program, the DT_NEEDED closure
// the graph followed (Graph.Modules: ld.so is libc's DT_NEEDED), and the
// vDSO ld.so adds to the list. This model takes that number N when:
// nothing the program's functions (or its libraries' constructors) reach
// in the graph is a loader (dlopen, dlmopen, __libc_dlopen_mode,
// _dl_open), no node reached has an indirect call left unresolved or is
// an external (either could load), and no DT_NEEDED library is missing.
// Then:
//   - _dl_fini's and _dl_sort_maps's run-time SP moves are bounded by
//     what a pass over their code proves (vlaamount.go): in _dl_fini, the
//     amount computed from a 32-bit load of the _ns_nloaded field (offset
//     from ld.so's DWARF) of a pointer into _rtld_global's _dl_ns array;
//     in _dl_sort_maps, from its nmaps argument (and force_first, a C bool,
//     0 or 1). The frame is walked again with those bounds
//     (frame.Input.SPAmount); a site the pass does not bound stays dynamic.
//   - dfs_traversal's recursion gets depth N (Node.RecursionDepth), as a
//     user's [[recursion]] depth would.
// What is glibc's source, not the code, is the premise each of those
// nodes carries: no object preloaded by LD_PRELOAD or by
// /etc/ld.so.preload (which ld.so reads too, on the machine the program
// runs on), no LD_AUDIT object (audit libraries also live in namespaces
// of their own) and no dlmopen, so one namespace of N
// objects; _dl_sort_maps is called with nmaps at most the namespace's
// objects and at least force_first. --strict turns the model off.

// PremiseLoadedObjects is the kind of the premise that the program's
// namespace holds the objects loaded at its start and no more.
const PremiseLoadedObjects = "loaded-objects"

// loaderNames are the functions that load objects after the start.
var loaderNames = []string{"dlopen", "__dlopen", "dlmopen", "__dlmopen", "__libc_dlopen_mode", "_dl_open", "_dl_catch_exception_dlopen"}

// LoadedObjects is the number of objects the namespace holds, when the
// model proved it (0 when not), and why not.
type LoadedObjects struct {
	Count int
	Why   string
	// Objects is the number counted from the graph's modules, proved
	// or not (0 when a library is missing).
	Objects int
}

// ModelLoadedObjects applies the model (see above); it runs once the
// graph is complete (the end of ModelRuntime) and returns what it found.
func (g *Graph) ModelLoadedObjects() LoadedObjects {
	if g.opts.Strict || g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || g.Modules[0].File.Shared {
		return LoadedObjects{Why: "no model (--strict, not x86-64, not a dynamically linked program)"}
	}
	var ld *Module
	for _, m := range g.Modules[1:] {
		if _, ok := m.File.Lookup("_dl_fini"); ok {
			if _, ok := dataSymbol(m, "_rtld_global"); ok {
				ld = m
			}
		}
	}
	if ld == nil {
		return LoadedObjects{Why: "ld.so's _dl_fini and _rtld_global have no names (no debug symbols)"}
	}
	n, k, why := g.objectCount()
	if n == 0 {
		g.noteCountUnknown(ld, why)
		return LoadedObjects{Why: why}
	}
	if why := g.loaderReached(); why != "" {
		g.noteCountUnknown(ld, why)
		return LoadedObjects{Why: why, Objects: n}
	}
	detail := fmt.Sprintf("%d objects loaded: the program, its %d %s, ld.so and the vDSO; no dlopen reachable; no LD_PRELOAD, /etc/ld.so.preload or LD_AUDIT objects, no dlmopen",
		n, k, plural(k, "library"))
	for _, name := range []string{"_dl_fini", "_dl_sort_maps"} {
		if src, ok := loaderCountSources(ld, name, n); ok {
			g.boundLoaderVLAs(ld, name, src, detail+loaderVLAWhat[name])
		}
	}
	for _, name := range []string{"dfs_traversal", "dfs_traversal.part.0"} {
		for _, id := range g.libcNodesIn(ld, name) {
			nd := g.Nodes[id]
			nd.RecursionDepth = int64(n)
			nd.Premises = append(nd.Premises, Premise{Kind: PremiseLoadedObjects, Site: nd.Func.Addr,
				Detail: detail + fmt.Sprintf(": %s recurses once per map not yet visited, at most %d deep", nd.Name(), n)})
		}
	}
	return LoadedObjects{Count: n, Objects: n}
}

// loaderVLAWhat says, per function, what its bounded arrays are.
var loaderVLAWhat = map[string]string{
	"_dl_fini":      ": _dl_fini's maps[nloaded]",
	"_dl_sort_maps": ": _dl_sort_maps's arrays of nmaps elements (its callers pass at most the namespace's maps, and nmaps >= force_first)",
}

// loaderCountSources is where the count of ld.so's function name comes
// from, n objects at most: _dl_fini's from _ns_nloaded (DWARF layout),
// _dl_sort_maps's from its arguments nmaps (esi) and force_first (dl).
func loaderCountSources(ld *Module, name string, n int) (countSources, bool) {
	switch name {
	case "_dl_fini":
		lay := rtldLayouts.get(ld.File, rtldNamespaceLayout)
		rg, ok := dataSymbol(ld, "_rtld_global")
		if !ok || !lay.ok {
			return countSources{}, false
		}
		return countSources{nsBase: rg + uint64(lay.dlNS), nsStride: lay.stride, nsField: lay.nloaded, nsMax: uint64(n)}, true
	case "_dl_sort_maps":
		return countSources{entry: map[int]absVal{6: {k: absBnd, n: uint64(n), bits: 32}, 2: {k: absBnd, n: 1, bits: 8}}, subNoWrap: true}, true
	}
	return countSources{}, false
}

// objectCount is N (0 with why when not known) and the number of libraries.
func (g *Graph) objectCount() (int, int, string) {
	if len(g.Missing) > 0 {
		return 0, 0, "a DT_NEEDED library is missing: " + g.Missing[0]
	}
	if why := filteeNamed(g.Modules); why != "" {
		return 0, 0, why
	}
	files := map[string]bool{}
	for _, m := range g.Modules {
		p, err := filepath.EvalSymlinks(m.File.Path)
		if err != nil {
			p = m.File.Path
		}
		files[p] = true
	}
	k := len(files) - 1
	// ld.so is libc's DT_NEEDED (a module), the vDSO one more.
	return len(files) + 1, k - 1, ""
}

// filteeNamed says (non-empty) which module names filtees: ld.so loads
// a DT_AUXILIARY or DT_FILTER object at the start as it loads a
// DT_NEEDED one (glibc's _dl_map_object_deps), into the same namespace,
// and the graph does not follow them. (Found by a red-team fixture: a
// library with two auxiliary filtees ran with 7 objects in the namespace
// while the model counted 5.)
func filteeNamed(mods []*Module) string {
	for _, m := range mods {
		if m.File.ELF == nil {
			continue
		}
		for _, tag := range []elf.DynTag{elf.DT_AUXILIARY, elf.DT_FILTER} {
			if v, err := m.File.ELF.DynValue(tag); err == nil && len(v) > 0 {
				return fmt.Sprintf("%s names filtees (%s) that ld.so loads at the start, which the count does not follow", filepath.Base(m.File.Path), tag)
			}
		}
	}
	return ""
}

// loaderReached says (non-empty) why the program may load objects: a
// loader reached from where the program's code can run (programRoots:
// its functions, every module's DT_INIT/DT_FINI and their arrays, the
// functions whose addresses escape through imports), an unresolved
// indirect call or an external function reached.
func (g *Graph) loaderReached() string {
	roots := g.programRoots()
	seen := make([]bool, len(g.Nodes))
	for _, r := range roots {
		seen[r] = true
	}
	for len(roots) > 0 {
		id := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		n := g.Nodes[id]
		for _, name := range loaderNames {
			if n.Named(name) {
				return "the program can load objects: " + g.QualifiedName(id) + " is reachable"
			}
		}
		if n.External {
			return "the program calls " + n.Name() + ", whose code is not known (it could load objects)"
		}
		if len(n.Unresolved) > 0 {
			return fmt.Sprintf("%s's indirect call at %#x has targets not known (they could load objects)", g.QualifiedName(id), n.Unresolved[0].Addr)
		}
		for _, e := range n.Edges {
			if !seen[e.To] {
				seen[e.To] = true
				roots = append(roots, e.To)
			}
		}
	}
	return ""
}

// libcNodesIn returns the nodes of m's functions with this name.
func (g *Graph) libcNodesIn(m *Module, name string) []int {
	fn, ok := m.File.Lookup(name)
	if !ok {
		return nil
	}
	fi, ok := m.File.FunctionIndex(fn.Addr)
	if !ok {
		return nil
	}
	return []int{g.nodeFor(m, fi)}
}

// boundLoaderVLAs walks ld.so's function name again with the bounds the
// pass proves for its run-time SP moves, and gives its node that frame
// and the premise, when the pass bounds at least one.
func (g *Graph) boundLoaderVLAs(ld *Module, name string, src countSources, detail string) {
	ids := g.libcNodesIn(ld, name)
	if len(ids) == 0 {
		return
	}
	n := g.Nodes[ids[0]]
	code, err := ld.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return
	}
	isFunction := func(a uint64) bool { _, ok := ld.File.FunctionIndex(a); return ok }
	amounts, err := vlaAmounts(code, n.Func.Addr, src, isFunction)
	if err != nil || len(amounts) == 0 {
		return
	}
	fr := g.walkFunctionWith(ld.File, n.Func, func(in *frame.Input) {
		in.SPAmount = func(addr uint64) (int64, bool) {
			a, ok := amounts[addr]
			return a.Bytes, ok
		}
	})
	if len(fr.BoundedAmounts()) == 0 {
		return
	}
	var sites []string
	for _, a := range fr.BoundedAmounts() {
		sites = append(sites, fmt.Sprintf("at most %d B at %#x", a.Bytes, a.Addr))
	}
	slices.Sort(sites)
	n.Frame = fr
	n.Premises = append(n.Premises, Premise{Kind: PremiseLoadedObjects, Site: n.Func.Addr, Detail: detail + fmt.Sprintf(" (%v)", sites)})
}

// rtldLayout is where _rtld_global's namespaces and their counts are.
type rtldLayout struct {
	ok              bool
	dlNS            int64 // offset of _dl_ns in struct rtld_global
	stride, nloaded int64 // sizeof(struct link_namespaces), offset of _ns_nloaded
}

// rtldLayouts keeps ld.so's namespace layout per debug file: every
// program's graph asks it again of the same ld.so.
var rtldLayouts debugFileCache[rtldLayout]

// rtldNamespaceLayout reads the layout from ld.so's DWARF (libc6-dbg).
func rtldNamespaceLayout(file *binfile.File) rtldLayout {
	var l rtldLayout
	withDebugDWARFScanned(file, func(d *dwarf.Data, sc *dieScanner) { l = rtldNamespaceLayoutIn(d, sc) })
	return l
}

// rtldNamespaceLayoutIn reads the layout from ld.so's DWARF d (sc: its
// scanner, or nil; see memberOffsetsScanned).
func rtldNamespaceLayoutIn(d *dwarf.Data, sc *dieScanner) rtldLayout {
	ns, ok1 := memberOffsetsScanned(d, sc, "rtld_global", "_dl_ns")["_dl_ns"]
	cnt, ok2 := memberOffsetsScanned(d, sc, "link_namespaces", "_ns_nloaded")["_ns_nloaded"]
	size, ok3 := structSizeScanned(d, sc, "link_namespaces")
	return rtldLayout{ok: ok1 && ok2 && ok3 && size > cnt, dlNS: ns, stride: size, nloaded: cnt}
}

// structSize is the byte size of struct name, where every definition
// agrees on it.
func structSize(d *dwarf.Data, name string) (int64, bool) {
	return structSizeScanned(d, nil, name)
}

// structSizeScanned is structSize that passes by, with the scanner sc of
// d (nil: none; diescan.go), the entries that cannot be a struct named
// name: their shape says where the next one starts, or where
// Reader.SkipChildren would go on from; debug/dwarf reads the others, as
// before. (ld.so's 70,000 entries were a tenth of the prefetch's
// allocations.)
func structSizeScanned(d *dwarf.Data, sc *dieScanner, name string) (int64, bool) {
	r := d.Reader()
	size := int64(-1)
	var pos dwarf.Offset // where the next entry is, when r is not there (0: r is)
	for {
		if pos != 0 {
			if at, ok := sizePassBy(sc, pos, name); ok {
				pos = at
				continue
			}
			r.Seek(pos)
			pos = 0
		}
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == dwarf.TagStructType && e.Val(dwarf.AttrName) == name {
			if s, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
				if size >= 0 && s != size {
					return 0, false
				}
				size = s
			}
		}
		if e.Tag == dwarf.TagCompileUnit {
			continue
		}
		if s, ok := sc.shape(e.Offset); ok && s.tag == e.Tag && s.children == e.Children {
			if pos = nextAfterSkip(s); pos != 0 {
				continue
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return size, size > 0
}

// sizePassBy says where structSizeScanned goes on from past the entry at
// pos, which it need not read: one that sc reads and that is neither a
// compile unit nor a struct that may be named name.
func sizePassBy(sc *dieScanner, pos dwarf.Offset, name string) (dwarf.Offset, bool) {
	s, ok := sc.shape(pos)
	if !ok || s.tag == dwarf.TagCompileUnit || s.tag == dwarf.TagStructType && (!s.nameKnown || string(s.name) == name) {
		return 0, false
	}
	at := nextAfterSkip(s)
	return at, at != 0
}

// dataSymbol is the address of m's data object name (any size).
func dataSymbol(m *Module, name string) (uint64, bool) {
	for _, s := range m.File.Symbols() {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Section != elf.SHN_UNDEF {
			return s.Value, true
		}
	}
	return 0, false
}

// noteCountUnknown adds to the reason of _dl_fini's and _dl_sort_maps's
// frames, when it is a run-time SP move the pass finds sized by the count,
// why the count is not known: the reason then says what to look at.
func (g *Graph) noteCountUnknown(ld *Module, why string) {
	// unknownCountKey names the pass's amounts for a function of ld.so
	// (name, address, size) with the count of one object, in
	// binfile.Derived.
	type unknownCountKey struct {
		name       string
		addr, size uint64
	}
	for _, name := range []string{"_dl_fini", "_dl_sort_maps"} {
		src, ok := loaderCountSources(ld, name, 1)
		ids := g.libcNodesIn(ld, name)
		if !ok || len(ids) == 0 {
			continue
		}
		n := g.Nodes[ids[0]]
		if n.Frame.Kind != frame.Dynamic {
			continue
		}
		// The pass with one object reads the file alone: made once per
		// file for the programs of a run (issue 19); the map is shared.
		fn := n.Func
		key := unknownCountKey{name, fn.Addr, fn.Size}
		amounts := binfile.Derived(ld.File, key, func() map[uint64]vlaAmount {
			code, err := ld.File.Code(fn.Addr, fn.Size)
			if err != nil {
				return nil
			}
			amounts, err := vlaAmounts(code, fn.Addr, src, func(a uint64) bool { _, ok := ld.File.FunctionIndex(a); return ok })
			if err != nil {
				return nil
			}
			return amounts
		})
		if _, sized := amounts[n.Frame.ReasonAddr]; sized {
			n.Frame.Reason += "; its length is the number of loaded objects, not known: " + why
		}
	}
}
