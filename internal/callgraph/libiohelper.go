package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// vfprintf's helper stream never writes to another helper stream.
//
// glibc 2.36's vfprintf, given an unbuffered stream s (UNBUFFERED_P: the
// _IO_UNBUFFERED bit of s->_flags), hands the work to buffered_vfprintf,
// which makes a FILE on its own stack (struct helper_file) with the jump
// table _IO_helper_jumps (the vfwprintf copy has one of the same name),
// sets helper._put_stream = s and runs vfprintf on the helper. The
// helper's overflow, _IO_helper_overflow (slot +24 of those tables), writes
// the helper's buffer to its put stream, _IO_sputn(target, ...): a call
// through the target's jump table, slot +56. The helper's flags are
// _IO_MAGIC|_IO_NO_READS|_IO_USER_LOCK, without _IO_UNBUFFERED, so the
// vfprintf run on it never makes a second helper for it, and a helper's put
// stream is always the unbuffered stream vfprintf was given, never a
// helper. So the calls through a jump table in _IO_helper_overflow go to
// the other tables only: they get a hub of their own ("libio put slot
// +k"), which the install model (libioinstall.go) narrows to the tables it
// gives the slot's other calls, less the helper tables.
//
// What the code shows: each function that computes a helper table's
// address stores a FILE's flags word (an immediate whose high half is
// _IO_MAGIC, 0xfbad) and no such word has _IO_UNBUFFERED (helperFlags).
// What is glibc's source, named, not shown: that nothing sets
// _IO_UNBUFFERED on a helper later (setvbuf on it from a printf handler a
// program registers would), that each jump-table call in
// _IO_helper_overflow is the one through its put stream, and that a
// helper is operated on only by the vfprintf run buffered_vfprintf makes
// on it. That is the premise premiseHelperPut (kind glibc-model; not with
// --strict, where the calls keep the slot's hub).
//
// The cycle that is left: a put stream's own functions call
// _IO_default_xsputn (_IO_new_file_xsputn does, directly), whose overflow
// call is through a hub that holds _IO_helper_overflow too (the graph does
// not know that FILE is the put stream, not a helper). On the premise,
// while a helper's overflow runs, no other helper's overflow starts unless
// a new helper is made in between (a function that installs a helper
// table, called on the way), and the helper's own is not entered again:
// its closing PUTC finds room (the buffer was written out) and its put
// stream's functions never reach the helper. So where every cycle of the
// component passes through a helper's overflow, and no function that
// installs a helper table is in it, a path inside the component meets a
// helper's overflow at most once: before it and after it, each member at
// most once, two trips (boundHelperRecursion, Node.RecursionDepth).

// premiseHelperPut is the premise of the put hubs' narrowing and of the
// depth of the helper's cycle.
const premiseHelperPut = "vfprintf's helper stream (buffered_vfprintf, _IO_helper_jumps) writes only to the stream vfprintf was given, never " +
	"to another helper: glibc 2.36 makes a helper only for an unbuffered stream, and nothing makes a helper unbuffered " +
	"(its flags, checked in the code, do not have _IO_UNBUFFERED; a printf handler calling setvbuf on its stream would); " +
	"only buffered_vfprintf makes a helper (a function that computes a helper table's address and stores a FILE's flags word), " +
	"a helper is operated on only by the vfprintf run on it, and _IO_helper_overflow's closing PUTC finds room"

// helperTableName is the name of the helper streams' jump tables (both
// copies are static, so only the debug symbols name them).
const helperTableName = "_IO_helper_jumps"

// ioUnbuffered and ioMagic are glibc's _IO_UNBUFFERED flag and the magic
// in the high half of every FILE's _flags (libio/libio.h).
const (
	ioUnbuffered = 0x2
	ioMagic      = 0xfbad0000
)

// libioHelper is the helper model's state for one module.
type libioHelper struct {
	// overflows are the helper tables' overflow functions (nil: not read
	// yet).
	overflows []uint64
	// narrowed: the install model took the helper tables out of the put
	// hubs; installers are the nodes of the functions that install a
	// helper table.
	narrowed   bool
	installers []int
}

// helperOverflows returns the addresses of the functions in slot +24
// (overflow) of m's helper tables.
func helperOverflows(m *Module) []uint64 {
	sec := m.File.ELF.Section(libioSection)
	if sec == nil {
		return nil
	}
	words := m.File.SectionWords(libioSection)
	var out []uint64
	for _, s := range m.File.Symbols() {
		if s.Name != helperTableName || elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Value < sec.Addr || s.Value >= sec.Addr+sec.Size {
			continue
		}
		if w, ok := words[s.Value+24]; ok && w != 0 && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// isHelperOverflow says whether node n is a helper table's overflow
// function (not with --strict).
func (g *Graph) isHelperOverflow(m *Module, n *Node) bool {
	if g.opts.Strict || n.Func == nil {
		return false
	}
	if m.helper.overflows == nil {
		m.helper.overflows = append([]uint64{}, helperOverflows(m)...)
	}
	return slices.Contains(m.helper.overflows, n.Func.Addr)
}

// helperMakers returns the functions among candidates (those that
// compute an address inside a helper table) that store a FILE's flags
// word, a 32-bit immediate with _IO_MAGIC in its high half: the ones
// that make a helper (buffered_vfprintf; a vtable check computes the
// section's start, which is the first helper table's address, but stores
// no flags). ok says that there is one at least, and that none of those
// words has _IO_UNBUFFERED: the helper made is buffered. A candidate it
// cannot decode fails the check.
func helperMakers(m *Module, candidates []uint64) (makers []uint64, ok bool) {
	for _, a := range candidates {
		fi, found := m.File.FunctionIndex(a)
		if !found {
			return nil, false
		}
		fn := m.File.Functions[fi]
		code, err := m.File.Code(fn.Addr, fn.Size)
		if err != nil {
			return nil, false
		}
		stores := false
		for off := 0; off < len(code); {
			in, err := x86asm.Decode(code[off:], 64)
			if err != nil {
				return nil, false
			}
			off += in.Len
			if in.Op != x86asm.MOV || in.MemBytes != 4 {
				continue
			}
			if _, toMem := in.Args[0].(x86asm.Mem); !toMem {
				continue
			}
			if imm, isImm := in.Args[1].(x86asm.Imm); isImm && uint32(imm)&0xffff0000 == ioMagic {
				if uint32(imm)&ioUnbuffered != 0 {
					return nil, false
				}
				stores = true
			}
		}
		if stores {
			makers = append(makers, a)
		}
	}
	return makers, len(makers) > 0
}

// boundHelperRecursion gives the cycle through a helper's overflow a
// depth of two trips (see above), on the premise, when every cycle of its
// component passes through a helper's overflow and no function that
// installs a helper table is in it. Run when the graph's edges are final;
// cyc finds the cycles.
func (g *Graph) boundHelperRecursion(cyc *cycles) {
	if g.opts.Strict {
		return
	}
	for _, m := range g.Modules[1:] {
		if !m.helper.narrowed || len(m.helper.installers) == 0 {
			continue
		}
		overflows := map[int]bool{}
		comp := map[int]bool{}
		first := -1
		for _, a := range helperOverflows(m) {
			fi, ok := m.File.FunctionIndex(a)
			if !ok || m.File.Functions[fi].Addr != a {
				continue
			}
			id := g.nodeFor(m, fi)
			overflows[id] = true
			// A node of a component already found has that component:
			// one walk of the graph (most of it, for node) is enough.
			if !comp[id] {
				for v := range cyc.through(id) {
					comp[v] = true
				}
			}
			if first < 0 || id < first {
				first = id
			}
		}
		if len(comp) == 0 || !g.acyclicWithoutAny(comp, overflows) {
			continue
		}
		if slices.ContainsFunc(m.helper.installers, func(id int) bool { return comp[id] }) {
			continue
		}
		// One node of the component carries the depth and the premise
		// (the bound takes the component's depth from any of its nodes).
		n := g.Nodes[first]
		if n.RecursionDepth >= 2 {
			continue
		}
		n.RecursionDepth = 2
		n.Premises = append(n.Premises, Premise{Kind: PremiseGlibcModel, Site: n.Func.Addr, Detail: premiseHelperPut +
			fmt.Sprintf(": a path through the %d nodes of the helper's cycle meets its overflow at most once, 2 trips", len(comp))})
	}
}

// helperTables returns the helper tables that the put hubs leave out,
// with the functions that make a helper: every helper table, when those
// functions are found and their flags checked (helperMakers); ok is
// false otherwise, and when there is none. It reads m's file alone.
func helperTables(m *Module, tables []libioTable, inst installScan) (helpers []int, makers []uint64, ok bool) {
	for i := range tables {
		if !isHelperTable(m, tables[i].addr) {
			continue
		}
		mk, ok := helperMakers(m, inst.by[i])
		if !ok {
			return nil, nil, false
		}
		helpers = append(helpers, i)
		makers = append(makers, mk...)
	}
	return helpers, makers, len(helpers) > 0
}

// markHelperTables marks the helper tables (helperTables' answer) that
// the put hubs leave out (not with --strict).
func (g *Graph) markHelperTables(m *Module, tables []libioTable, helpers []int, makers []uint64) {
	if g.opts.Strict {
		return
	}
	for _, i := range helpers {
		tables[i].helper = true
	}
	m.helper.narrowed = true
	m.helper.installers = nil
	for _, a := range makers {
		if fi, ok := m.File.FunctionIndex(a); ok {
			m.helper.installers = append(m.helper.installers, g.nodeFor(m, fi))
		}
	}
}

// isHelperTable says whether a helper table starts at addr (by any of
// its symbols' names).
func isHelperTable(m *Module, addr uint64) bool {
	for _, s := range m.File.Symbols() {
		if s.Value == addr && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Name == helperTableName {
			return true
		}
	}
	return false
}

// helperHandlerRegistrars are the nodes of m's printf registrars
// (register_printf_specifier and the like). A handler they register is
// called by vfprintf with the stream it prints to, which is the helper
// when the program's stream is unbuffered: the handler can do anything
// with it (setvbuf(helper, NULL, _IONBF, 0) and a printf on it make a
// second helper whose put stream is the first). The premise that only
// the vfprintf run on it operates on a helper is then not the program's,
// so the helper model is undone once one is reachable.
func (g *Graph) helperHandlerRegistrars(m *Module) []int {
	if !m.helper.narrowed {
		return nil
	}
	var ids []int
	for _, name := range printfRegistry.registrars {
		if fn, ok := m.File.Lookup(name); ok {
			if fi, ok := m.File.FunctionIndex(fn.Addr); ok {
				ids = append(ids, g.nodeFor(m, fi))
			}
		}
	}
	return ids
}

// undoHelperModel puts the helper tables back in the put hubs and keeps
// boundHelperRecursion off once a printf registrar is reached (see
// helperHandlerRegistrars); it reports whether it changed the tables.
func (md *libioInstalls) undoHelperModel(isReached func(int) bool) bool {
	if !md.m.helper.narrowed || !slices.ContainsFunc(md.handlerRegistrars, isReached) {
		return false
	}
	md.m.helper.narrowed = false
	md.m.helper.installers = nil
	for i := range md.tables {
		md.tables[i].helper = false
	}
	return true
}
