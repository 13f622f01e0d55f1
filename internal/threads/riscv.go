package threads

import (
	"golang.org/x/arch/riscv64/riscv64asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// RISC-V: the loads and stores isa.Effect does not describe (it says where
// an sp- or s0-relative access is, not what moves), from riscv64asm, which
// gives compressed loads and stores in their base form. x0 reads as zero.

// riscvMemOp finds the integer stores and loads at a register plus an
// immediate, places every other memory write (floating-point, atomic,
// vector) by its base register, and notes an instruction that computes a
// register from sp or s0 in a way Effect's Def fields leave undescribed.
func riscvMemOp(code []byte, e isa.Effect) memOp {
	m := memOp{wr: memWrite{base: -1}}
	inst, err := riscv64asm.Decode(code)
	if err != nil {
		if e.Access != isa.BaseNone || len(code) >= 4 && code[0]&3 == 3 && storeOpcode(code[0]&0x7F) {
			// a store riscv64asm does not know: somewhere on the stack
			m.wr, m.unknownMem = memWrite{any: true, base: -1}, true
		}
		return m
	}
	var ro riscv64asm.RegOffset
	hasMem := false
	if len(inst.Args) > 1 {
		ro, hasMem = inst.Args[1].(riscv64asm.RegOffset)
	}
	reg := func(a riscv64asm.Arg) (int8, bool) {
		r, ok := a.(riscv64asm.Reg)
		if !ok || r > riscv64asm.X31 {
			return 0, false
		}
		return int8(r - riscv64asm.X0), true
	}
	var base int8
	var off int64
	if hasMem {
		b, ok := reg(ro.OfsReg)
		hasMem = ok
		base, off = b, int64(ro.Ofs.Imm)
	}
	width := rvWidth[inst.Op]
	switch {
	case hasMem && width > 0 && isStore(inst.Op):
		m.store, m.base, m.disp, m.width = true, base, off, width
		m.wr = memWrite{any: true, base: base, disp: off, hasDisp: true, size: width}
		r, ok := reg(inst.Args[0])
		switch {
		case !ok: // a floating-point register: not followed
			m.imm, m.useImm = unknown, true
		case r == 0:
			m.imm, m.useImm = constant(0), true
		default:
			m.reg = r
		}
	case hasMem && width > 0:
		if r, ok := reg(inst.Args[0]); ok && r != 0 {
			m.load, m.base, m.disp, m.width, m.reg = true, base, off, width, r
			m.signed = inst.Op == riscv64asm.LW // sign-extends on RV64
		}
	case len(code) >= 4 && code[0]&3 == 3 && storeOpcode(code[0]&0x7F):
		// atomics, vector and other stores: somewhere from rs1
		enc := inst.Enc
		rs1 := int8(enc >> 15 & 31)
		m.multi, m.base, m.wr = true, rs1, memWrite{any: true, base: rs1}
	default:
		m.spRead = rvReadsFrame(inst, e)
	}
	return m
}

// rvWidth are the bytes the followed loads and stores move (the signed
// byte and halfword loads are left to Effect: their register becomes
// unknown).
var rvWidth = map[riscv64asm.Op]int64{
	riscv64asm.SB: 1, riscv64asm.SH: 2, riscv64asm.SW: 4, riscv64asm.SD: 8,
	riscv64asm.FSH: 2, riscv64asm.FSW: 4, riscv64asm.FSD: 8, riscv64asm.FSQ: 16,
	riscv64asm.LBU: 1, riscv64asm.LHU: 2, riscv64asm.LWU: 4, riscv64asm.LW: 4, riscv64asm.LD: 8,
}

// storeOpcode reports the major opcodes that write memory: STORE,
// STORE-FP (the vector stores too) and AMO.
func storeOpcode(op byte) bool {
	return op == 0x23 || op == 0x27 || op == 0x2F
}

func isStore(op riscv64asm.Op) bool {
	switch op {
	case riscv64asm.SB, riscv64asm.SH, riscv64asm.SW, riscv64asm.SD,
		riscv64asm.FSH, riscv64asm.FSW, riscv64asm.FSD, riscv64asm.FSQ:
		return true
	}
	return false
}

// rvReadsFrame reports an instruction that writes a register from sp (x2)
// or s0 (x8) without a Def that says how (add a0,s0,a5; sub a0,sp,a1).
func rvReadsFrame(inst riscv64asm.Inst, e isa.Effect) bool {
	switch e.DefKind {
	case isa.DefNone, isa.DefConst, isa.DefAddr, isa.DefCopy, isa.DefAddImm:
		return false
	}
	for _, a := range inst.Args[1:] {
		if r, ok := a.(riscv64asm.Reg); ok && (r == riscv64asm.X2 || r == riscv64asm.X8) {
			return true
		}
	}
	return false
}

// riscv32MemOp is riscvMemOp for RV32. riscv64asm decodes RV64, whose
// compressed encodings differ from RV32's in three places: RV32's c.flw,
// c.flwsp (RV64 c.ld, c.ldsp), c.fsw, c.fswsp (c.sd, c.sdsp) and c.jal
// (c.addiw). Those are taken here: a floating-point load moves no integer
// register, a floating-point store writes somewhere from its base (not
// followed), c.jal is a call (Effect says so) that touches no memory.
func riscv32MemOp(code []byte, e isa.Effect) memOp {
	if len(code) == 2 {
		quadrant, funct3 := code[0]&3, code[1]>>5
		switch {
		case quadrant == 0 && funct3 == 3, quadrant == 2 && funct3 == 3, quadrant == 1 && funct3 == 1:
			return memOp{wr: memWrite{base: -1}}
		case quadrant == 0 && funct3 == 7:
			rs1 := int8(8 + (code[0]>>7|code[1]<<1)&7)
			return memOp{multi: true, base: rs1, wr: memWrite{any: true, base: rs1}}
		case quadrant == 2 && funct3 == 7:
			return memOp{multi: true, base: 2, wr: memWrite{any: true, base: 2}}
		}
	}
	return riscvMemOp(code, e)
}
