package callgraph

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

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
	if g.Arch == binfile.ArchX86_64 && v != nil && v.Kind == frame.ValueReg && v.Off == 0 && !v.Indexed {
		return g.libioJoinedSlot(id, cs)
	}
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
	key := fmt.Sprintf("libio-validated-jt%s %x %x %x", g.tableSizeKey(), n.Func.Addr, n.Func.Size, cs.Addr)
	if g.libraryStore(m).Fact(key, func() int64 {
		if g.validatedVtableCall(m, n, a, cs) {
			return 1
		}
		return 0
	}) == 0 {
		return false
	}
	nw, ok := g.libioSlotHubFor(m, n, sec, a.Off, cs.Addr)
	if !ok {
		return false
	}
	g.addEdge(id, nw.hub, cs, MethodLibioVtable)
	return true
}

// libioJoinedSlot is libioVtable for a call whose target register the
// walk back followed only to a join (cs.From is the register's value
// there): each path into the join loads the same slot (joinedSlotLoad).
func (g *Graph) libioJoinedSlot(id int, cs frame.CallSite) bool {
	n := g.Nodes[id]
	m := n.Module
	sec := m.File.ELF.Section(libioSection)
	if sec == nil || n.Func == nil {
		return false
	}
	key := fmt.Sprintf("libio-joined-slot%s %x %x %x", g.tableSizeKey(), n.Func.Addr, n.Func.Size, cs.Addr)
	off := g.libraryStore(m).Fact(key, func() int64 {
		if off, ok := g.joinedSlotLoad(m, n, cs.From.Reg, cs.From.At, cs.Addr, sec); ok {
			return off + 1
		}
		return 0
	}) - 1
	if off < 0 {
		return false
	}
	nw, ok := g.libioSlotHubFor(m, n, sec, off, cs.Addr)
	if !ok {
		return false
	}
	g.addEdge(id, nw.hub, cs, MethodLibioVtable)
	return true
}

// joinedSlotLoad reads the shape GCC gives __printf_fp_l's __xsputn call:
// the slot's load duplicated on each side of glibc's vtable checks, the
// paths joining before the call:
//
//	5444c: mov 0x38(%r15),%rax          (after a check: vtableCheckBefore)
//	54450: mov %r8,%r11
//	54453: ...; call *%rax              <- at, the join
//	549fa: mov 0x38(%r15),%rax; jmp 54453   (after another check)
//	55565: spill; call _IO_vtable_check; reload
//	5558d: mov 0x38(%r15),%rax; test; cmovne; jmp 54453
//
// The code from at to the call at site is straight-line, no branch lands
// in it after at, and reg is the call's register. Every way into at
// (falling into it, or a direct jump) is either straight-line code that
// loads [r+k] into reg after a check of r (vtableCheckBefore), with no
// write of reg or r after the load (the decoder's MayWrite), or the jump
// that ends one of those checks' blocks (checkBlockExit), a block whose
// only way in is the check's branch and in which, after the call of
// _IO_vtable_check, reg is loaded from the same [r+k], r written nowhere
// in the block (a call keeps the callee-saved registers). It returns k.
func (g *Graph) joinedSlotLoad(m *Module, n *Node, reg int8, at, site uint64, sec *elf.Section) (int64, bool) {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok {
		return 0, false
	}
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return 0, false
	}
	index := func(addr uint64) int {
		return slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == addr })
	}
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	i, c := index(at), index(site)
	if !ok || i <= 0 || c < i || !insts[c].e.HasCallReg || insts[c].e.CallReg != reg || insts[c].e.HasMem {
		return 0, false
	}
	writes := func(k int, r int8) bool {
		if insts[k].e.Flow == isa.FlowCall {
			// A call keeps the callee-saved registers (the x86-64
			// System V ABI), and may write all the others.
			return callerSaved&(1<<uint(r)) != 0
		}
		code, err := m.File.Code(insts[k].addr, uint64(insts[k].e.Len))
		return err != nil || rw.MayWrite(code, insts[k].addr)&(1<<uint(r)) != 0
	}
	for k := i; k < c; k++ {
		if k > i && len(from[insts[k].addr]) > 0 || insts[k].e.Flow != isa.FlowNext || writes(k, reg) {
			return 0, false
		}
	}
	// slotLoadBefore finds, going back from insts[p] over straight-line
	// code no branch enters (down to lo), the load [r+k] into reg with
	// no other write of reg or of r after it.
	slotLoadBefore := func(p, lo int) (l int, r int8, k int64, ok bool) {
		for q := p; q >= lo && p-q < 12; q-- {
			if q < p && (len(from[insts[q+1].addr]) > 0 || insts[q].e.Flow != isa.FlowNext) {
				return 0, 0, 0, false
			}
			e := insts[q].e
			if e.DefKind == isa.DefLoad && e.HasMem && e.DefReg == reg && e.MemBase >= 0 && e.MemIndex < 0 && e.MemDisp >= 0 {
				for w := q + 1; w <= p; w++ {
					if writes(w, e.MemBase) {
						return 0, 0, 0, false
					}
				}
				return q, e.MemBase, e.MemDisp, true
			}
			if writes(q, reg) {
				return 0, 0, 0, false
			}
		}
		return 0, 0, 0, false
	}
	// Each path into at: straight-line code that loads [r+k] after the
	// check (falling into at, or jumping to it), or the jump that ends
	// such a check's block.
	var paths []int
	switch insts[i-1].e.Flow {
	case isa.FlowNext:
		paths = append(paths, i-1)
	case isa.FlowJump, isa.FlowReturn, isa.FlowStop:
	default:
		return 0, false
	}
	var exits []uint64
	for _, src := range from[at] {
		p := index(src)
		if p < 0 || insts[p].e.Flow != isa.FlowJump {
			return 0, false
		}
		paths = append(paths, p)
	}
	slot := int64(-1)
	var checked []int
	for _, p := range paths {
		l, r, k, ok := slotLoadBefore(p, 0)
		if !ok || slot >= 0 && k != slot {
			continue // maybe a check block's exit (below)
		}
		block, ok := g.vtableCheckBefore(m, n, r, insts[l].addr, sec)
		if !ok {
			continue
		}
		exit, ok := checkBlockExit(insts, from, block, checkFn.Addr)
		b, x := index(block), index(exit)
		if !ok || b <= 0 || len(from[block]) != 1 || fallsInto(insts, from, b) {
			return 0, false
		}
		// The block's path: the call of the check, then the same load,
		// r written nowhere in the block.
		call := slices.IndexFunc(insts[b:x], func(in linearInst) bool { return in.e.Flow == isa.FlowCall })
		if call < 0 {
			return 0, false
		}
		bl, br, bk, ok := slotLoadBefore(x, b+call+1)
		if !ok || br != r || bk != k {
			return 0, false
		}
		for w := b; w < bl; w++ {
			if writes(w, r) {
				return 0, false
			}
		}
		slot = k
		checked = append(checked, p)
		exits = append(exits, exit)
	}
	for _, p := range paths {
		if !slices.Contains(checked, p) && !slices.Contains(exits, insts[p].addr) {
			return 0, false
		}
	}
	return slot, len(checked) > 0
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
			// A call through memory, `call *k(%r)` (__xsputn's in
			// _IO_wdefault_xsputn), with r the register the vtable
			// pointer was loaded into: r is checked right before it.
			if reg, ok = g.memoryCallBase(m, n, a, cs.Addr); !ok {
				return false
			}
			at = cs.Addr
		}
	default:
		return false
	}
	if g.validatesVtable(m, n, reg, at, sec) || g.validatesVtableBranchIn(m, n, reg, at, sec) || g.calledAfterCheck(m, n, reg, at) ||
		at == cs.Addr && g.vtableKeptInSlot(m, n, reg, at, sec) {
		return true
	}
	// The walk back may have stopped before the check (it reads at most
	// a few instructions): validate from the slot's load.
	l, ok := g.slotLoad(m, n, reg, a.Off, cs.Addr)
	return ok && l != at && g.validatesVtable(m, n, reg, l, sec)
}

// fallsInto says whether control may reach insts[k] from the instruction
// before it: padding between (nops no branch lands on) is passed over to
// the last instruction that runs, which must end its path (a jump, a
// return, a trap) for the answer to be no.
func fallsInto(insts []linearInst, from map[uint64][]uint64, k int) bool {
	for j := k - 1; j >= 0; j-- {
		e := insts[j].e
		if e.Nop && len(from[insts[j].addr]) == 0 {
			continue
		}
		return e.Flow != isa.FlowJump && e.Flow != isa.FlowReturn && e.Flow != isa.FlowStop && e.Flow != isa.FlowIndirectJump
	}
	return true // the function's entry: its callers come in there
}

// memoryCallBase returns, for a call through memory at site whose target
// the walk back read as Load(a) with a = Load(...)+k, the base register r
// of the call's operand `k(%r)`: the caller then checks r right before
// the call (validatesVtable), which is the proof; the frame's reading only
// has to agree on k.
func (g *Graph) memoryCallBase(m *Module, n *Node, a *frame.Value, site uint64) (int8, bool) {
	insts, _, ok := g.decodeLinear(m, n)
	if !ok {
		return 0, false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	if i < 0 {
		return 0, false
	}
	call := insts[i].e
	if call.Flow != isa.FlowIndirectCall && call.Flow != isa.FlowIndirectJump || !call.HasMem || call.HasCallReg ||
		call.MemBase < 0 || call.MemIndex >= 0 || call.MemDisp != a.Off {
		return 0, false
	}
	return call.MemBase, true
}

// calledAfterCheck reads the shape where GCC put a copy of the call in
// the check block itself (_IO_wdefault_xsputn: `jae block` ... block: `mov
// %edx,0x8(%rsp); call _IO_vtable_check; mov 0x8(%rsp),%edx; mov
// %r15,%rdi; mov %edx,%esi; call *0x18(%rbx)`): from at back to the call
// of _IO_vtable_check and on to the block's start, straight-line code no
// branch enters with no write of reg (the decoder's MayWrite; a call keeps
// the callee-saved registers), the block entered only by one conditional
// branch, never by falling into it, and reg copied before that branch
// with no write of it after the copy (copiedBefore).
func (g *Graph) calledAfterCheck(m *Module, n *Node, reg int8, at uint64) bool {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok {
		return false
	}
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return false
	}
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == at })
	if !ok || i <= 0 {
		return false
	}
	called := false
	for k := i - 1; k > 0 && i-k <= 16; k-- {
		e := insts[k].e
		if len(from[insts[k+1].addr]) > 0 {
			return false
		}
		switch {
		case !called && e.Flow == isa.FlowCall && e.HasTarget && e.Target == checkFn.Addr:
			if callerSaved&(1<<uint(reg)) != 0 {
				return false
			}
			called = true
		case e.Flow != isa.FlowNext:
			return false
		default:
			code, err := m.File.Code(insts[k].addr, uint64(e.Len))
			if err != nil || rw.MayWrite(code, insts[k].addr)&(1<<uint(reg)) != 0 {
				return false
			}
		}
		if !called {
			continue
		}
		// The block's start: entered by one conditional branch only.
		srcs := from[insts[k].addr]
		if len(srcs) == 0 {
			continue
		}
		j := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == srcs[0] })
		return len(srcs) == 1 && !fallsInto(insts, from, k) && j >= 0 && insts[j].e.Flow == isa.FlowCondJump && copiedBefore(insts, from, j, reg)
	}
	return false
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
	_, ok := g.vtableCheckBefore(m, n, reg, at, sec)
	return ok
}

// vtableCheckBefore is validatesVtable, also returning the check block's
// address (the conditional branch's target).
func (g *Graph) vtableCheckBefore(m *Module, n *Node, reg int8, at uint64, sec *elf.Section) (uint64, bool) {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return 0, false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == at })
	if i < 0 {
		return 0, false
	}
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	if !ok {
		return 0, false
	}
	// The section's start, which the check subtracts, is loaded somewhere
	// in the function (GCC hoists it out of loops over the FILE list).
	start := slices.ContainsFunc(insts, func(in linearInst) bool {
		return in.e.DefKind == isa.DefAddr && uint64(in.e.DefValue) == sec.Addr
	})
	if !start {
		return 0, false
	}
	var copied, check bool
	var block uint64
	for j := i - 1; j >= 0 && i-j <= 12; j-- {
		e := insts[j].e
		switch {
		case e.DefKind == isa.DefCopy && e.DefSrc == reg && e.DefReg != reg:
			if !check {
				return 0, false // the copy must be before the branch
			}
			copied = true
		case e.Flow == isa.FlowCondJump && e.HasTarget:
			// Every other path into the code between the branch and
			// the call must come back from the check block.
			if !check && g.callsVtableCheck(m, e.Target, checkFn.Addr) {
				back, blockOK := checkBlockExit(insts, from, e.Target, checkFn.Addr)
				for _, in := range insts[j+1 : i+1] {
					for _, src := range from[in.addr] {
						if in.addr != at || !fromCheckBlock(src, e.Target, back, blockOK) {
							return 0, false
						}
					}
				}
				check, block = true, e.Target
			}
		case e.Flow != isa.FlowNext:
			return 0, false
		case e.DefKind != isa.DefNone && e.DefReg == reg && !copied:
			return 0, false // r written between the check and the call
		}
		if copied && check {
			return block, true
		}
	}
	return 0, false
}

// validatesVtableBranchIn checks the other shape of IO_validate_vtable,
// GCC's in a loop (_IO_padn, _IO_wpadn): the code from `at` to the call
// is entered only by branches, never by falling into it, and every branch
// in is either a conditional branch whose fall-through is the check block
// (so that taking it skips the block: the pointer is in the section),
// with reg copied for the subtraction in the straight-line code before it
// and not written after the copy, or the jump that ends such a block
// (checkBlockExit):
//
//	77278: mov $0x10,%edx          <- at
//	77283: call *0x38(%rax)
//	...
//	772a0: mov %rax,%rdx
//	772a3: sub %r14,%rdx
//	772a6: cmp %r12,%rdx
//	772a9: jb 77278
//	772ab: mov %rax,0x8(%rsp)
//	772b0: call _IO_vtable_check
//	772b5: mov 0x8(%rsp),%rax
//	772ba: jmp 77278
//
// That reg keeps its value from `at` to the call is the caller's slice
// (the call's target read as reg's value at `at`).
func (g *Graph) validatesVtableBranchIn(m *Module, n *Node, reg int8, at uint64, sec *elf.Section) bool {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == at })
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	if i < 0 || !ok || len(from[at]) == 0 {
		return false
	}
	if !slices.ContainsFunc(insts, func(in linearInst) bool {
		return in.e.DefKind == isa.DefAddr && uint64(in.e.DefValue) == sec.Addr
	}) {
		return false
	}
	// Nothing falls into `at`: the instruction before it (padding
	// aside, which no branch reaches) does not go on.
	for j := i - 1; ; j-- {
		if j < 0 {
			return false
		}
		if len(from[insts[j+1].addr]) > 0 && j+1 != i {
			return false
		}
		e := insts[j].e
		if e.Nop {
			continue
		}
		if e.Flow != isa.FlowJump && e.Flow != isa.FlowReturn && e.Flow != isa.FlowStop {
			return false
		}
		break
	}
	exits := map[uint64]bool{}
	var branches []uint64
	for _, src := range from[at] {
		j := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == src })
		if j < 0 || j+1 >= len(insts) || insts[j].e.Flow != isa.FlowCondJump {
			continue
		}
		exit, ok := checkBlockExit(insts, from, insts[j+1].addr, checkFn.Addr)
		if !ok || insts[slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == exit })].e.Target != at {
			continue
		}
		if !copiedBefore(insts, from, j, reg) {
			continue
		}
		exits[exit] = true
		branches = append(branches, src)
	}
	for _, src := range from[at] {
		if !exits[src] && !slices.Contains(branches, src) {
			return false
		}
	}
	return len(branches) > 0
}

// copiedBefore says whether the straight-line code before insts[j], which
// no branch enters, copies reg into another register (for the
// subtraction of the section's start) with no write of reg after it.
func copiedBefore(insts []linearInst, from map[uint64][]uint64, j int, reg int8) bool {
	for k := j - 1; k >= 0 && j-k <= 12; k-- {
		if len(from[insts[k+1].addr]) > 0 {
			return false
		}
		e := insts[k].e
		switch {
		case e.Flow != isa.FlowNext:
			return false
		case e.DefKind == isa.DefCopy && e.DefSrc == reg && e.DefReg != reg:
			return true
		case e.DefKind != isa.DefNone && e.DefReg == reg:
			return false
		}
	}
	return false
}

// fromCheckBlock says whether a branch at src comes back from the check
// block at target: from its first 32 bytes (a call of _IO_vtable_check
// and a jump back), or from the jump that ends it when checkBlockExit
// read the whole block (back, when ok).
func fromCheckBlock(src, target, back uint64, ok bool) bool {
	return src >= target && src < target+32 || ok && src == back
}

// checkBlockExit reads the check block at target in the function's
// linear decode: straight-line code that calls _IO_vtable_check (check)
// and then, with no branch landing after that call, ends in an
// unconditional direct jump, whose address it returns. A block that
// spills the vtable pointer around the call (printf_positional's: `mov
// %rcx,-0x8c8(%rbp); mov %r10,-0x8b8(%rbp); call _IO_vtable_check; mov
// -0x8c8(%rbp),%rcx; mov -0x8b8(%rbp),%r10; jmp back`) is longer than the
// 32 bytes fromCheckBlock reads otherwise. Every way out of the block
// then passes the call, so the jump back is as good as the block's start.
func checkBlockExit(insts []linearInst, from map[uint64][]uint64, target, check uint64) (uint64, bool) {
	k := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == target })
	if k < 0 {
		return 0, false
	}
	called := false
	for _, in := range insts[k:min(k+maxCheckBlock, len(insts))] {
		e := in.e
		if called && len(from[in.addr]) > 0 {
			return 0, false // a way into the block past the call
		}
		switch {
		case !called && e.Flow == isa.FlowCall && e.HasTarget && e.Target == check:
			called = true
		case e.Flow == isa.FlowNext:
		case called && e.Flow == isa.FlowJump && e.HasTarget:
			return in.addr, true
		default:
			return 0, false
		}
	}
	return 0, false
}

// maxCheckBlock is the most instructions checkBlockExit reads: glibc's
// blocks are a call, a jump, and a spill and reload of the registers
// live across the call.
const maxCheckBlock = 12

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
	return g.libioKindHub(m, sec, off, slotMain)
}

// libioKindHub is libioHub for the calls of one kind (slotMain,
// slotChain, slotWide: libiolist.go), each with a hub of its own, which
// the install model narrows apart.
func (g *Graph) libioKindHub(m *Module, sec *elf.Section, off int64, kind string) (narrowed, bool) {
	key := fmt.Sprintf("libio %sslot +%d", kind, off)
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
		how = fmt.Sprintf("slot +%d of %d tables%s", off, len(tables), libioKindWhat[kind])
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
// and returns its instructions and, for each place branches land, where
// they branch from: the targets of its direct branches and of its jump
// tables that the code before the jump shows (jumpTableTargets). ok is
// false when a branch could land anywhere: an indirect jump that is
// neither such a jump table nor a tail call of a function without jump
// tables (tailJump), or a table's target inside the function that is not
// one of the decoded instructions.
//
// In a run over several programs the answer is made once per file and
// linearKeyOf and shared by them (argshared.go): callers must not change
// it.
func (g *Graph) decodeLinear(m *Module, n *Node) ([]linearInst, map[uint64][]uint64, bool) {
	if n.Func == nil {
		return nil, nil, false
	}
	d := derived(g, m.File, g.linearKeyOf(derivedLinear, n), func() linearDecode {
		insts, from, ok := g.decodeLinearNow(m, n)
		return linearDecode{insts, from, ok}
	})
	return d.insts, d.from, d.ok
}

// decodeLinearNow is decodeLinear's answer, made now.
func (g *Graph) decodeLinearNow(m *Module, n *Node) ([]linearInst, map[uint64][]uint64, bool) {
	// Decoded in a scratch list and returned in a copy of its length:
	// growing the slice from empty made and copied about twice its final
	// size, 17% of the bytes node's analysis allocated, and room for an
	// instruction every 3 bytes made at once (x86-64 code averages about
	// 4.4 in libc) a third more than used (profile, issue 19).
	scratch := linearScratch.Get().(*[]linearInst)
	defer linearScratch.Put(scratch)
	insts, from, ok := g.decodeLinearInto(m, n, scratch)
	if !ok {
		return nil, nil, false
	}
	return slices.Clone(insts), from, true
}

// decodeLinearInto is decodeLinearNow's answer with its instructions in
// the scratch list *scratch (grown as needed), valid until the scratch is
// used again.
func (g *Graph) decodeLinearInto(m *Module, n *Node, scratch *[]linearInst) ([]linearInst, map[uint64][]uint64, bool) {
	fn := n.Func
	code, err := m.File.Code(fn.Addr, fn.Size)
	if err != nil {
		return nil, nil, false
	}
	insts := (*scratch)[:0]
	defer func() { *scratch = insts[:0] }()
	var tables []int // indexes in insts of indirect jumps that are not tail calls
	targets := map[uint64][]uint64{}
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		insts = append(insts, linearInst{addr: pc})
		e := &insts[len(insts)-1].e
		if err := isa.DecodeInto(g.Decoder, code[off:], pc, e); err != nil || e.Len <= 0 {
			insts = insts[:len(insts)-1]
			break
		}
		if e.HasTarget && (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) {
			targets[e.Target] = append(targets[e.Target], pc)
		}
		if e.Flow == isa.FlowIndirectJump && !e.HasSlot && !tailJump(n, pc) {
			tables = append(tables, len(insts)-1)
		}
		off += e.Len
	}
	if len(tables) > 0 {
		added, ok := g.tableTargetsOnce(m, fn, code, insts, tables, targets)
		if !ok {
			return nil, nil, false
		}
		for t, srcs := range added {
			targets[t] = append(targets[t], srcs...)
		}
	}
	return insts, targets, true
}

// linearScratch holds decodeLinearNow's scratch lists (*[]linearInst),
// one per goroutine decoding at a time.
var linearScratch = sync.Pool{New: func() any { return new([]linearInst) }}

// tableTargetsOnce is jumpTableTargets' answer for fn's jumps, found
// once per graph: each of the libio model's questions decodes the
// function again.
//
// The answer is kept by the function and the jumps asked about. The
// jumps come from the asking node's frame (tailJump: an indirect jump the
// frame lists as a tail call, in a frame with no jump table, is not a
// table), and one function can be asked with two frames in one graph: a
// model may replace a node's frame after other models decoded it
// (boundLoaderVLAs walks ld.so's _dl_fini and _dl_sort_maps again in
// ModelLoadedObjects, after linkArgumentCallbacks and the libio models;
// glibc 2.36's have no indirect jump, so they are not asked today).
// (modelCountedLoop replaces a frame before any model sees the node;
// cloneNode's copy has the original's frame; the lazy resolver's,
// codeNode's and a PLT stub's nodes have Functions of their own.) An
// answer kept by the function alone would be the first frame's: jump
// targets missing, or a jump the later frame takes for a table read as a
// tail call, and decodeLinear would claim to know every place a branch
// lands where it does not (edges dropped, a bound too small;
// TestTableTargetsFollowTheFrame). Everything else the answer reads is
// the same at every ask in a graph: fn's code, its linear decode (insts,
// and the direct branches: the code and the decoder alone), its file and
// --strict. (So an answer is the same whichever graph found it: in a run
// over several programs, decodeLinear's answer made in one graph is
// shared by all, argshared.go.)
func (g *Graph) tableTargetsOnce(m *Module, fn *binfile.Function, code []byte, insts []linearInst, jumps []int, direct map[uint64][]uint64) (map[uint64][]uint64, bool) {
	key := tablesKey{fn: fn, jumps: jumpAddrs(insts, jumps)}
	g.dataMu.Lock()
	added, done := g.linearTables[key]
	g.dataMu.Unlock()
	if done {
		return added, added != nil
	}
	added = g.tableTargetsNow(m, fn, code, insts, jumps, direct)
	g.dataMu.Lock()
	if g.linearTables == nil {
		g.linearTables = map[tablesKey]map[uint64][]uint64{}
	}
	g.linearTables[key] = added
	g.dataMu.Unlock()
	return added, added != nil
}

// tablesKey keys tableTargetsOnce's answers: the function and the
// addresses of the jumps asked about (jumpAddrs).
type tablesKey struct {
	fn    *binfile.Function
	jumps string
}

// jumpAddrs is the addresses of the jumps insts[j] (j in jumps), 8 bytes
// each in the order given.
func jumpAddrs(insts []linearInst, jumps []int) string {
	b := make([]byte, 0, 8*len(jumps))
	for _, j := range jumps {
		b = binary.LittleEndian.AppendUint64(b, insts[j].addr)
	}
	return string(b)
}

// tableTargetsNow is jumpTableTargets' answer for fn, made now: where
// the tables land beside the direct branches, nil when they are not
// known.
func (g *Graph) tableTargetsNow(m *Module, fn *binfile.Function, code []byte, insts []linearInst, jumps []int, direct map[uint64][]uint64) map[uint64][]uint64 {
	from := make(map[uint64][]uint64, len(direct))
	for t, srcs := range direct {
		from[t] = srcs
	}
	if !g.jumpTableTargets(m, fn.Addr, code, insts, jumps, from) {
		return nil
	}
	added := map[uint64][]uint64{}
	for t, srcs := range from {
		if extra := srcs[len(direct[t]):]; len(extra) > 0 {
			added[t] = slices.Clone(extra)
		}
	}
	return added
}

// jumpTableTargets adds to from the places the indirect jumps insts[j] (j
// in jumps) land, when each is a jump table the code before it shows
// (x86.MatchJumpTable): every entry the index can select, read from the
// file. It says false when one is not, or when a target inside the
// function is not an instruction of the linear decode, or lands in the
// straight-line code a table was read from (the registers the match saw
// would then come from another path).
func (g *Graph) jumpTableTargets(m *Module, fnAddr uint64, code []byte, insts []linearInst, jumps []int, from map[uint64][]uint64) bool {
	if g.Arch != binfile.ArchX86_64 {
		return false
	}
	fnEnd := fnAddr + uint64(len(code))
	calls := g.callsOf(m.File)
	never := func(addr uint64) bool { return calls.never(g, m.File, addr, noReturnLevels) }
	at := make(map[uint64]int, len(insts))
	for i, in := range insts {
		at[in.addr] = i
	}
	type window struct {
		first, last int
		bytes       [][]byte
		pcs         []uint64
		table       x86.JumpTable
	}
	var windows []window
	// valuesAt returns the code addresses register reg holds before
	// insts[i] runs, on every path into it by the branches of from
	// (sorted, without duplicates).
	valuesAt := func(from map[uint64][]uint64, i int, reg uint) ([]uint64, bool) {
		c := constJump{insts: insts, from: from, at: at, code: code, fnAddr: fnAddr, seen: map[int]bool{}, budget: 256, never: never}
		if !c.values(i, reg) {
			return nil, false
		}
		slices.Sort(c.found)
		return slices.Compact(c.found), true
	}
	// The register values taken from the paths into the code, asked
	// again once the tables' targets are known (they are paths too).
	type query struct {
		at    int
		reg   uint
		found []uint64
	}
	var queries []query
	added := map[uint64][]uint64{}
	for _, j := range jumps {
		// The straight-line code before the jump: each instruction falls
		// through (or does not take its branch) to the next, and no direct
		// branch lands after the first.
		s := j
		for s > 0 && j-s < 24 && len(from[insts[s].addr]) == 0 {
			f := insts[s-1].e.Flow
			if f != isa.FlowNext && f != isa.FlowCondJump {
				break
			}
			s--
		}
		var bytes [][]byte
		var pcs []uint64
		for _, in := range insts[s : j+1] {
			off := in.addr - fnAddr
			bytes = append(bytes, code[off:off+uint64(in.e.Len)])
			pcs = append(pcs, in.addr)
		}
		// The table's and the base's addresses may be in their
		// registers before that code (a lea hoisted out of a loop): one
		// address on every path into it.
		jt, ok := x86.MatchJumpTableFrom(bytes, pcs, func(reg uint) (uint64, bool) {
			found, ok := valuesAt(from, s, reg)
			if !ok || len(found) != 1 {
				return 0, false
			}
			queries = append(queries, query{s, reg, found})
			return found[0], true
		})
		if !ok {
			// A jump through a register that holds a code address on
			// every path into it (`lea rax,[rip+label]` on each, a
			// computed goto GCC knows the label of).
			off := insts[j].addr - fnAddr
			reg, isReg := x86.JumpRegister(code[off : off+uint64(insts[j].e.Len)])
			if !isReg {
				return false
			}
			found, ok := valuesAt(from, j, reg)
			if !ok {
				// A table whose straight-line code a branch over the
				// lookup joins (GCC's default case: `lea rax,[rip+dflt];
				// cmp; ja join; <lookup into rax>; join: ...; jmp rax`).
				t, jt, lands, ok := joinedTable(m, fnAddr, code, insts, from, s, j, g.opts.Strict)
				if !ok {
					return false
				}
				for _, l := range lands {
					if l >= fnAddr && l < fnEnd {
						if _, ok := at[l]; !ok {
							return false
						}
						added[l] = append(added[l], insts[j].addr)
					}
				}
				var bytes [][]byte
				var pcs []uint64
				for _, in := range insts[t : j+1] {
					off := in.addr - fnAddr
					bytes = append(bytes, code[off:off+uint64(in.e.Len)])
					pcs = append(pcs, in.addr)
				}
				windows = append(windows, window{t, j, bytes, pcs, jt})
				continue
			}
			queries = append(queries, query{j, reg, found})
			for _, t := range found {
				if t >= fnAddr && t < fnEnd {
					if _, ok := at[t]; !ok {
						return false
					}
					added[t] = append(added[t], insts[j].addr)
				}
			}
			continue
		}
		if size, ok := tableObject(m, jt.Table, g.opts.Strict); ok && size/4 < uint64(jt.Entries) {
			jt.Entries = int(size / 4)
		}
		var words []byte
		if jt.Entries > 0 {
			var err error
			if words, err = m.File.Code(jt.Table, 4*uint64(jt.Entries)); err != nil {
				return false
			}
		}
		if len(words) != 4*jt.Entries {
			return false
		}
		lands := []uint64{jt.Base}
		if jt.Entries > 0 {
			lands = lands[:0]
		}
		for k := 0; k < jt.Entries; k++ {
			lands = append(lands, jt.Base+uint64(int64(int32(binary.LittleEndian.Uint32(words[4*k:])))))
		}
		for _, t := range lands {
			if t < fnAddr || t >= fnEnd {
				continue // outside the function (its .cold part): lands in none of its code
			}
			if _, ok := at[t]; !ok {
				return false
			}
			added[t] = append(added[t], insts[j].addr)
		}
		windows = append(windows, window{s, j, bytes, pcs, jt})
	}
	for _, w := range windows {
		for k, in := range insts[w.first+1 : w.last+1] {
			// A jump landing inside the code the table was read from
			// is harmless when that code's tail alone shows the same
			// table (the registers are all written after it).
			if len(added[in.addr]) > 0 {
				if jt, ok := x86.MatchJumpTable(w.bytes[k+1:], w.pcs[k+1:]); ok && sameTable(jt, w.table, m, g.opts.Strict) {
					continue
				}
				return false
			}
		}
	}
	all := make(map[uint64][]uint64, len(from)+len(added))
	for t, srcs := range from {
		all[t] = srcs
	}
	for t, srcs := range added {
		all[t] = append(slices.Clip(all[t]), slices.Compact(srcs)...)
	}
	for _, q := range queries {
		if found, ok := valuesAt(all, q.at, q.reg); !ok || !slices.Equal(found, q.found) {
			return false
		}
	}
	for t, srcs := range all {
		from[t] = srcs
	}
	return true
}

// joinedTable reads a jump table whose straight-line code one branch
// joins: the code before the jump at insts[j], from the landing at
// insts[s] back to where a branch or a second landing would end it,
// matched as one window (x86.MatchJumpTable) for the path that falls
// through it, and, for the path through the conditional branch inside the
// window that lands at insts[s] (its only source), the code up to that
// branch and from the landing on, which must put a known address in the
// jump's register (a `lea` before the branch: no index, so no bound the
// branch could skip):
//
//	6b1e0: lea -0x9ba(%rip),%rax       (the default case)
//	6b1f3: cmp $0x5a,%edx
//	6b1f6: ja 6b218
//	6b1f8: lea table1(%rip),%rax; lea table2(%rip),%rsi
//	6b206: movzbl (%rax,%rdx,1),%eax; lea base(%rip),%rdi
//	6b211: movslq (%rsi,%rax,4),%rax; add %rdi,%rax
//	6b218: movl $0x1,0x24(%rsp)        (insts[s], the landing)
//	6b228: jmp *%rax
//
// (__vfwprintf_internal, glibc 2.36). It returns the window's first
// instruction, the fall-through path's table and every place the jump
// lands.
func joinedTable(m *Module, fnAddr uint64, code []byte, insts []linearInst, from map[uint64][]uint64, s, j int, strict bool) (int, x86.JumpTable, []uint64, bool) {
	srcs := from[insts[s].addr]
	if len(srcs) != 1 {
		return 0, x86.JumpTable{}, nil, false
	}
	t := s
	for t > 0 && j-t < 24 && (t == s || len(from[insts[t].addr]) == 0) {
		f := insts[t-1].e.Flow
		if f != isa.FlowNext && f != isa.FlowCondJump {
			break
		}
		t--
	}
	b := slices.IndexFunc(insts[t:s], func(in linearInst) bool { return in.addr == srcs[0] })
	if b < 0 || insts[t+b].e.Flow != isa.FlowCondJump {
		return 0, x86.JumpTable{}, nil, false
	}
	b += t
	window := func(idx []int) ([][]byte, []uint64) {
		var bytes [][]byte
		var pcs []uint64
		for _, k := range idx {
			off := insts[k].addr - fnAddr
			bytes = append(bytes, code[off:off+uint64(insts[k].e.Len)])
			pcs = append(pcs, insts[k].addr)
		}
		return bytes, pcs
	}
	var through, taken []int
	for k := t; k <= j; k++ {
		through = append(through, k)
		if k <= b || k >= s {
			taken = append(taken, k)
		}
	}
	jt, ok := x86.MatchJumpTable(window(through))
	if !ok || jt.Entries == 0 {
		return 0, x86.JumpTable{}, nil, false
	}
	if size, ok := tableObject(m, jt.Table, strict); ok && size/4 < uint64(jt.Entries) {
		jt.Entries = int(size / 4)
	}
	words, err := m.File.Code(jt.Table, 4*uint64(jt.Entries))
	if err != nil || len(words) != 4*jt.Entries {
		return 0, x86.JumpTable{}, nil, false
	}
	dflt, ok := x86.MatchJumpTable(window(taken))
	if !ok || dflt.Entries != 0 {
		return 0, x86.JumpTable{}, nil, false
	}
	lands := []uint64{dflt.Base}
	for k := 0; k < jt.Entries; k++ {
		lands = append(lands, jt.Base+uint64(int64(int32(binary.LittleEndian.Uint32(words[4*k:])))))
	}
	return t, jt, lands, true
}

// tableObject returns the size of the data object that starts at addr,
// by the module's symbols (libc6-dbg's for libc: glibc's vfprintf indexes
// its step tables, step0_jumps and kin, by a byte of another table, which
// the code alone bounds only at 256 entries). The object's size bounds the
// table: the code that indexes it is the library's own, which stays within
// its arrays; it is the extent the compiler gave the table, as the FILE
// tables' symbols are for libioHub.
//
// That the library stays within its arrays is a premise, not something the
// code shows: under --strict (strict) no symbol narrows a table, and a
// table the code bounds only at 256 entries reads words past its end, which
// land outside the function's instructions and turn the model off.
func tableObject(m *Module, addr uint64, strict bool) (uint64, bool) {
	if strict {
		return 0, false
	}
	for _, s := range m.File.Symbols() {
		if s.Value == addr && s.Size > 0 && elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			return s.Size, true
		}
	}
	return 0, false
}

// tableSizeKey tells the library cache's facts that depend on
// tableObject apart by --strict, which turns it off.
func (g *Graph) tableSizeKey() string {
	if g.opts.Strict {
		return "-strict"
	}
	return ""
}

// constJump finds the code addresses a register holds before an
// instruction, going back over every path into it (falling through, or
// branching from a direct branch) to an instruction that puts a code
// address there with `lea reg,[rip+X]`. Any other write of the register, a
// call, the function's entry, or more than budget instructions, and the
// value is not known.
type constJump struct {
	insts  []linearInst
	from   map[uint64][]uint64
	at     map[uint64]int
	code   []byte
	fnAddr uint64
	seen   map[int]bool
	budget int
	found  []uint64
	// never says whether the function at an address never returns (as
	// for the frame walk: frame.Input.NoReturn).
	never func(addr uint64) bool
}

// calleeSavedReg says whether a call leaves x86-64 register reg as it
// was (System V: rbx, rbp, r12 to r15), as the frame walk and the data
// flow of argcallback.go take it: dl_main keeps its jump table's base in
// r13 from its prologue on, across its calls.
func calleeSavedReg(reg uint) bool {
	return reg < 16 && (1<<3|1<<5|1<<12|1<<13|1<<14|1<<15)&(1<<reg) != 0
}

func (c *constJump) bytes(i int) []byte {
	off := c.insts[i].addr - c.fnAddr
	return c.code[off : off+uint64(c.insts[i].e.Len)]
}

// values adds the addresses reg holds before insts[i] runs to c.found,
// and says whether they are all known.
func (c *constJump) values(i int, reg uint) bool {
	if c.seen[i] {
		return true // a loop back: the values come from its other entries
	}
	c.seen[i] = true
	if c.budget--; c.budget < 0 {
		return false
	}
	preds := []int{}
	for _, src := range c.from[c.insts[i].addr] {
		k, ok := c.at[src]
		if !ok {
			return false
		}
		preds = append(preds, k)
	}
	if i == 0 {
		return false // the function's entry: the caller's value
	}
	switch prev := c.insts[i-1].e; prev.Flow {
	case isa.FlowNext, isa.FlowCondJump:
		preds = append(preds, i-1)
	case isa.FlowCall, isa.FlowIndirectCall:
		if prev.Flow == isa.FlowCall && prev.HasTarget && c.never != nil && c.never(prev.Target) {
			break // __assert_fail...: nothing falls through from it
		}
		if !calleeSavedReg(reg) {
			return false // what the callee leaves there
		}
		preds = append(preds, i-1) // the callee puts it back
	}
	for _, p := range preds {
		writes, addr, isAddr := x86.RegisterWrite(c.bytes(p), c.insts[p].addr, reg)
		switch {
		case isAddr:
			c.found = append(c.found, addr)
		case writes || (c.insts[p].e.Flow == isa.FlowCall || c.insts[p].e.Flow == isa.FlowIndirectCall) && !calleeSavedReg(reg):
			return false
		case !c.values(p, reg):
			return false
		}
	}
	return true
}

// sameTable says whether two matches of one jump read the same entries
// (a match's Entries is the code's bound, before tableObject narrows it).
func sameTable(a, b x86.JumpTable, m *Module, strict bool) bool {
	if size, ok := tableObject(m, a.Table, strict); ok && size/4 < uint64(a.Entries) {
		a.Entries = int(size / 4)
	}
	return a == b
}
