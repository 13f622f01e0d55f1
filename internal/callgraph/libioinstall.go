package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// FILE jump tables of streams the program never makes. A call through a
// stream's jump table (libioVtable, wideVtableCalls) goes to one slot of
// the tables of __libc_IO_vtables: 18 of them in glibc 2.36, for files,
// cookies (fopencookie), memory streams (fmemopen, open_memstream),
// obstack streams, wide streams and the helpers of vfprintf. A FILE gets
// a table only where code stores the table's address into it (or, for
// the standard streams, where the static FILE's initial value holds it):
// a table whose address no reachable code computes, and no data holds, is
// the table of no stream the program has. So the slot's targets narrow to
// the tables whose "installers" (the functions whose code computes an
// address inside them: lea of _IO_cookie_jumps in _IO_cookie_init) are
// reachable from the program's code, plus the tables data points to (the
// standard streams' _IO_file_jumps) and the exported tables another
// module imports (_IO_file_jumps, _IO_wfile_jumps). Reachability is the
// fixpoint of ModelReachableTables: the tables start at that minimum and
// grow as installers become reachable.
//
// Proved when a decode of all of libc's code reads every instruction
// (sweepCode): every address computed into the section is seen, and a
// vtable pointer is otherwise only copied from another FILE (freopen,
// _IO_switch_to_*). An address computed into the section but inside no
// table (the section's start is the first table's, and the vtable check
// of every stdio function computes it: that table counts as installed by
// each of them) makes every table count. When part of the code did not
// decode, the narrowing is an assumption of kind glibc-model (not with
// --strict): the hub then reaches a marker node that carries the premise.
//
// Where data holds a table matters (not with --strict): the standard
// streams' static FILEs hold _IO_file_jumps in their vtable field, but
// _IO_wfile_jumps only in their wide data's _wide_vtable field
// (stdfiles.c), which only the wide calls read (the "wide" hubs). Such a
// table becomes a FILE's vtable only where code copies _wide_vtable into
// it (_IO_fwide; _IO_new_file_fopen with "ccs="): a function that both
// loads a word at the _wide_vtable offset and stores one at the vtable
// offset (offsets from libc's DWARF, libiolayout.go) is such a copier, and
// once one is reachable those tables count for every slot. That the copy
// happens within one function (not through a helper it calls) is glibc's
// source: a premise of kind glibc-model, on the hubs it narrows. A word in
// the symbol table (.dynsym: libc exports _IO_file_jumps and
// _IO_wfile_jumps) is no FILE's field; a module importing the symbol is
// the case below.
//
// Calls through the table of a FILE on _IO_list_all have hubs of their
// own, narrowed further (libiolist.go).

// libioInstalls is the model, applied to one module's libio hubs.
type libioInstalls struct {
	g      *Graph
	m      *Module
	tables []libioTable
	hubs   []libioSlotHub
	marker int // the premise marker, -1 when the narrowing is proved
	// copiers are the functions that may copy a wide stream's
	// _wide_vtable into its vtable; copied says one is reachable.
	copiers []int
	copied  bool
	// handlerRegistrars are printf's registrars (see undoHelperModel).
	handlerRegistrars []int
}

// libioTable is one jump table of the section: its slots' functions, and
// whether a stream can have it (installed: in a wide stream's
// _wide_vtable, at least; main: as a FILE's vtable), or which functions
// install it; neverLinked: no stream on _IO_list_all has it.
type libioTable struct {
	name        string
	addr, size  uint64
	installers  []int
	installed   bool
	main        bool
	wideOnly    bool
	neverLinked bool
	helper      bool // a helper table, out of the put hubs (libiohelper.go)
}

// libioSlotHub is a hub of libioKindHub, for slot off.
type libioSlotHub struct {
	hub  int
	off  int64
	kind string
}

// libioSlotHubs returns module m's hubs of libioKindHub, by slot.
func libioSlotHubs(m *Module) []libioSlotHub {
	var hubs []libioSlotHub
	for key, nw := range m.narrowed {
		for _, kind := range []string{slotMain, slotChain, slotWide, slotPut} {
			prefix := "libio " + kind + "slot +"
			var off int64
			if _, err := fmt.Sscanf(strings.TrimPrefix(key, prefix), "%d", &off); err == nil && strings.HasPrefix(key, prefix) && nw.count > 0 {
				hubs = append(hubs, libioSlotHub{hub: nw.hub, off: off, kind: kind})
			}
		}
	}
	sort.Slice(hubs, func(i, j int) bool {
		if hubs[i].off != hubs[j].off {
			return hubs[i].off < hubs[j].off
		}
		return hubs[i].kind < hubs[j].kind
	})
	return hubs
}

// libioInstallModel applies the model to module m's libio hubs, or
// returns nil when it does not apply.
func (g *Graph) libioInstallModel(m *Module) *libioInstalls {
	sec := m.File.ELF.Section(libioSection)
	if sec == nil || len(m.narrowed) == 0 {
		return nil
	}
	hubs := libioSlotHubs(m)
	if len(hubs) == 0 {
		return nil
	}
	shared := g.libioSharedOf(m)
	if len(shared.tables) == 0 || !shared.ok {
		return nil
	}
	tables := slices.Clone(shared.tables) // this graph's: installed, installers, helper
	inst := shared.scan
	inst.always = slices.Clone(inst.always)
	g.addImportedTables(m, sec, tables, &inst)
	if !inst.complete && g.opts.Strict {
		return nil
	}
	for i := range tables {
		tables[i].installed = inst.always[i] || inst.wideOnly[i]
		tables[i].main = inst.always[i]
		tables[i].wideOnly = inst.wideOnly[i] && !inst.always[i]
		for _, a := range inst.by[i] {
			fi, _ := m.File.FunctionIndex(a)
			tables[i].installers = append(tables[i].installers, g.nodeFor(m, fi))
		}
	}
	if shared.helpersOK {
		g.markHelperTables(m, tables, shared.helpers, shared.makers)
	}
	md := &libioInstalls{g: g, m: m, tables: tables, hubs: hubs, marker: -1}
	for _, a := range inst.copiers {
		fi, _ := m.File.FunctionIndex(a)
		md.copiers = append(md.copiers, g.nodeFor(m, fi))
	}
	md.handlerRegistrars = g.helperHandlerRegistrars(m)
	if !inst.complete {
		md.marker = len(g.Nodes)
		g.Nodes = append(g.Nodes, &Node{Module: m, name: "[FILE jump tables of streams the program makes]", Frame: frame.Frame{Kind: frame.Static},
			Summary: MethodGlibcModel.String(), Premises: []Premise{{Kind: PremiseGlibcModel, Detail: "a FILE jump table is in use only when code that computes its address " +
				"is reachable (part of " + m.Name + "'s code could not be decoded to see every such place)"}}})
	}
	md.apply()
	return md
}

// libioSharedOf is libioShared for m's file (which has the libio
// section), made once per file (binfile.Derived): by libioInstallModel,
// or ahead of it (startModelsAhead, modelsahead.go).
func (g *Graph) libioSharedOf(m *Module) libioShared {
	return binfile.Derived(m.File, libioScanKey{g.Decoder, g.opts.Strict}, func() libioShared {
		return g.scanLibioFile(m, m.File.ELF.Section(libioSection))
	})
}

// libioScanKey names libioShared in binfile.Derived: the decoder that
// sweeps, and --strict (which leaves out the DWARF layout and the helper
// tables).
type libioScanKey struct {
	dec    isa.Decoder
	strict bool
}

// libioShared is what the model finds in a libc from its bytes alone,
// the same for every program that links it (many programs in one run
// share it, issue 19): the tables of the section (with neverLinked
// set), the sweep of its code and data (without the imports of the
// program's other modules, addImportedTables), and the helper tables
// with the functions that make a helper (helpersOK false: none are
// marked). Shared: a graph copies what it changes.
type libioShared struct {
	tables    []libioTable
	scan      installScan
	ok        bool
	helpers   []int
	makers    []uint64
	helpersOK bool
}

// scanLibioFile computes libioShared for m's file. It reads m.File,
// g.Decoder and g.opts.Strict only (the key of its result).
func (g *Graph) scanLibioFile(m *Module, sec *elf.Section) libioShared {
	var out libioShared
	for _, s := range m.File.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Value >= sec.Addr && s.Value < sec.Addr+sec.Size && s.Size > 0 {
			if !slices.ContainsFunc(out.tables, func(t libioTable) bool { return t.addr == s.Value }) {
				out.tables = append(out.tables, libioTable{name: s.Name, addr: s.Value, size: s.Size})
			}
		}
	}
	if len(out.tables) == 0 {
		return out
	}
	sort.Slice(out.tables, func(i, j int) bool { return out.tables[i].addr < out.tables[j].addr })
	out.scan, out.ok = g.scanLibioCode(m, sec, out.tables)
	if !out.ok {
		return out
	}
	for i := range out.tables {
		out.tables[i].neverLinked = !g.opts.Strict && isNeverLinked(m, out.tables[i].addr) && !out.scan.linked(i)
	}
	if !g.opts.Strict {
		out.helpers, out.makers, out.helpersOK = helperTables(m, out.tables, out.scan)
	}
	return out
}

// installScan is what a sweep of the module's code found: the functions
// that compute an address inside each table, the tables a stream may
// have whatever runs, and whether every byte decoded.
type installScan struct {
	by       [][]uint64
	always   []bool
	complete bool
	// wideOnly: data holds the table only in the _wide_vtable fields of
	// static wide data (not with --strict).
	wideOnly []bool
	// copiers: the functions that load a word at the _wide_vtable offset
	// and store one at the vtable offset.
	copiers []uint64
	// inside: the functions that compute an address inside the table
	// other than the section's start (which every vtable check computes).
	inside [][]uint64
	// linkers: _IO_link_in, the functions that call it, and theirs.
	linkers []uint64
}

// linked says whether a function that computes table i's address may
// link the stream it makes (it is one of the linkers), or whether the
// linkers are not known.
func (s installScan) linked(i int) bool {
	if len(s.linkers) == 0 {
		return true
	}
	return slices.ContainsFunc(s.inside[i], func(fn uint64) bool { return slices.Contains(s.linkers, fn) })
}

// libioInstallers sweeps m's code and data for addresses inside the
// section's tables, and adds the tables other modules import.
func (g *Graph) libioInstallers(m *Module, sec *elf.Section, tables []libioTable) (installScan, bool) {
	scan, ok := g.scanLibioCode(m, sec, tables)
	if ok {
		g.addImportedTables(m, sec, tables, &scan)
	}
	return scan, ok
}

// addImportedTables marks in scan.always the tables of m's section that
// another module of the program imports (every table, for an imported
// symbol inside none): the part of libioInstallers that depends on the
// program.
func (g *Graph) addImportedTables(m *Module, sec *elf.Section, tables []libioTable, scan *installScan) {
	lo, hi := sec.Addr, sec.Addr+sec.Size
	dyn, _ := m.File.DynamicSymbols()
	for _, s := range dyn {
		if s.Section == elf.SHN_UNDEF || s.Value < lo || s.Value >= hi {
			continue
		}
		name, _, _ := strings.Cut(s.Name, "@")
		for _, other := range g.Modules {
			if other != m && importsAny(other.File, []string{name}) {
				if i := libioTableOf(tables, s.Value); i >= 0 {
					scan.always[i] = true
				} else {
					for i := range scan.always {
						scan.always[i] = true
					}
				}
			}
		}
	}
}

// libioTableOf is the index of the table holding a, or -1.
func libioTableOf(tables []libioTable, a uint64) int {
	i := sort.Search(len(tables), func(i int) bool { return tables[i].addr+tables[i].size > a })
	if i < len(tables) && tables[i].addr <= a {
		return i
	}
	return -1
}

// scanLibioCode is libioInstallers without the program's other modules:
// it reads m's file, g.Decoder and g.opts.Strict only, so that
// libioShared can be shared by every program linking the file.
func (g *Graph) scanLibioCode(m *Module, sec *elf.Section, tables []libioTable) (installScan, bool) {
	fr, ok := g.Decoder.(isa.FixedRefReader)
	if !ok {
		return installScan{}, false
	}
	scan := installScan{by: make([][]uint64, len(tables)), always: make([]bool, len(tables)),
		wideOnly: make([]bool, len(tables)), inside: make([][]uint64, len(tables))}
	layout := libioLayoutOf(m)
	if g.opts.Strict {
		layout = nil
	}
	lo, hi := sec.Addr, sec.Addr+sec.Size
	tableOf := func(a uint64) int { return libioTableOf(tables, a) }
	everything := func() {
		for i := range scan.always {
			scan.always[i] = true
		}
	}
	// Data: the standard streams' initial tables, and any other pointer.
	for i, t := range tables {
		if layout == nil || layout.vtable < 0 {
			scan.always[i] = m.File.DataRefersTo(t.addr, t.addr+t.size)
			continue
		}
		for _, w := range m.File.DataWordsInto(t.addr, t.addr+t.size) {
			switch {
			case inSymbolTable(m, w):
			case layout.wideVtableWord(w):
				scan.wideOnly[i] = true
			default:
				scan.always[i] = true
			}
		}
	}
	linkIn, hasLink := m.File.Lookup("_IO_link_in")
	// The sweep of libc's code on every core (0.05 s of one core before,
	// issue 19): each part of the code keeps its findings, merged in the
	// parts' order below, which gives the lists of the sequential sweep.
	type partFindings struct {
		copies  map[uint64]*libioCopies
		callers [][2]uint64 // target, function
		by      map[int][]uint64
		inside  map[int][]uint64
		always  []int
		stray   bool
	}
	plan := g.planSweep(m, g.sweepWorkers())
	parts := make([]partFindings, len(plan.parts))
	scan.complete = g.sweepPartsParallel(plan, g.sweepWorkers(), isa.DecodeInto, func(p int) func(pc uint64, code []byte, e *isa.Effect) bool {
		part := &parts[p]
		part.copies, part.by, part.inside = map[uint64]*libioCopies{}, map[int][]uint64{}, map[int][]uint64{}
		return func(pc uint64, code []byte, e *isa.Effect) bool {
			if layout != nil {
				g.noteLibioCopy(m, pc, code, *e, layout, part.copies)
			}
			if hasLink && e.HasTarget && (e.Flow == isa.FlowCall || e.Flow == isa.FlowJump) {
				if fn, in := m.File.Containing(pc); in && fn.Addr != e.Target {
					part.callers = append(part.callers, [2]uint64{e.Target, fn.Addr})
				}
			}
			var addr uint64
			switch {
			case e.DefKind == isa.DefAddr:
				addr = uint64(e.DefValue)
			case mayReach(code[:e.Len], pc, lo, hi):
				ref, has, ok := fr.FixedRef(code, pc)
				if !ok {
					return false
				}
				if !has || !ref.Address {
					return true // a read of a slot, or a write: no table's address escapes
				}
				addr = ref.Addr
			default:
				return true
			}
			if addr < lo || addr >= hi {
				return true
			}
			i := tableOf(addr)
			fn, in := m.File.Containing(pc)
			switch {
			case i < 0:
				part.stray = true
			case !in:
				part.always = append(part.always, i)
			default:
				if !slices.Contains(part.by[i], fn.Addr) {
					part.by[i] = append(part.by[i], fn.Addr)
				}
				if addr != lo && !slices.Contains(part.inside[i], fn.Addr) {
					part.inside[i] = append(part.inside[i], fn.Addr)
				}
			}
			return true
		}
	})
	stray := false
	callers := map[uint64][]uint64{} // direct calls and jumps: target -> functions
	copies := map[uint64]*libioCopies{}
	for _, part := range parts {
		for fn, c := range part.copies {
			to := copies[fn]
			if to == nil {
				to = &libioCopies{}
				copies[fn] = to
			}
			to.loaded |= c.loaded
			to.stored |= c.stored
			to.moves = append(to.moves, c.moves...)
		}
		for _, c := range part.callers {
			callers[c[0]] = append(callers[c[0]], c[1])
		}
		for i := range tables {
			for _, fn := range part.by[i] {
				if !slices.Contains(scan.by[i], fn) {
					scan.by[i] = append(scan.by[i], fn)
				}
			}
			for _, fn := range part.inside[i] {
				if !slices.Contains(scan.inside[i], fn) {
					scan.inside[i] = append(scan.inside[i], fn)
				}
			}
		}
		for _, i := range part.always {
			scan.always[i] = true
		}
		stray = stray || part.stray
	}
	if stray {
		everything()
	}
	for fn, c := range copies {
		if c.copies() {
			scan.copiers = append(scan.copiers, fn)
		}
	}
	slices.Sort(scan.copiers)
	if hasLink {
		scan.linkers = []uint64{linkIn.Addr}
		for level := 0; level < 2; level++ {
			for _, l := range slices.Clone(scan.linkers) {
				for _, c := range callers[l] {
					if !slices.Contains(scan.linkers, c) {
						scan.linkers = append(scan.linkers, c)
					}
				}
			}
		}
	}
	return scan, true
}

// update adds the tables whose installers became reachable, and the
// tables held only as wide tables once a copier is. Once a symbol lookup
// is reachable (dlsym.go), every installer, copier and printf registrar
// counts as reached: each may be called through a pointer dlsym returned,
// which no edge may show (with --strict such a call stays unresolved, yet
// the stream it makes may be another entry's).
func (md *libioInstalls) update(reached []bool) bool {
	changed := false
	_, lookup := md.g.lookupReached(reached)
	isReached := func(id int) bool { return lookup || id < len(reached) && reached[id] }
	if !md.copied && slices.ContainsFunc(md.copiers, isReached) {
		md.copied = true
		for i := range md.tables {
			if t := &md.tables[i]; t.installed && !t.main {
				t.main = true
				changed = true
			}
		}
	}
	for i := range md.tables {
		t := &md.tables[i]
		if t.installed && t.main {
			continue
		}
		if slices.ContainsFunc(t.installers, isReached) {
			t.installed, t.main = true, true
			changed = true
		}
	}
	if md.undoHelperModel(isReached) {
		changed = true
	}
	if changed {
		md.apply()
	}
	return changed
}

// settled: every table that has installers is installed as a FILE's
// vtable, a copier is reached (or there is none), and the helper model is
// undone (or no registrar can undo it): update's every step is taken or
// can never be.
func (md *libioInstalls) settled() bool {
	for _, t := range md.tables {
		if !(t.installed && t.main) && len(t.installers) > 0 {
			return false
		}
	}
	return (md.copied || len(md.copiers) == 0) && (!md.m.helper.narrowed || len(md.handlerRegistrars) == 0)
}

// apply gives each slot hub the functions of that slot of the installed
// tables. The functions it links may be new nodes, whose calls through a
// slot no call used before make a new hub: those are narrowed too.
func (md *libioInstalls) apply() {
	for {
		md.narrowHubs()
		md.g.resolvePending()
		hubs := libioSlotHubs(md.m)
		if len(hubs) == len(md.hubs) {
			return
		}
		md.hubs = hubs
	}
}

func (md *libioInstalls) narrowHubs() {
	g, m := md.g, md.m
	words := m.File.SectionWords(libioSection)
	for _, h := range md.hubs {
		var targets []int
		installed := 0
		var premises []Premise
		for _, t := range md.tables {
			switch {
			case !t.installed:
				continue
			case h.kind != slotWide && !t.main:
				premises = appendPremise(premises, premiseWideData)
				continue
			case h.kind == slotChain && t.neverLinked:
				premises = appendPremise(premises, premiseLibioChain)
				continue
			case h.kind == slotPut && t.helper:
				premises = appendPremise(premises, premiseHelperPut)
				continue
			}
			installed++
			if w, ok := words[t.addr+uint64(h.off)]; ok && w != 0 {
				if fi, ok := m.File.FunctionIndex(w); ok {
					targets = append(targets, g.nodeFor(m, fi))
				}
			}
		}
		sort.Ints(targets)
		targets = slices.Compact(targets)
		edges := make([]Edge, 0, len(targets)+1)
		for _, t := range targets {
			edges = append(edges, Edge{To: t, Kind: frame.Call, Method: MethodLibioVtable})
		}
		if md.marker >= 0 {
			edges = append(edges, Edge{To: md.marker, Kind: frame.Call, Method: MethodGlibcModel})
		}
		hub := g.Nodes[h.hub]
		hub.Edges = edges
		hub.Premises = premises
		hub.name = fmt.Sprintf("[FILE jump table call: %d %s in %s (slot +%d of the %d of %d tables %s)]",
			len(targets), plural(len(targets), "function"), libioSection, h.off, installed, len(md.tables), libioKindTables[h.kind])
	}
}
