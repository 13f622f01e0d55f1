package threads

import "github.com/stackscope/stackscope/internal/isa/thumb"

// aluInst is a data-processing instruction the propagation follows:
// rd = (rn op operand), the operand being register rm shifted by a
// constant, or imm. rn < 0: the operation has one operand (mvn, mov with a
// shift, extends).
type aluInst struct {
	op     aluOp
	rd, rn int8
	rm     int8 // -1: the immediate
	imm    uint32
	sh     aluOp // aluLsl, aluLsr, aluAsr applied to rm by shAmt
	shAmt  uint32
}

// thumbOps adds to m what the Thumb instruction in code does besides the
// moves thumbMemOp finds (and its register adds, m.addRegs, which step
// computes with apply like these): the data-processing operations the propagation
// follows, a compare with an immediate, a conditional branch's condition,
// sub-word and register-offset loads and stores, and the base registers
// that loads and stores write back (which isa.Effect does not describe).
func thumbOps(code []byte, m *memOp) {
	if len(code) < 2 {
		return
	}
	h := uint32(code[0]) | uint32(code[1])<<8
	if h>>11 < 0x1D {
		thumbOps16(h, m)
		return
	}
	if len(code) < 4 {
		return
	}
	thumbOps32(h, uint32(code[2])|uint32(code[3])<<8, m)
}

var dp16 = [16]aluOp{aluAnd, aluEor, aluLsl, aluLsr, aluAsr, aluNone, aluNone, aluNone,
	aluNone, aluNone, aluNone, aluNone, aluOr, aluMul, aluBic, aluMvn}

func thumbOps16(h uint32, m *memOp) {
	r := func(shift uint) int8 { return int8((h >> shift) & 7) }
	alu := func(op aluOp, rd, rn, rm int8) { m.alu = aluInst{op: op, rd: rd, rn: rn, rm: rm} }
	switch {
	case h&0xF800 == 0x0000 && h&0x07C0 != 0: // lsls rd, rm, #imm5
		m.alu = aluInst{op: aluMov, rd: r(0), rn: -1, rm: r(3), sh: aluLsl, shAmt: (h >> 6) & 0x1F}
	case h&0xF800 == 0x0800: // lsrs rd, rm, #imm5
		m.alu = aluInst{op: aluMov, rd: r(0), rn: -1, rm: r(3), sh: aluLsr, shAmt: shiftAmount((h >> 6) & 0x1F)}
	case h&0xF800 == 0x1000: // asrs rd, rm, #imm5
		m.alu = aluInst{op: aluMov, rd: r(0), rn: -1, rm: r(3), sh: aluAsr, shAmt: shiftAmount((h >> 6) & 0x1F)}
	case h&0xFE00 == 0x1A00: // subs rd, rn, rm
		alu(aluSub, r(0), r(3), r(6))
	case h&0xF800 == 0x2800: // cmp rn, #imm8
		m.hasCmp, m.cmpReg, m.cmpImm, m.cmpUseImm = true, r(8), h&0xFF, true
	case h&0xFFC0 == 0x4280: // cmp rn, rm
		m.hasCmp, m.cmpReg, m.cmpRm = true, r(0), r(3)
	case h&0xFC00 == 0x4000: // and, eor, lsl, lsr, asr, ..., orr, mul, bic, mvn (register)
		op := dp16[(h>>6)&0xF]
		switch {
		case op == aluMvn:
			alu(op, r(0), -1, r(3))
		case op != aluNone:
			alu(op, r(0), r(0), r(3))
		}
	case h&0xFF00 == 0xB200: // sxth, sxtb, uxth, uxtb
		switch (h >> 6) & 3 {
		case 0:
			alu(aluSxth, r(0), -1, r(3))
		case 1:
			alu(aluSxtb, r(0), -1, r(3))
		case 2:
			m.alu = aluInst{op: aluAnd, rd: r(0), rn: r(3), rm: -1, imm: 0xFFFF}
		case 3:
			m.alu = aluInst{op: aluAnd, rd: r(0), rn: r(3), rm: -1, imm: 0xFF}
		}
	case h&0xF000 == 0xD000 && (h>>8)&0xF < 14: // b<cond>
		m.hasCond, m.cond = true, int8((h>>8)&0xF)
	case h&0xF000 == 0x7000, h&0xF000 == 0x8000: // strb/ldrb #imm5, strh/ldrh #imm5*2
		w := int64(1)
		if h&0xF000 == 0x8000 {
			w = 2
		}
		m.base, m.reg, m.disp, m.width = r(3), r(0), int64((h>>6)&0x1F)*w, w
		m.store, m.load, m.unknownMem = h&0x0800 == 0, h&0x0800 != 0, false
	case h&0xF000 == 0x5000: // register offset: str, strh, strb, ldrsb, ldr, ldrh, ldrb, ldrsh
		op := (h >> 9) & 7
		m.base, m.reg, m.index, m.hasIndex = r(3), r(0), r(6), true
		m.width = [8]int64{4, 2, 1, 1, 4, 2, 1, 2}[op]
		m.signed = op == 3 || op == 7
		m.store, m.load, m.unknownMem = op < 3, op >= 3, false
	case h&0xF800 == 0xC000: // stmia rn!, {list}
		m.multi, m.base = true, r(8)
		writeBack(m, r(8))
	case h&0xF800 == 0xC800: // ldmia rn!, {list}: rn written back unless listed
		if h&(1<<((h>>8)&7)) == 0 {
			writeBack(m, r(8))
		}
	}
}

// writeBack notes that an access writes its base register back (SP's
// moves are isa.Effect's).
func writeBack(m *memOp, rn int8) {
	if rn != 13 && rn != 15 {
		m.clobbers = append(m.clobbers, rn)
	}
}

// shiftAmount decodes an immediate lsr/asr amount (0 means 32).
func shiftAmount(imm5 uint32) uint32 {
	if imm5 == 0 {
		return 32
	}
	return imm5
}

var dp32 = [16]aluOp{aluAnd, aluBic, aluOr, aluNone, aluEor, aluNone, aluNone, aluNone,
	aluAdd, aluNone, aluNone, aluNone, aluNone, aluSub, aluNone, aluNone}

func thumbOps32(hw1, hw2 uint32, m *memOp) {
	rn, rd, rt := int8(hw1&0xF), int8((hw2>>8)&0xF), int8(hw2>>12)
	switch {
	case hw1&0xFA00 == 0xF000 && hw2&0x8000 == 0: // data processing, modified immediate
		op := (hw1 >> 5) & 0xF
		imm := thumb.ExpandImm((hw1>>10&1)<<11 | (hw2>>12&7)<<8 | hw2&0xFF)
		switch {
		case op == 13 && rd == 15 && hw1&0x10 != 0: // cmp.w rn, #const
			m.hasCmp, m.cmpReg, m.cmpImm, m.cmpUseImm = true, rn, imm, true
		case dp32[op] != aluNone && rd != 15 && rd != 13 && rn != 15 && rn != 13:
			m.alu = aluInst{op: dp32[op], rd: rd, rn: rn, rm: -1, imm: imm}
		}
	case hw1&0xFE00 == 0xEA00 && hw2&0x8000 == 0: // data processing, shifted register
		op := (hw1 >> 5) & 0xF
		sh := [4]aluOp{aluLsl, aluLsr, aluAsr, aluNone}[(hw2>>4)&3]
		amt := (hw2>>12&7)<<2 | (hw2>>6)&3
		if sh != aluLsl {
			amt = shiftAmount(amt)
		}
		if sh == aluNone || rd == 15 || rd == 13 {
			return // ror, or a test
		}
		a := aluInst{op: dp32[op], rd: rd, rn: rn, rm: int8(hw2 & 0xF), sh: sh, shAmt: amt}
		if op == 2 && rn == 15 { // mov.w / lsl.w / lsr.w / asr.w #imm
			a.op, a.rn = aluMov, -1
		}
		if op == 13 && rd == 15 && hw1&0x10 != 0 && sh == aluLsl && amt == 0 { // cmp.w rn, rm
			m.hasCmp, m.cmpReg, m.cmpRm = true, rn, int8(hw2&0xF)
			return
		}
		if a.op != aluNone && rn != 13 {
			m.alu = a
		}
	case hw1&0xFF80 == 0xFA00 && hw2&0xF0F0 == 0xF000: // lsl.w, lsr.w, asr.w rd, rn, rm
		if sh := [4]aluOp{aluLsl, aluLsr, aluAsr, aluNone}[(hw1>>5)&3]; sh != aluNone {
			m.alu = aluInst{op: sh, rd: rd, rn: rn, rm: int8(hw2 & 0xF)}
		}
	case hw1&0xFF8F == 0xFA0F && hw2&0xF0F0 == 0xF080: // sxth.w, uxth.w, sxtb.w, uxtb.w (no rotation)
		switch (hw1 >> 4) & 7 {
		case 0:
			m.alu = aluInst{op: aluSxth, rd: rd, rn: -1, rm: int8(hw2 & 0xF)}
		case 1:
			m.alu = aluInst{op: aluAnd, rd: rd, rn: int8(hw2 & 0xF), rm: -1, imm: 0xFFFF}
		case 4:
			m.alu = aluInst{op: aluSxtb, rd: rd, rn: -1, rm: int8(hw2 & 0xF)}
		case 5:
			m.alu = aluInst{op: aluAnd, rd: rd, rn: int8(hw2 & 0xF), rm: -1, imm: 0xFF}
		}
	case hw1&0xF800 == 0xF000 && hw2&0xD000 == 0x8000 && (hw1>>6)&0xF < 14: // b<cond>.w
		m.hasCond, m.cond = true, int8((hw1>>6)&0xF)
	case hw1&0xFE00 == 0xF800 && rn != 15: // single loads and stores
		loadStore32(hw1, hw2, rn, rt, m)
	case hw1&0xFE40 == 0xE840 && hw1&0x20 != 0: // strd/ldrd with writeback
		writeBack(m, rn)
		if hw1&0x10 == 0 && rn != 13 {
			m.multi, m.base = true, rn
		}
	case hw1&0xFFD0 == 0xE880 || hw1&0xFFD0 == 0xE900: // stm.w, stmdb
		if rn != 13 {
			m.multi, m.base = true, rn
		}
		if hw1&0x20 != 0 {
			writeBack(m, rn)
		}
	case hw1&0xFE50 == 0xE810 && hw1&0x20 != 0 && hw2&(1<<uint(rn)) == 0: // ldm.w rn!
		writeBack(m, rn)
	}
}

// loadStore32 decodes ldr/str{b,h,sb,sh}.w with an immediate or a register
// offset (1111 100S ...).
func loadStore32(hw1, hw2 uint32, rn, rt int8, m *memOp) {
	size := [4]int64{1, 2, 4, 0}[(hw1>>5)&3]
	isLoad, signed := hw1&0x10 != 0, hw1&0x100 != 0
	if size == 0 || !isLoad && signed || rt == 15 || rt == 13 {
		return
	}
	set := func(disp int64) {
		m.base, m.reg, m.disp, m.width, m.signed = rn, rt, disp, size, signed
		m.store, m.load, m.unknownMem, m.pair = !isLoad, isLoad, false, false
	}
	switch {
	case hw1&0x80 != 0: // imm12
		set(int64(hw2 & 0xFFF))
	case hw2&0x800 != 0: // imm8, with P/U/W
		p, u, w := hw2&0x400 != 0, hw2&0x200 != 0, hw2&0x100 != 0
		d := int64(hw2 & 0xFF)
		if !u {
			d = -d
		}
		if !p {
			set(0) // post-indexed: the access is at rn
		} else {
			set(d)
		}
		if w || !p {
			writeBack(m, rn)
		}
	case hw2&0xFC0 == 0: // register offset, lsl #imm2
		set(0)
		m.index, m.hasIndex, m.indexShift = int8(hw2&0xF), true, (hw2>>4)&3
	}
}
