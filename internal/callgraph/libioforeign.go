package callgraph

import (
	"debug/dwarf"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// The streams a program uses are glibc's own: fopen, fdopen, fmemopen,
// fopencookie, open_memstream and the standard streams all give a FILE
// one of the jump tables of __libc_IO_vtables. glibc's check before each
// call through a FILE's table (IO_validate_vtable) calls
// _IO_vtable_check only when the table lies outside that section: a
// stream the program built itself with a table of its own (libio's
// internal layout, as libstdc++ did before GCC 3). _IO_vtable_check then
// accepts it (libc in a namespace of its own, or the compatibility flag)
// and the call goes through the foreign table, to any function; or it
// ends the process (__libc_fatal). Both are on the path of every stdio
// call and every exit (_IO_cleanup): the address-taken set, and, through
// _dl_addr, a lazily bound PLT slot of libc.

// PremiseGlibcStreams is the premise of the model below.
const premiseGlibcStreams = "every FILE the program uses is glibc's own (its jump table in __libc_IO_vtables): " +
	"_IO_vtable_check, and the calls through a foreign table after it, run only for a stream the program built itself"

// assumeGlibcStreams cuts, in libc's functions, the calls of
// _IO_vtable_check (glibc 2.36 calls it only from IO_validate_vtable,
// for a table outside the section) and the indirect calls that only the
// code right after such a call reaches (straight-line code no branch
// enters between the two), under the assumption that no such stream
// exists. Each function cut calls, in their place, one marker node that
// carries the premise, so that an entry lists it once. Not with --strict
// (an assumption).
func (g *Graph) assumeGlibcStreams() {
	if g.opts.Strict {
		return
	}
	for _, m := range g.Modules[1:] {
		check, ok := m.File.Lookup("_IO_vtable_check")
		if !ok || m.File.ELF.Section(libioSection) == nil {
			continue
		}
		marker := -1
		for _, id := range slices.Sorted(m.nodes.all()) {
			n := g.Nodes[id]
			if n.Func == nil || n.Func.Addr == check.Addr {
				continue
			}
			var checks []uint64
			for _, cs := range n.Frame.Calls {
				if !cs.Kind.Indirect() && cs.Target == check.Addr {
					checks = append(checks, cs.Addr)
				}
			}
			wide := g.wideVtableCalls(m, id)
			if len(checks) == 0 && len(wide) == 0 {
				continue
			}
			if marker < 0 {
				marker = len(g.Nodes)
				g.Nodes = append(g.Nodes, &Node{Module: m, name: "[glibc's streams only]", Frame: frame.Frame{Kind: frame.Static},
					Summary: MethodGlibcModel.String(), Premises: []Premise{{Kind: PremiseGlibcModel, Detail: premiseGlibcStreams}}})
			}
			if len(wide) > 0 {
				g.addEdge(id, marker, frame.CallSite{Addr: wide[0], Kind: frame.Call}, MethodGlibcModel)
			}
			if len(checks) == 0 {
				continue
			}
			cut := map[uint64]bool{}
			for _, c := range checks {
				cut[c] = true
			}
			for _, s := range g.onlyAfter(m, n, checks) {
				cut[s] = true
			}
			n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return cut[e.Site] })
			n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return cut[a.Site] })
			n.Unresolved = slices.DeleteFunc(n.Unresolved, func(cs frame.CallSite) bool { return cut[cs.Addr] })
			g.addEdge(id, marker, frame.CallSite{Addr: checks[0], Kind: frame.Call}, MethodGlibcModel)
		}
	}
}

// onlyAfter returns node n's indirect call sites that run only after one
// of the calls at checks: between such a call and the site, straight-line
// code (every instruction FlowNext) that no direct branch of the function
// enters, in a function whose every way in is a direct branch (no jump
// table: decodeLinear).
func (g *Graph) onlyAfter(m *Module, n *Node, checks []uint64) []uint64 {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return nil
	}
	var out []uint64
	for _, cs := range n.Frame.Calls {
		if !cs.Kind.Indirect() || cs.HasSlot {
			continue
		}
		i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == cs.Addr })
		for j := i - 1; i >= 0 && j >= 0; j-- {
			if len(from[insts[j+1].addr]) > 0 {
				break
			}
			if slices.Contains(checks, insts[j].addr) {
				out = append(out, cs.Addr)
				break
			}
			if insts[j].e.Flow != isa.FlowNext {
				break
			}
		}
	}
	return out
}

// wideVtableCalls links node id's calls through a wide stream's jump
// table, `call [[wd+W]+k]` with W the offset of _wide_vtable in struct
// _IO_wide_data, to slot k of the __libc_IO_vtables tables, and returns
// their sites. glibc 2.36 does not check that pointer (its wide-character
// functions call through _IO_WIDE_JUMPS without IO_validate_vtable); the
// tables glibc puts there (_IO_wfile_jumps and the other wide ones) are
// in that section, so under the same premise (every stream is glibc's)
// the call reaches that slot of them. W comes from libc's debug file
// (libc6-dbg's DWARF); without it nothing is linked.
func (g *Graph) wideVtableCalls(m *Module, id int) []uint64 {
	n := g.Nodes[id]
	w, ok := g.wideVtableOffset(m)
	if !ok {
		return nil
	}
	sec := m.File.ELF.Section(libioSection)
	var out []uint64
	for _, cs := range n.Frame.Calls {
		v := cs.From
		if !cs.Kind.Indirect() || cs.HasSlot || v == nil || v.Kind != frame.ValueLoad || v.Off != 0 || v.Indexed || v.Addr == nil {
			continue
		}
		slot := v.Addr
		if slot.Kind != frame.ValueLoad || slot.Indexed || slot.Off < 0 || slot.Off%8 != 0 || slot.Addr == nil {
			continue
		}
		table := slot.Addr
		if table.Indexed || table.Off != w || (table.Kind != frame.ValueReg && table.Kind != frame.ValueLoad) {
			continue
		}
		nw, ok := g.libioKindHub(m, sec, slot.Off, slotWide)
		if !ok {
			continue
		}
		site := cs.Addr
		n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == site })
		n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return a.Site == site })
		n.Unresolved = slices.DeleteFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site })
		g.addEdge(id, nw.hub, cs, MethodLibioVtable)
		out = append(out, site)
	}
	return out
}

// wideVtableOffset reads the offset of _wide_vtable in struct
// _IO_wide_data from the DWARF of m's debug file, once.
func (g *Graph) wideVtableOffset(m *Module) (int64, bool) {
	if m.wideVtable == 0 {
		// The debug file goes with the build ID: libcache keeps the answer.
		m.wideVtable = g.libraryStore(m).Fact("wide-vtable-offset", func() int64 { return readWideVtableOffset(m.File) })
	}
	return m.wideVtable, m.wideVtable > 0
}

// readWideVtableOffset is wideVtableOffset from the DWARF, -1 when it
// cannot be read; once per debug file (a prefetch may have read it, see
// debugprefetch.go).
func readWideVtableOffset(file *binfile.File) int64 {
	if file.DebugSymbols == "" {
		return -1
	}
	return wideVtableOffsets.get(file, func(file *binfile.File) int64 {
		off := int64(-1)
		withDebugDWARF(file, func(d *dwarf.Data) { off = wideVtableOffsetIn(d) })
		return off
	})
}

var wideVtableOffsets debugFileCache[int64]

// wideVtableOffsetIn is the offset of _wide_vtable in struct
// _IO_wide_data in the DWARF d, -1 when not known.
func wideVtableOffsetIn(d *dwarf.Data) int64 {
	return wideVtableOffsetOf(memberOffsets(d, "_IO_wide_data", "_wide_vtable"))
}

// wideVtableOffsetOf is the offset of _wide_vtable in struct
// _IO_wide_data's members read (memberOffsets), -1 when not known.
func wideVtableOffsetOf(members map[string]int64) int64 {
	if o, ok := members["_wide_vtable"]; ok && o > 0 {
		return o
	}
	return -1
}
