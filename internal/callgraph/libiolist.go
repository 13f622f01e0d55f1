package callgraph

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
	"golang.org/x/arch/x86/x86asm"
)

// Calls through the jump table of a stream on _IO_list_all. glibc's walks
// over every open stream (_IO_flush_all_lockp, which exit's _IO_cleanup
// runs; _IO_unbuffer_all; _IO_flush_all_linebuffered) take each FILE from
// _IO_list_all, then from the previous one's _chain, and call through its
// table. A FILE gets on that chain only through _IO_link_in, which glibc
// 2.36 runs for the streams _IO_new_file_init_internal and _IO_file_open
// set up (fopen, fdopen, freopen, tmpfile, popen, fopencookie, fmemopen,
// dprintf's temporary stream) and the standard streams link statically.
// The streams glibc makes on the stack for one call (vfprintf's helper
// stream, the string streams of sprintf, snprintf, asprintf, sscanf,
// strfromd and strfmon, obstack_printf's, open_memstream's) never are.
//
// Which FILE a call goes through is read from the code (chainFILECall):
// the register the slot's table came from holds, on every path to the
// call, a FILE loaded from _IO_list_all or from a FILE's _chain (offsets
// from libc's DWARF). Such a call gets its own hub per slot ("libio chain
// slot +k"), which the install model (libioinstall.go) narrows to the
// tables of linked streams: the tables it would give the slot's other
// calls, less neverLinkedTables. That these tables never go on the chain
// is glibc's source, named, not shown by the code: a premise of kind
// glibc-model (not with --strict, where the call keeps the slot's hub).
// The code is asked only to agree: a table stays in when a function that
// computes its address calls _IO_link_in, or a function that does
// (libioInstalls.linkGuard).

// neverLinkedTables are the jump tables of glibc 2.36's streams that
// _IO_link_in never puts on _IO_list_all (libio/vtables.c's list, less
// the tables of fopen, fdopen, popen, fopencookie and their mmap and wide
// variants).
var neverLinkedTables = []string{
	"_IO_helper_jumps",                                     // vfprintf's and vfwprintf's helper streams (buffered_vfprintf)
	"_IO_str_jumps", "_IO_strn_jumps", "_IO_str_chk_jumps", // sprintf, snprintf, __sprintf_chk, sscanf, asprintf
	"_IO_wstr_jumps", "_IO_wstrn_jumps", // swprintf, swscanf
	"_IO_obstack_jumps",               // obstack_printf
	"_IO_mem_jumps", "_IO_wmem_jumps", // open_memstream, open_wmemstream
}

// premiseLibioChain is the premise of the chain hubs' narrowing.
const premiseLibioChain = "a FILE on _IO_list_all (read from it or from a FILE's _chain) has the jump table of a stream glibc links " +
	"(_IO_link_in: fopen, fdopen, freopen, tmpfile, popen, fopencookie, fmemopen, dprintf, the standard streams), never one of " +
	"glibc 2.36's tables named for vfprintf's helper, string, obstack and memory streams (_IO_helper_jumps, _IO_str*_jumps, " +
	"_IO_wstr*_jumps, _IO_obstack_jumps, _IO_mem_jumps, _IO_wmem_jumps)"

// Slot hub kinds: the key of module.narrowed is "libio " + kind + "slot +k".
const (
	slotMain  = ""       // a FILE's vtable, the FILE from anywhere
	slotChain = "chain " // a FILE's vtable, the FILE from _IO_list_all
	slotWide  = "wide "  // a wide stream's _wide_vtable (wideVtableCalls)
	slotPut   = "put "   // a FILE's vtable, the FILE a helper's put stream (libiohelper.go)
)

// libioKindWhat tells the hubs' names apart.
var libioKindWhat = map[string]string{
	slotMain:  "",
	slotChain: ", the FILE a stream on _IO_list_all",
	slotWide:  ", a wide stream's _wide_vtable",
	slotPut:   ", the FILE vfprintf's helper writes to",
}

// isNeverLinked says whether a table of neverLinkedTables starts at addr
// (by any of its symbols' names).
func isNeverLinked(m *Module, addr uint64) bool {
	for _, s := range m.File.Symbols() {
		if s.Value == addr && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && slices.Contains(neverLinkedTables, s.Name) {
			return true
		}
	}
	return false
}

// libioSlotHubFor is libioHub for a call at site of node n: the chain's
// hub when the FILE it calls through comes from _IO_list_all.
func (g *Graph) libioSlotHubFor(m *Module, n *Node, sec *elf.Section, off int64, site uint64) (narrowed, bool) {
	if !g.opts.Strict && g.chainFILECall(m, n, site) {
		return g.libioKindHub(m, sec, off, slotChain)
	}
	if g.isHelperOverflow(m, n) {
		return g.libioKindHub(m, sec, off, slotPut)
	}
	return g.libioHub(m, sec, off)
}

// chainFILECall says whether the call at site reads its target from the
// jump table of a FILE taken from _IO_list_all (chainCall), once per call
// site (libcache keeps the answer).
func (g *Graph) chainFILECall(m *Module, n *Node, site uint64) bool {
	if n.Func == nil {
		return false
	}
	key := fmt.Sprintf("libio-chain-call-1 %x %x %x", n.Func.Addr, n.Func.Size, site)
	return g.libraryStore(m).Fact(key, func() int64 {
		if g.chainCall(m, n, site) {
			return 1
		}
		return 0
	}) == 1
}

// What a register holds, for chainCall.
const (
	heldOther  uint8 = iota
	heldFILE         // a FILE from _IO_list_all or a FILE's _chain
	heldVtable       // that FILE's vtable
	heldSlot         // a word of that vtable
)

// chainCall reads node n's function forward from its entry, over every
// path (its direct branches and the jump tables decodeLinear proves),
// what each register holds: a FILE loaded from _IO_list_all or from
// [FILE+_chain], that FILE's vtable ([FILE+vtable]), a word of that
// vtable. A path's value is kept only when every path into an instruction
// agrees; any other write of the register (the decoder's MayWrite, a
// superset), a call (the caller-saved registers) or a way into the code
// from outside the function (its .cold part's jumps back) loses it. The
// call at site is a chain call when its operand is `k(r)` with r a
// chain FILE's vtable, or a register holding such a word.
func (g *Graph) chainCall(m *Module, n *Node, site uint64) bool {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok {
		return false
	}
	layout := libioLayoutOf(m)
	if layout == nil || layout.chain < 0 || layout.vtable < 0 {
		return false
	}
	listAll, ok := libioObjectNamed(m, "_IO_list_all")
	if !ok {
		return false
	}
	checkFn := uint64(0)
	if f, ok := m.File.Lookup("_IO_vtable_check"); ok {
		checkFn = f.Addr
	}
	lf, ok := g.linearFlow(m, n, false)
	if !ok {
		return false
	}
	insts, from, at, succ, outside := lf.insts, lf.from, lf.at, lf.succ, lf.outside
	c, ok := at[site]
	if !ok {
		return false
	}
	type state [16]uint8
	states := make([]*state, len(insts))
	unknown := &state{}
	states[0] = unknown
	for _, a := range outside {
		i, ok := at[a]
		if !ok {
			return false
		}
		states[i] = unknown
	}
	transfer := func(i int, in state) state {
		e := insts[i].e
		if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
			for r := range in {
				if callerSaved&(1<<uint(r)) != 0 {
					in[r] = heldOther
				}
			}
			return in
		}
		code, err := m.File.Code(insts[i].addr, uint64(e.Len))
		if err != nil {
			return state{}
		}
		held, def := heldOther, int8(-1)
		switch {
		case e.DefKind == isa.DefLoad && e.HasMem && e.MemIndex < 0 && e.DefReg >= 0 && e.DefReg < 16:
			def = e.DefReg
			base := heldOther
			if e.MemBase >= 0 && e.MemBase < 16 {
				base = in[e.MemBase]
			}
			switch {
			case e.MemBase < 0 && uint64(e.MemDisp) == listAll:
				held = heldFILE
			case base == heldFILE && e.MemDisp == layout.chain:
				held = heldFILE
			case base == heldFILE && e.MemDisp == layout.vtable:
				held = heldVtable
			case base == heldVtable:
				held = heldSlot
			}
		case e.DefKind == isa.DefCopy && e.DefValue != 32 && e.DefReg >= 0 && e.DefReg < 16 && e.DefSrc >= 0 && e.DefSrc < 16:
			def, held = e.DefReg, in[e.DefSrc]
		}
		if def >= 0 && e.DefKind == isa.DefLoad && e.MemBase == rsp {
			if k, src, ok := spilledAround(insts, from, i, checkFn); ok && states[k] != nil {
				held = states[k][src]
			}
		}
		mask := rw.MayWrite(code, insts[i].addr)
		for r := range in {
			if mask&(1<<uint(r)) != 0 {
				in[r] = heldOther
			}
		}
		if def >= 0 {
			in[def] = held
		}
		return in
	}
	// The forward fixpoint: a state only ever loses what it holds, so
	// each instruction is queued again at most a few times per register.
	work := []int{0}
	for _, a := range outside {
		work = append(work, at[a])
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		out := transfer(i, *states[i])
		for _, s := range succ[i] {
			if states[s] == nil {
				st := out
				states[s] = &st
				work = append(work, s)
				continue
			}
			changed := false
			for r := range out {
				if states[s][r] != out[r] && states[s][r] != heldOther {
					states[s][r] = heldOther
					changed = true
				}
			}
			if changed {
				work = append(work, s)
			}
		}
	}
	st := states[c]
	e := insts[c].e
	switch {
	case st == nil:
		return false // no path reaches the call
	case e.Flow != isa.FlowIndirectCall && e.Flow != isa.FlowIndirectJump:
		return false
	case e.HasCallReg:
		return e.CallReg >= 0 && e.CallReg < 16 && st[e.CallReg] == heldSlot
	case e.HasMem:
		return e.MemIndex < 0 && e.MemBase >= 0 && e.MemBase < 16 && st[e.MemBase] == heldVtable
	}
	return false
}

// rsp is x86-64's stack pointer, by its number.
const rsp = 4

// spilledAround reads glibc's vtable check block, which keeps the vtable
// pointer on the stack around the call of _IO_vtable_check:
//
//	83e00: mov %rax,0x8(%rsp)
//	83e05: call _IO_vtable_check
//	83e0a: mov 0x8(%rsp),%rax        <- insts[i]
//
// The load at insts[i] from [rsp+d] reads what insts[k] stored there from
// register src when the code from k to i is straight-line, no branch
// landing in it, and between only the call of _IO_vtable_check (check),
// which takes no argument and writes none of its caller's memory (it
// returns, or ends the process), other registers' spills to other words
// of the frame and reloads: nothing that moves SP or writes elsewhere.
func spilledAround(insts []linearInst, from map[uint64][]uint64, i int, check uint64) (int, int8, bool) {
	d := insts[i].e.MemDisp
	for k := i - 1; k >= 0 && i-k <= 4; k-- {
		if len(from[insts[k+1].addr]) > 0 {
			return 0, 0, false
		}
		e := insts[k].e
		if e.HasStore && e.Access == isa.BaseSP && e.AccessOff == d && e.AccessSize == 8 && e.SP == isa.SPNone && e.Flow == isa.FlowNext &&
			e.StoreSrc >= 0 && e.StoreSrc < 16 {
			return k, e.StoreSrc, true
		}
		called := check != 0 && e.Flow == isa.FlowCall && e.HasTarget && e.Target == check
		otherSpill := e.HasStore && e.Access == isa.BaseSP && e.AccessSize == 8 && (e.AccessOff+8 <= d || e.AccessOff >= d+8)
		reload := e.DefKind == isa.DefLoad && e.HasMem && e.MemBase == rsp
		if !called && (e.Flow != isa.FlowNext || e.SP != isa.SPNone || !otherSpill && !reload) {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// coldEntries returns the places in fn that code outside it jumps to:
// the direct branches of fn's cold part (GCC's "fn.cold", the unlikely
// paths it moves out and jumps back from). ok is false when that part
// does not decode, or leaves by an indirect jump.
func (g *Graph) coldEntries(m *Module, fn *binfile.Function) ([]uint64, bool) {
	var out, seen []uint64
	for _, name := range append([]string{fn.Name(), fn.LinkName}, fn.Aliases...) {
		cold, ok := m.File.Lookup(name + ".cold")
		if !ok || slices.Contains(seen, cold.Addr) {
			continue
		}
		seen = append(seen, cold.Addr)
		code, err := m.File.Code(cold.Addr, cold.Size)
		if err != nil {
			return nil, false
		}
		for off := 0; off < len(code); {
			pc := cold.Addr + uint64(off)
			e, err := g.Decoder.Decode(code[off:], pc)
			if err != nil || e.Len <= 0 {
				return nil, false
			}
			switch {
			case e.Flow == isa.FlowIndirectJump:
				return nil, false
			case e.HasTarget && e.Target >= fn.Addr && e.Target < fn.Addr+fn.Size:
				out = append(out, e.Target)
			}
			off += e.Len
		}
	}
	return out, true
}

// libioObjectNamed returns the address of m's data object name.
func libioObjectNamed(m *Module, name string) (uint64, bool) {
	for _, s := range m.File.Symbols() {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Value != 0 {
			return s.Value, true
		}
	}
	return 0, false
}

// premiseWideData is the premise of the narrowing of the tables data
// holds only as wide tables (libioinstall.go).
const premiseWideData = "a table the standard streams' wide data hold (_wide_vtable: _IO_wfile_jumps) becomes a FILE's vtable only in a function " +
	"that reads the one and writes the other (glibc 2.36: _IO_fwide, _IO_new_file_fopen with ccs=), none of them reachable here; " +
	"a table's address in libc's symbol table reaches a FILE only through a module that imports it"

// libioKindTables ends the hubs' names: which tables count.
var libioKindTables = map[string]string{
	slotMain:  "whose streams the program can make",
	slotChain: "of streams on _IO_list_all the program can make",
	slotWide:  "the program's wide streams can hold",
	slotPut:   "of streams the program can make, less vfprintf's helpers",
}

// appendPremise adds a glibc-model premise once.
func appendPremise(ps []Premise, detail string) []Premise {
	if slices.ContainsFunc(ps, func(p Premise) bool { return p.Detail == detail }) {
		return ps
	}
	return append(ps, Premise{Kind: PremiseGlibcModel, Detail: detail})
}

// inSymbolTable says whether addr lies in one of m's symbol tables.
func inSymbolTable(m *Module, addr uint64) bool {
	for _, s := range m.File.ELF.Sections {
		if (s.Type == elf.SHT_DYNSYM || s.Type == elf.SHT_SYMTAB) && s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
			return true
		}
	}
	return false
}

// libioCopies is what noteLibioCopy saw of one function: the registers
// it loads from a _wide_vtable field, those it stores to a vtable field,
// and its register-to-register moves (bit n for register n).
type libioCopies struct {
	loaded, stored uint32
	moves          [][2]uint8
}

// copies says whether a register loaded from a _wide_vtable field, or a
// register it is moved to, is stored to a vtable field.
func (c *libioCopies) copies() bool {
	held := c.loaded
	for range c.moves {
		for _, mv := range c.moves {
			if held&(1<<mv[0]) != 0 {
				held |= 1 << mv[1]
			}
		}
	}
	return held&c.stored != 0
}

// noteLibioCopy records, for the sweep of libioInstallers, what the
// instruction at pc does that a copy of a _wide_vtable into a vtable
// takes: a 64-bit `mov` from [base+_wide_vtable], to [base+vtable], or
// from one register to another. Only instructions whose bytes hold a
// displacement of the two fields, or that move a register, are decoded
// in full.
func (g *Graph) noteLibioCopy(m *Module, pc uint64, code []byte, e isa.Effect, layout *libioLayout, seen map[uint64]*libioCopies) {
	if layout.wideVtable < 0 || layout.vtable < 0 || e.Len > len(code) {
		return
	}
	inst := code[:e.Len]
	holds := func(disp int64) bool {
		var le [4]byte
		binary.LittleEndian.PutUint32(le[:], uint32(disp))
		return bytes.Contains(inst, le[:]) || disp >= -128 && disp < 128 && bytes.IndexByte(inst, byte(disp)) >= 0
	}
	move := e.DefKind == isa.DefCopy && e.DefValue != 32 && e.DefReg >= 0 && e.DefReg < 16 && e.DefSrc >= 0 && e.DefSrc < 16
	if !move && !holds(layout.wideVtable) && !holds(layout.vtable) {
		return
	}
	fn, ok := m.File.Containing(pc)
	if !ok {
		return
	}
	c := seen[fn.Addr]
	if c == nil {
		c = &libioCopies{}
		seen[fn.Addr] = c
	}
	if move {
		c.moves = append(c.moves, [2]uint8{uint8(e.DefSrc), uint8(e.DefReg)})
		return
	}
	in, err := x86asm.Decode(inst, 64)
	if err != nil || in.Op != x86asm.MOV || in.MemBytes != 8 {
		return
	}
	field := func(a x86asm.Arg, disp int64) bool {
		mem, ok := a.(x86asm.Mem)
		return ok && mem.Base != x86asm.RIP && mem.Disp == disp
	}
	reg := func(a x86asm.Arg) (uint32, bool) {
		r, ok := a.(x86asm.Reg)
		if !ok || r < x86asm.RAX || r > x86asm.R15 {
			return 0, false
		}
		return 1 << uint(r-x86asm.RAX), true
	}
	if r, ok := reg(in.Args[0]); ok && field(in.Args[1], layout.wideVtable) {
		c.loaded |= r
	}
	if r, ok := reg(in.Args[1]); ok && field(in.Args[0], layout.vtable) {
		c.stored |= r
	}
}

// linearFlow is a function decoded in address order (decodeLinear) with
// its flow between instructions: the successors of each, and where code
// outside it (its .cold part) comes in. The forward passes of the libio
// and gconv models run over it.
type linearFlow struct {
	insts []linearInst
	// from maps each place branches land to where they come from.
	from map[uint64][]uint64
	// at maps an instruction's address to its index.
	at   map[uint64]int
	succ [][]int
	// outside are the places the function's cold part jumps to.
	outside []uint64
}

// linearFlow decodes node n's function (see the type). ok is false when
// a branch could land anywhere, part of the function did not decode, a
// branch lands inside an instruction, or the cold part does not decode.
// With noReturn, a direct call of a function that never returns has no
// successor (GCC places another block after it, whose state the call's
// would otherwise spoil).
func (g *Graph) linearFlow(m *Module, n *Node, noReturn bool) (linearFlow, bool) {
	insts, from, ok := g.decodeLinear(m, n)
	fn := n.Func
	if !ok || len(insts) == 0 {
		return linearFlow{}, false
	}
	if last := insts[len(insts)-1]; last.addr+uint64(last.e.Len) != fn.Addr+fn.Size {
		return linearFlow{}, false // part of the function did not decode
	}
	at := make(map[uint64]int, len(insts))
	for i, in := range insts {
		at[in.addr] = i
	}
	outside, ok := g.coldEntries(m, fn)
	if !ok {
		return linearFlow{}, false
	}
	succ := make([][]int, len(insts))
	for t, srcs := range from {
		ti, ok := at[t]
		if !ok {
			if t >= fn.Addr && t < fn.Addr+fn.Size {
				return linearFlow{}, false // a branch into the middle of an instruction
			}
			continue
		}
		for _, s := range srcs {
			si, ok := at[s]
			if !ok {
				return linearFlow{}, false
			}
			succ[si] = append(succ[si], ti)
		}
	}
	var calls *fileCalls
	if noReturn {
		calls = g.callsOf(m.File)
	}
	for i, in := range insts {
		switch in.e.Flow {
		case isa.FlowCall:
			if noReturn && in.e.HasTarget && calls.never(g, m.File, in.e.Target, noReturnLevels) {
				continue
			}
			fallthrough
		case isa.FlowNext, isa.FlowCondJump, isa.FlowIndirectCall:
			if i+1 < len(insts) {
				succ[i] = append(succ[i], i+1)
			}
		}
	}
	return linearFlow{insts: insts, from: from, at: at, succ: succ, outside: outside}, true
}
