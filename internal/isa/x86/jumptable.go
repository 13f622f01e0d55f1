package x86

import (
	"golang.org/x/arch/x86/x86asm"
)

// JumpTable is what the code before an indirect jump shows of a GCC
// position-independent jump table (a switch, or a computed goto's table
// of label differences):
//
//	lea   rT, [rip+table]
//	lea   rB, [rip+base]        (rB may be rT: the entries are relative to the table)
//	movsxd rE, dword [rT+rI*4]
//	add   rE, rB
//	jmp   rE
//
// The jump lands at Base plus a sign-extended 32-bit entry read from
// Table, at an index below Entries. Entries 0 is a jump through a register
// that holds the address Base (`lea rE,[rip+base]; jmp rE`: GCC's code for
// a computed goto whose label it knows).
type JumpTable struct {
	Table   uint64
	Base    uint64
	Entries int
}

// MatchJumpTable reads the straight-line code that ends in an indirect
// jump: code[i] holds the bytes of the instruction at pcs[i], in the order
// they run (each falls through to the next, or is a conditional branch
// not taken), the last one `jmp reg`. It says what table the jump reads,
// when the code has the shape above and the index is bounded by it: a
// `cmp rI, N` followed by ja (jae) taken away from the table, or an index
// loaded as a zero-extended byte (at most 256 entries: glibc's vfprintf
// indexes its step tables by a byte of another table). Register writes are
// those MayWrite reports, so any other write between breaks the match.
//
// Written here because no maintained library resolves x86-64 jump tables
// from machine code; golang.org/x/arch only decodes.
func MatchJumpTable(code [][]byte, pcs []uint64) (jt JumpTable, ok bool) {
	return MatchJumpTableFrom(code, pcs, nil)
}

// MatchJumpTableFrom is MatchJumpTable where the table's or the base's
// address may be in its register before the code given (GCC hoists the
// lea out of a loop): entry, when not nil, is asked for the address a
// register holds when the first instruction runs.
func MatchJumpTableFrom(code [][]byte, pcs []uint64, entry func(reg uint) (uint64, bool)) (jt JumpTable, ok bool) {
	defer func() {
		if recover() != nil {
			jt, ok = JumpTable{}, false
		}
	}()
	if len(code) == 0 || len(code) != len(pcs) {
		return JumpTable{}, false
	}
	insts := make([]x86asm.Inst, len(code))
	for i, c := range code {
		in, err := x86Decode(c, 64)
		if err != nil || in.Op == 0 {
			insts[i] = x86asm.Inst{}
			continue
		}
		insts[i] = in
	}
	writes := func(i int, reg uint) bool {
		switch insts[i].Op {
		case 0:
			return true
		case x86asm.CBW, x86asm.CWDE, x86asm.CDQE:
			// Sign-extend within rax (cltq between the index's
			// subtraction and its use); MayWrite groups them with
			// instructions that also write rcx and rdi.
			return reg == 0
		}
		return Decoder{}.MayWrite(code[i], pcs[i])&(1<<reg) != 0
	}
	// lastWrite is the index of the last instruction before `before` that
	// may write reg, -1 when none does.
	lastWrite := func(reg uint, before int) int {
		for i := before - 1; i >= 0; i-- {
			if writes(i, reg) {
				return i
			}
		}
		return -1
	}
	ripLea := func(i int) (uint64, bool) {
		if i < 0 || insts[i].Op != x86asm.LEA {
			return 0, false
		}
		if _, ok := reg64(insts[i].Args[0]); !ok {
			return 0, false // lea r32 keeps the address's low half only
		}
		m, ok := insts[i].Args[1].(x86asm.Mem)
		if !ok || m.Base != x86asm.RIP || m.Index != 0 {
			return 0, false
		}
		// (x86asm gives the 32-bit displacement zero-extended.)
		return pcs[i] + uint64(insts[i].Len) + uint64(int64(int32(m.Disp))), true
	}
	// address is the address register reg holds after instruction i,
	// its last write (-1: none in the code).
	address := func(reg uint, i int) (uint64, bool) {
		if i < 0 && entry != nil {
			return entry(reg)
		}
		return ripLea(i)
	}
	last := len(insts) - 1
	jmp := insts[last]
	if jmp.Op != x86asm.JMP {
		return JumpTable{}, false
	}
	target, ok := reg64(jmp.Args[0])
	if !ok {
		return JumpTable{}, false
	}
	k := lastWrite(target, last)
	if base, ok := ripLea(k); ok {
		return JumpTable{Base: base}, true
	}
	if k < 0 || insts[k].Op != x86asm.ADD {
		return JumpTable{}, false
	}
	if dst, ok := reg64(insts[k].Args[0]); !ok || dst != target {
		return JumpTable{}, false
	}
	other, ok := reg64(insts[k].Args[1])
	if !ok || other == target {
		return JumpTable{}, false
	}
	for _, pair := range [2][2]uint{{target, other}, {other, target}} {
		entryReg, baseReg := pair[0], pair[1]
		e := lastWrite(entryReg, k)
		if e < 0 || insts[e].Op != x86asm.MOVSXD || insts[e].MemBytes != 4 {
			continue
		}
		if dst, ok := reg64(insts[e].Args[0]); !ok || dst != entryReg {
			continue
		}
		m, ok := insts[e].Args[1].(x86asm.Mem)
		if !ok || m.Segment != 0 || m.Disp != 0 || m.Scale != 4 {
			continue
		}
		tableReg, ok1 := reg64(m.Base)
		indexReg, ok2 := reg64(m.Index)
		if !ok1 || !ok2 {
			continue
		}
		base, ok := address(baseReg, lastWrite(baseReg, k))
		if !ok {
			continue
		}
		table, ok := address(tableReg, lastWrite(tableReg, e))
		if !ok {
			continue
		}
		n, ok := indexBound(insts, indexReg, e, lastWrite(indexReg, e))
		if !ok {
			continue
		}
		return JumpTable{Table: table, Base: base, Entries: n}, true
	}
	return JumpTable{}, false
}

// indexBound is the number of entries an index in register reg can
// select at instruction use, w being the last instruction before use
// that may write reg (-1: none in the code given).
func indexBound(insts []x86asm.Inst, reg uint, use, w int) (int, bool) {
	// A bounds check: `cmp reg, N` right before a ja (jae) whose
	// fall-through the code takes, after reg's last write.
	for j := use - 1; j > w && j >= 1; j-- {
		if insts[j].Op != x86asm.JA && insts[j].Op != x86asm.JAE {
			continue
		}
		c := insts[j-1]
		if c.Op != x86asm.CMP || j-1 <= w {
			break
		}
		r, ok := c.Args[0].(x86asm.Reg)
		if !ok {
			break
		}
		// A 32-bit compare bounds the 64-bit index: a 32-bit write
		// zeroes the upper half, and GCC compares the width it wrote.
		n, gp := gpNumber(r)
		if !gp || n != reg || !(r >= x86asm.EAX && r <= x86asm.R15L || r >= x86asm.RAX && r <= x86asm.R15) {
			break
		}
		imm, ok := c.Args[1].(x86asm.Imm)
		if !ok || imm < 0 || imm > 1<<16 {
			break
		}
		if insts[j].Op == x86asm.JA {
			return int(imm) + 1, true
		}
		return int(imm), true
	}
	// A byte zero-extended into the index's register.
	if w >= 0 && insts[w].Op == x86asm.MOVZX {
		in := insts[w]
		dst, ok := in.Args[0].(x86asm.Reg)
		n, gp := gpNumber(dst)
		if !ok || !gp || n != reg || !(dst >= x86asm.EAX && dst <= x86asm.R15L || dst >= x86asm.RAX && dst <= x86asm.R15) {
			return 0, false
		}
		switch src := in.Args[1].(type) {
		case x86asm.Mem:
			if in.MemBytes == 1 {
				return 256, true
			}
		case x86asm.Reg:
			if src >= x86asm.AL && src <= x86asm.R15B {
				return 256, true
			}
		}
	}
	return 0, false
}

// reg64 is the number of a 64-bit general-purpose register operand.
func reg64(a x86asm.Arg) (uint, bool) {
	r, ok := a.(x86asm.Reg)
	if !ok || r < x86asm.RAX || r > x86asm.R15 {
		return 0, false
	}
	return uint(r - x86asm.RAX), true
}

// JumpRegister returns the register of `jmp reg` (a 64-bit one).
func JumpRegister(code []byte) (reg uint, ok bool) {
	defer func() {
		if recover() != nil {
			reg, ok = 0, false
		}
	}()
	in, err := x86Decode(code, 64)
	if err != nil || in.Op != x86asm.JMP {
		return 0, false
	}
	return reg64(in.Args[0])
}

// RegisterWrite says how the instruction at pc treats register reg:
// whether it may write it (as MayWrite, but cbw/cwde/cdqe write only
// rax), and when it is `lea reg,[rip+X]`, the address X it puts there.
func RegisterWrite(code []byte, pc uint64, reg uint) (writes bool, addr uint64, isAddr bool) {
	defer func() {
		if recover() != nil {
			writes, addr, isAddr = true, 0, false
		}
	}()
	in, err := x86Decode(code, 64)
	if err != nil || in.Op == 0 {
		return true, 0, false
	}
	switch in.Op {
	case x86asm.CBW, x86asm.CWDE, x86asm.CDQE:
		return reg == 0, 0, false
	case x86asm.LEA:
		d, ok := reg64(in.Args[0])
		m, isMem := in.Args[1].(x86asm.Mem)
		if ok && d == reg && isMem && m.Base == x86asm.RIP && m.Index == 0 {
			return true, pc + uint64(in.Len) + uint64(int64(int32(m.Disp))), true
		}
	}
	return Decoder{}.MayWrite(code, pc)&(1<<reg) != 0, 0, false
}
