package callgraph

import (
	"debug/elf"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// vtableKeptInSlot reads the shape of glibc's vtable check where GCC keeps
// the vtable pointer in a slot of the frame while it subtracts the
// section's start from the register itself (_IO_new_file_underflow's
// _IO_OVERFLOW of stdout):
//
//	8224e: mov %rax,0x8(%rsp)        <- the store: the pointer kept
//	82256: sub %rbp,%rax
//	82259: cmp %r13,%rax
//	8225c: jae 82290                 <- to the check block
//	8225e: ...
//	8226d: mov 0x8(%rsp),%rax        <- the reload
//	82272: call *0x18(%rax)          <- site
//	82290: call _IO_vtable_check; jmp 8225e
//
// It holds where: from the reload to the call at site (through reg, the
// base of its memory operand) straight-line code no branch enters that
// does not write reg; before the reload, straight-line code back to a
// conditional branch to a block that calls _IO_vtable_check and jumps
// back (checkBlockExit), the only branch into the code between; before
// that branch, straight-line code no branch enters back to the store of
// a register into the same 8-byte slot [rsp+k]; no instruction from the
// store to the reload, nor in the block, moves SP or may write the slot;
// and no address in the frame leaves rsp anywhere in the function
// (frameSealed), so that no other code can write the slot either (a call
// writes only below the SP it is made with). The store plays the part of
// vtableCheckBefore's copy: the value the branch checked is the one the
// slot keeps.
func (g *Graph) vtableKeptInSlot(m *Module, n *Node, reg int8, site uint64, sec *elf.Section) bool {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok || g.Arch != binfile.ArchX86_64 {
		return false
	}
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return false
	}
	checkFn, ok := m.File.Lookup("_IO_vtable_check")
	c := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	if !ok || c <= 0 || !slices.ContainsFunc(insts, func(in linearInst) bool {
		return in.e.DefKind == isa.DefAddr && uint64(in.e.DefValue) == sec.Addr
	}) {
		return false
	}
	operands := func(k int) (x86.Operands, bool) {
		code, err := m.File.Code(insts[k].addr, uint64(insts[k].e.Len))
		if err != nil {
			return x86.Operands{}, false
		}
		return x86.DecodeOperands(code)
	}
	if !frameSealed(len(insts), operands) {
		return false
	}
	// The reload, in the straight-line code before the call.
	l := -1
	for j := c - 1; j >= 0 && c-j <= 12; j-- {
		e := insts[j].e
		if len(from[insts[j+1].addr]) > 0 || e.Flow != isa.FlowNext {
			return false
		}
		if e.DefKind == isa.DefLoad && e.HasMem && e.DefReg == reg && e.MemBase == regSP && e.MemIndex < 0 {
			l = j
			break
		}
		code, err := m.File.Code(insts[j].addr, uint64(e.Len))
		if err != nil || rw.MayWrite(code, insts[j].addr)&(1<<uint(reg)) != 0 {
			return false
		}
	}
	if l < 0 {
		return false
	}
	slot := insts[l].e.MemDisp
	if slot < 0 {
		return false
	}
	// writesSlot says whether instruction k may write the slot (or move
	// SP, which moves the slot's address).
	writesSlot := func(k int) bool {
		ops, ok := operands(k)
		if !ok || insts[k].e.SP != isa.SPNone {
			return true
		}
		if !ops.HasMem || !ops.MemWrite || ops.MemBase != regSP && ops.MemIndex != regSP {
			return false
		}
		return ops.MemIndex >= 0 || ops.MemSize <= 0 || ops.MemDisp < slot+8 && ops.MemDisp+ops.MemSize > slot
	}
	checked := false
	for j := l - 1; j >= 0 && l-j <= 16; j-- {
		e := insts[j].e
		if checked {
			if len(from[insts[j+1].addr]) > 0 {
				return false // a way past the store into the checked code
			}
			if ops, ok := operands(j); ok && e.HasStore && ops.HasMem && ops.MemBase == regSP && ops.MemIndex < 0 &&
				ops.MemDisp == slot && ops.MemSize == 8 && e.SP == isa.SPNone {
				return true
			}
		}
		switch {
		case !checked && e.Flow == isa.FlowCondJump && e.HasTarget && g.callsVtableCheck(m, e.Target, checkFn.Addr):
			back, ok := checkBlockExit(insts, from, e.Target, checkFn.Addr)
			b, x := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == e.Target }), slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == back })
			if !ok || b < 0 || x < b || len(from[e.Target]) != 1 || fallsInto(insts, from, b) {
				return false
			}
			for k := b; k < x; k++ {
				if writesSlot(k) {
					return false
				}
			}
			for _, in := range insts[j+1 : l+1] {
				for _, src := range from[in.addr] {
					if src != back {
						return false
					}
				}
			}
			checked = true
			continue
		case e.Flow != isa.FlowNext:
			return false
		}
		if writesSlot(j) {
			return false
		}
	}
	return false
}

// frameSealed says whether no address in the frame leaves rsp in a
// function of count instructions (operands decodes the k-th): rsp is read
// as a value only to compute rsp itself or to compare it, and no enter.
// Then only an access based on rsp can reach the frame.
func frameSealed(count int, operands func(k int) (x86.Operands, bool)) bool {
	for k := 0; k < count; k++ {
		ops, ok := operands(k)
		if !ok || ops.Enter {
			return false
		}
		if ops.Reads&(1<<regSP) != 0 && !(ops.Safe && !ops.MemWrite && (ops.Dest == -1 || ops.Dest == regSP)) {
			return false
		}
	}
	return true
}
