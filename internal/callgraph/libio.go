package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// MethodLibioVtable is the method of the edges of a call through a glibc
// FILE's vtable slot: the functions in that slot of the tables of glibc's
// __libc_IO_vtables section.
const MethodLibioVtable = "libio-vtable"

// libioSection is where glibc keeps every FILE jump table it accepts.
const libioSection = "__libc_IO_vtables"

// libioVtable links an indirect call of module m that reads its target
// from a FILE's jump table (`call [r+k]`, r the vtable pointer of a struct
// _IO_FILE_plus) to the functions in slot k of the tables in glibc's
// __libc_IO_vtables section, and reports whether it did.
//
// Why that is all: glibc validates the pointer before every such call
// (IO_validate_vtable: `r - __start___libc_IO_vtables` compared, unsigned,
// with the section's size; outside it, _IO_vtable_check, which aborts the
// process unless libc runs in a namespace of its own (dlmopen) or ld.so is
// not active; the compatibility flag for libc5-era binaries does not exist
// on x86-64). The code's shape is checked, not assumed: in the straight-line
// code before the call, r is copied (for the subtraction of the section's
// start, which the function loads), a conditional branch goes to a block
// that calls _IO_vtable_check, every other way into the code between
// comes back from that block, and nothing the decoder describes writes r
// after the copy. The word read is
// then one of the section's: with the tables' symbols (libc's .symtab or
// its libc6-dbg debug file) the word at k of each table, otherwise every
// function the section holds.
func (g *Graph) libioVtable(id int, cs frame.CallSite) bool {
	n := g.Nodes[id]
	m := n.Module
	v := cs.From
	if g.Arch != binfile.ArchX86_64 || v == nil || v.Kind != frame.ValueLoad || v.Off != 0 || v.Addr == nil {
		return false
	}
	a := v.Addr
	if a.Indexed || a.Off < 0 {
		return false
	}
	sec := m.File.ELF.Section(libioSection)
	if sec == nil || n.Func == nil {
		return false
	}
	// Whether the code loads the slot from a vtable it validates depends
	// on the library alone: asked once per call site (libcache keeps the
	// answer, for the next program too).
	key := fmt.Sprintf("libio-validated %x %x %x", n.Func.Addr, n.Func.Size, cs.Addr)
	if g.libraryStore(m).Fact(key, func() int64 {
		if g.validatedVtableCall(m, n, a, cs) {
			return 1
		}
		return 0
	}) == 0 {
		return false
	}
	nw, ok := g.libioHub(m, sec, a.Off)
	if !ok {
		return false
	}
	g.addEdge(id, nw.hub, cs, MethodLibioVtable)
	return true
}

// validatedVtableCall says whether the call at cs loads its target from
// a vtable slot (Load(a)) after checking the vtable, as glibc's libio does.
func (g *Graph) validatedVtableCall(m *Module, n *Node, a *frame.Value, cs frame.CallSite) bool {
	sec := m.File.ELF.Section(libioSection)
	reg, at := a.Reg, a.At
	switch a.Kind {
	case frame.ValueReg:
	case frame.ValueLoad:
		// The walk back went past the load through the vtable pointer
		// into where the pointer came from (`mov rbx,[rdi+0xd8]` ...
		// `mov rax,[rbx+24]; pop rbx; jmp rax`, __overflow's tail
		// call): find that load.
		var ok bool
		if reg, at, ok = g.vtableLoad(m, n, a, cs.Addr); !ok {
			return false
		}
	default:
		return false
	}
	if g.validatesVtable(m, n, reg, at, sec) {
		return true
	}
	// The walk back may have stopped before the check (it reads at most
	// a few instructions): validate from the slot's load.
	l, ok := g.slotLoad(m, n, reg, a.Off, cs.Addr)
	return ok && l != at && g.validatesVtable(m, n, reg, l, sec)
}

// slotLoad returns the last instruction before the call at site that
// loads [r+off] into the register the call goes through, with only
// straight-line code that no branch enters between them.
func (g *Graph) slotLoad(m *Module, n *Node, r int8, off int64, site uint64) (uint64, bool) {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return 0, false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	if i < 0 || !insts[i].e.HasCallReg {
		return 0, false
	}
	target := insts[i].e.CallReg
	for j := i - 1; j >= 0 && i-j <= 16; j-- {
		e := insts[j].e
		if len(from[insts[j+1].addr]) > 0 || e.Flow != isa.FlowNext {
			return 0, false
		}
		if e.DefKind == isa.DefLoad && e.HasMem && e.MemBase == r && e.MemIndex < 0 && e.MemDisp == off && e.DefReg == target {
			return insts[j].addr, true
		}
		if e.DefKind != isa.DefNone && e.DefReg == target {
			return 0, false
		}
	}
	return 0, false
}

// vtableLoad finds, for a call whose target is Load(a) with a =
// Load(b)+k, the instruction that reads the slot: b is read where the
// vtable pointer is loaded into a register r (b.At), and the slot's load
// is the last instruction before the call that loads [r+k] into the
// register the call goes through, with only straight-line code between
// that no branch enters. It returns r and that load's address.
func (g *Graph) vtableLoad(m *Module, n *Node, a *frame.Value, site uint64) (int8, uint64, bool) {
	b := a.Addr
	if b == nil || b.Kind != frame.ValueReg || b.Indexed {
		return 0, 0, false
	}
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return 0, 0, false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	p := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == b.At })
	if i < 0 || p < 0 || p >= i || !insts[i].e.HasCallReg {
		return 0, 0, false
	}
	pe := insts[p].e
	if pe.DefKind != isa.DefLoad || pe.DefReg < 0 {
		return 0, 0, false
	}
	r, target := pe.DefReg, insts[i].e.CallReg
	for j := i - 1; j > p; j-- {
		e := insts[j].e
		if len(from[insts[j+1].addr]) > 0 || e.Flow != isa.FlowNext {
			return 0, 0, false
		}
		if e.DefKind == isa.DefLoad && e.HasMem && e.MemBase == r && e.MemIndex < 0 && e.MemDisp == a.Off && e.DefReg == target {
			return r, insts[j].addr, true
		}
	}
	return 0, 0, false
}

// validatesVtable checks the shape of IO_validate_vtable before `at`, where
// register reg holds the vtable pointer the call reads through.
func (g *Graph) validatesVtable(m *Module, n *Node, reg int8, at uint64, sec *elf.Section) bool {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == at })
	if i < 0 {
		return false
	}
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	if !ok {
		return false
	}
	// The section's start, which the check subtracts, is loaded somewhere
	// in the function (GCC hoists it out of loops over the FILE list).
	start := slices.ContainsFunc(insts, func(in linearInst) bool {
		return in.e.DefKind == isa.DefAddr && uint64(in.e.DefValue) == sec.Addr
	})
	if !start {
		return false
	}
	var copied, check bool
	for j := i - 1; j >= 0 && i-j <= 12; j-- {
		e := insts[j].e
		switch {
		case e.DefKind == isa.DefCopy && e.DefSrc == reg && e.DefReg != reg:
			if !check {
				return false // the copy must be before the branch
			}
			copied = true
		case e.Flow == isa.FlowCondJump && e.HasTarget:
			// Every other path into the code between the branch and
			// the call must come back from the check block.
			if !check && g.callsVtableCheck(m, e.Target, checkFn.Addr) {
				for _, in := range insts[j+1 : i+1] {
					for _, src := range from[in.addr] {
						if in.addr != at || src < e.Target || src >= e.Target+32 {
							return false
						}
					}
				}
				check = true
			}
		case e.Flow != isa.FlowNext:
			return false
		case e.DefKind != isa.DefNone && e.DefReg == reg && !copied:
			return false // r written between the check and the call
		}
		if copied && check {
			return true
		}
	}
	return false
}

// callsVtableCheck says whether the code at addr calls _IO_vtable_check
// within its first few instructions.
func (g *Graph) callsVtableCheck(m *Module, addr, check uint64) bool {
	code, err := m.File.Code(addr, 32)
	if err != nil {
		return false
	}
	for off, k := 0, 0; off < len(code) && k < 4; k++ {
		e, err := g.Decoder.Decode(code[off:], addr+uint64(off))
		if err != nil || e.Len <= 0 {
			return false
		}
		if e.Flow == isa.FlowCall && e.HasTarget && e.Target == check {
			return true
		}
		off += e.Len
	}
	return false
}

// libioHub returns the node standing for slot off of glibc's FILE jump
// tables.
func (g *Graph) libioHub(m *Module, sec *elf.Section, off int64) (narrowed, bool) {
	key := fmt.Sprintf("libio slot +%d", off)
	if nw, ok := m.narrowed[key]; ok {
		return nw, nw.count > 0
	}
	funcs, ok := m.File.SectionFunctions(libioSection)
	if !ok {
		return narrowed{}, false
	}
	var tables []uint64
	for _, s := range m.File.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Value >= sec.Addr && s.Value < sec.Addr+sec.Size && s.Size > 0 {
			tables = append(tables, s.Value)
		}
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i] < tables[j] })
	tables = slices.Compact(tables)
	how := "every function of the section (its tables' symbols are not known)"
	var targets []int
	if len(tables) > 0 {
		how = fmt.Sprintf("slot +%d of %d tables", off, len(tables))
		words := m.File.SectionWords(libioSection)
		for _, t := range tables {
			if w, ok := words[t+uint64(off)]; ok && w != 0 {
				fi, _ := m.File.FunctionIndex(w)
				targets = append(targets, g.nodeFor(m, fi))
			}
		}
	} else {
		for _, f := range funcs {
			fi, _ := m.File.FunctionIndex(f)
			targets = append(targets, g.nodeFor(m, fi))
		}
	}
	nw := g.subsetHub(m, key, MethodLibioVtable, targets, func(c int) string {
		return fmt.Sprintf("FILE jump table call: %d %s in %s (%s)", c, plural(c, "function"), libioSection, how)
	})
	return nw, nw.count > 0
}

// tailJump says whether the indirect jump at pc is one of node n's tail
// calls in a function with no jump table: the frame walker then reached
// all of the function's code by direct paths (frame.Frame.JumpTables), so
// the jump lands nowhere in it. (__overflow ends with `jmp [vtable+24]`
// after glibc's vtable check.)
func tailJump(n *Node, pc uint64) bool {
	if n.Frame.JumpTables != 0 {
		return false
	}
	for _, cs := range n.Frame.Calls {
		if cs.Addr == pc && cs.Kind == frame.IndirectTailCall {
			return true
		}
	}
	return false
}

// linearInst is one instruction of a linear decode of a function.
type linearInst struct {
	addr uint64
	e    isa.Effect
}

// decodeLinear decodes node n's function from its start, in address order,
// and returns its instructions and, for each target of its direct
// branches, where they branch from. ok is false when the function has a
// jump table (a branch could land anywhere): an indirect jump that is not
// a tail call of a function without jump tables (tailJump).
func (g *Graph) decodeLinear(m *Module, n *Node) ([]linearInst, map[uint64][]uint64, bool) {
	fn := n.Func
	if fn == nil {
		return nil, nil, false
	}
	code, err := m.File.Code(fn.Addr, fn.Size)
	if err != nil {
		return nil, nil, false
	}
	var insts []linearInst
	targets := map[uint64][]uint64{}
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		e, err := g.Decoder.Decode(code[off:], pc)
		if err != nil || e.Len <= 0 {
			break
		}
		insts = append(insts, linearInst{pc, e})
		if e.HasTarget && (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) {
			targets[e.Target] = append(targets[e.Target], pc)
		}
		if e.Flow == isa.FlowIndirectJump && !e.HasSlot && !tailJump(n, pc) {
			return nil, nil, false
		}
		off += e.Len
	}
	return insts, targets, true
}
