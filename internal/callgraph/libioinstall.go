package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"

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

// libioInstalls is the model, applied to one module's libio hubs.
type libioInstalls struct {
	g      *Graph
	m      *Module
	tables []libioTable
	hubs   []libioSlotHub
	marker int // the premise marker, -1 when the narrowing is proved
}

// libioTable is one jump table of the section: its slots' functions, and
// whether a stream can have it (installed), or which functions install it.
type libioTable struct {
	name       string
	addr, size uint64
	installers []int
	installed  bool
}

// libioSlotHub is a hub of libioHub, for slot off.
type libioSlotHub struct {
	hub int
	off int64
}

// libioSlotHubs returns module m's hubs of libioHub, by slot.
func libioSlotHubs(m *Module) []libioSlotHub {
	var hubs []libioSlotHub
	for key, nw := range m.narrowed {
		var off int64
		if _, err := fmt.Sscanf(key, "libio slot +%d", &off); err == nil && strings.HasPrefix(key, "libio slot +") && nw.count > 0 {
			hubs = append(hubs, libioSlotHub{hub: nw.hub, off: off})
		}
	}
	sort.Slice(hubs, func(i, j int) bool { return hubs[i].off < hubs[j].off })
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
	var tables []libioTable
	for _, s := range m.File.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Value >= sec.Addr && s.Value < sec.Addr+sec.Size && s.Size > 0 {
			if !slices.ContainsFunc(tables, func(t libioTable) bool { return t.addr == s.Value }) {
				tables = append(tables, libioTable{name: s.Name, addr: s.Value, size: s.Size})
			}
		}
	}
	if len(tables) == 0 {
		return nil
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].addr < tables[j].addr })
	inst, ok := g.libioInstallers(m, sec, tables)
	if !ok || !inst.complete && g.opts.Strict {
		return nil
	}
	for i := range tables {
		tables[i].installed = inst.always[i]
		for _, a := range inst.by[i] {
			fi, _ := m.File.FunctionIndex(a)
			tables[i].installers = append(tables[i].installers, g.nodeFor(m, fi))
		}
	}
	md := &libioInstalls{g: g, m: m, tables: tables, hubs: hubs, marker: -1}
	if !inst.complete {
		md.marker = len(g.Nodes)
		g.Nodes = append(g.Nodes, &Node{Module: m, Name: "[FILE jump tables of streams the program makes]", Frame: frame.Frame{Kind: frame.Static},
			Summary: MethodGlibcModel, Premises: []Premise{{Kind: PremiseGlibcModel, Detail: "a FILE jump table is in use only when code that computes its address " +
				"is reachable (part of " + m.Name + "'s code could not be decoded to see every such place)"}}})
	}
	md.apply()
	return md
}

// installScan is what a sweep of the module's code found: the functions
// that compute an address inside each table, the tables a stream may
// have whatever runs, and whether every byte decoded.
type installScan struct {
	by       [][]uint64
	always   []bool
	complete bool
}

// libioInstallers sweeps m's code and data for addresses inside the
// section's tables.
func (g *Graph) libioInstallers(m *Module, sec *elf.Section, tables []libioTable) (installScan, bool) {
	fr, ok := g.Decoder.(isa.FixedRefReader)
	if !ok {
		return installScan{}, false
	}
	scan := installScan{by: make([][]uint64, len(tables)), always: make([]bool, len(tables))}
	lo, hi := sec.Addr, sec.Addr+sec.Size
	tableOf := func(a uint64) int {
		i := sort.Search(len(tables), func(i int) bool { return tables[i].addr+tables[i].size > a })
		if i < len(tables) && tables[i].addr <= a {
			return i
		}
		return -1
	}
	everything := func() {
		for i := range scan.always {
			scan.always[i] = true
		}
	}
	// Data: the standard streams' initial tables, and any other pointer.
	for i, t := range tables {
		if m.File.DataRefersTo(t.addr, t.addr+t.size) {
			scan.always[i] = true
		}
	}
	// An exported table another module imports.
	dyn, _ := m.File.DynamicSymbols()
	for _, s := range dyn {
		if s.Section == elf.SHN_UNDEF || s.Value < lo || s.Value >= hi {
			continue
		}
		name, _, _ := strings.Cut(s.Name, "@")
		for _, other := range g.Modules {
			if other != m && importsAny(other.File, []string{name}) {
				if i := tableOf(s.Value); i >= 0 {
					scan.always[i] = true
				} else {
					everything()
				}
			}
		}
	}
	stray := false
	scan.complete = g.sweepCode(m, func(pc uint64, code []byte, e isa.Effect) bool {
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
			stray = true
		case !in:
			scan.always[i] = true
		case !slices.Contains(scan.by[i], fn.Addr):
			scan.by[i] = append(scan.by[i], fn.Addr)
		}
		return true
	})
	if stray {
		everything()
	}
	return scan, true
}

// update adds the tables whose installers became reachable.
func (md *libioInstalls) update(reached []bool) bool {
	changed := false
	for i := range md.tables {
		t := &md.tables[i]
		if t.installed {
			continue
		}
		if slices.ContainsFunc(t.installers, func(id int) bool { return id < len(reached) && reached[id] }) {
			t.installed = true
			changed = true
		}
	}
	if changed {
		md.apply()
	}
	return changed
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
	installed := 0
	for _, t := range md.tables {
		if t.installed {
			installed++
		}
	}
	for _, h := range md.hubs {
		var targets []int
		for _, t := range md.tables {
			if !t.installed {
				continue
			}
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
		hub.Name = fmt.Sprintf("[FILE jump table call: %d %s in %s (slot +%d of the %d of %d tables whose streams the program can make)]",
			len(targets), plural(len(targets), "function"), libioSection, h.off, installed, len(md.tables))
	}
}
