package thumb

import "github.com/stackscope/stackscope/internal/isa"

// setDef fills the Def fields (see isa.Effect) for the forms a constant
// propagation over argument set-up code needs: movs/mov/movw/mvn #imm,
// movt, literal-pool loads, adr, add/sub rX,rY,#imm (rY may be SP), and
// register moves. Other single-register writes are DefOther, set by
// writeReg while decoding.
func setDef(e *isa.Effect, hw1, hw2 uint32, pc uint64, code []byte) {
	def := func(k isa.DefKind, rd uint32, src uint32, v int64) {
		e.DefKind, e.DefReg, e.DefSrc, e.DefValue = k, int8(rd), int8(src), v
	}
	if e.Len == 2 {
		h := hw1
		switch {
		case h&0xF800 == 0x2000: // movs rd, #imm8
			def(isa.DefConst, (h>>8)&7, 0, int64(h&0xFF))
		case h&0xFF00 == 0x4600: // mov rd, rm
			rd := h&7 | (h>>4)&8
			if rd != regPC {
				def(isa.DefCopy, rd, (h>>3)&0xF, 0)
			}
		case h&0xFFC0 == 0x0000: // movs rd, rm (lsls #0)
			def(isa.DefCopy, h&7, (h>>3)&7, 0)
		case h&0xF800 == 0x0000: // lsls rd, rm, #imm5
			def(isa.DefShl, h&7, (h>>3)&7, int64((h>>6)&0x1F))
		case h&0xF800 == 0x4800: // ldr rt, [pc, #imm8*4]
			if v, ok := literalWord(code, pc, literalAddr(pc, (h&0xFF)*4, true)); ok {
				def(isa.DefConst, (h>>8)&7, 0, int64(v))
			}
		case h&0xFE00 == 0x5800: // ldr rt, [rn, rm]
			loadIndexed(e, (h>>3)&7, (h>>6)&7, 0, h&7)
		case h&0xFE00 == 0x1800: // adds rd, rn, rm
			addIndex(e, h&7, (h>>3)&7, (h>>6)&7, 0)
		case h&0xFF00 == 0x4400: // add rdn, rm
			rdn, rm := h&7|(h>>4)&8, (h>>3)&0xF
			if rdn != regSP && rdn != regPC && rm != regSP && rm != regPC {
				addIndex(e, rdn, rdn, rm, 0)
			}
		case h&0xF800 == 0x6800: // ldr rt, [rn, #imm5*4]
			load(e, (h>>3)&7, h&7, int64((h>>6)&0x1F)*4)
		case h&0xF800 == 0x9800: // ldr rt, [sp, #imm8*4]
			load(e, regSP, (h>>8)&7, int64(h&0xFF)*4)
		case h&0xF800 == 0xA000: // adr rd, label
			def(isa.DefAddr, (h>>8)&7, 0, int64(literalAddr(pc, (h&0xFF)*4, true)))
		case h&0xF800 == 0xA800: // add rd, sp, #imm8*4
			def(isa.DefAddImm, (h>>8)&7, regSP, int64(h&0xFF)*4)
		case h&0xFC00 == 0x1C00: // adds/subs rd, rn, #imm3
			v := int64((h >> 6) & 7)
			if h&0x0200 != 0 {
				v = -v
			}
			def(isa.DefAddImm, h&7, (h>>3)&7, v)
		case h&0xF000 == 0x3000: // adds/subs rdn, #imm8
			v := int64(h & 0xFF)
			if h&0x0800 != 0 {
				v = -v
			}
			rd := (h >> 8) & 7
			def(isa.DefAddImm, rd, rd, v)
		}
		return
	}
	if hw2&0x8000 != 0 {
		return // not a data-processing immediate or a load of the forms below
	}
	rd := (hw2 >> 8) & 0xF
	imm12 := (hw1>>10&1)<<11 | (hw2>>12&7)<<8 | hw2&0xFF
	switch {
	case hw1&0xFBF0 == 0xF240: // movw rd, #imm16
		def(isa.DefConst, rd, 0, int64((hw1&0xF)<<12|imm12))
	case hw1&0xFBF0 == 0xF2C0: // movt rd, #imm16
		def(isa.DefHigh16, rd, 0, int64((hw1&0xF)<<12|imm12))
	case hw1&0xFBEF == 0xF04F: // mov.w rd, #const
		def(isa.DefConst, rd, 0, int64(thumbExpandImm(imm12)))
	case hw1&0xFBEF == 0xF06F: // mvn rd, #const
		def(isa.DefConst, rd, 0, int64(^thumbExpandImm(imm12)))
	case hw1&0xFBFF == 0xF20F: // adr.w rd, label (addw rd, pc, #imm12)
		def(isa.DefAddr, rd, 0, int64(literalAddr(pc, imm12, true)))
	case hw1&0xFBFF == 0xF2AF: // adr.w rd, label (subw rd, pc, #imm12)
		def(isa.DefAddr, rd, 0, int64(literalAddr(pc, imm12, false)))
	case hw1&0xFBF0 == 0xF200 && hw1&0xF != regPC: // addw rd, rn, #imm12
		def(isa.DefAddImm, rd, hw1&0xF, int64(imm12))
	case hw1&0xFBF0 == 0xF2A0 && hw1&0xF != regPC: // subw rd, rn, #imm12
		def(isa.DefAddImm, rd, hw1&0xF, -int64(imm12))
	case hw1&0xFBE0 == 0xF100 && rd != regPC: // add.w rd, rn, #const
		def(isa.DefAddImm, rd, hw1&0xF, int64(thumbExpandImm(imm12)))
	case hw1&0xFBE0 == 0xF1A0 && rd != regPC: // sub.w rd, rn, #const
		def(isa.DefAddImm, rd, hw1&0xF, -int64(thumbExpandImm(imm12)))
	case hw1&0xFFF0 == 0xF8D0 && hw1&0xF != regPC: // ldr.w rt, [rn, #imm12] (rt < 8 here)
		load(e, hw1&0xF, hw2>>12, int64(hw2&0xFFF))
	case hw1&0xFFF0 == 0xF850 && hw2&0x0FC0 == 0 && hw1&0xF != regPC: // ldr.w rt, [rn, rm, lsl #n] (rt < 8 here)
		loadIndexed(e, hw1&0xF, hw2&0xF, (hw2>>4)&3, hw2>>12)
	case hw1&0xFFE0 == 0xEB00 && hw2&0x0030 == 0 && rd != regSP && rd != regPC && hw1&0xF != regSP && hw1&0xF != regPC && hw2&0xF != regSP && hw2&0xF != regPC:
		// add.w rd, rn, rm, lsl #n
		addIndex(e, rd, hw1&0xF, hw2&0xF, int64((hw2>>12&7)<<2|hw2>>6&3))
	case hw1&0xFFEF == 0xEA4F && hw2&0x70F0 == 0: // mov.w rd, rm
		def(isa.DefCopy, rd, hw2&0xF, 0)
	case hw1&0xFFEF == 0xEA4F && hw2&0x0030 == 0: // lsl.w rd, rm, #imm5
		def(isa.DefShl, rd, hw2&0xF, int64((hw2>>12&7)<<2|hw2>>6&3))
	}
}

// load records a word load rt = [rn + disp] (isa.DefLoad with the memory
// operand), so that the code before an indirect call shows where the
// target was read from: ldr r3,[r0]; ldr r3,[r3,#8]; blx r3 is a virtual
// call through slot 8.
func load(e *isa.Effect, rn, rt uint32, disp int64) {
	e.DefKind, e.DefReg, e.DefSrc, e.DefValue = isa.DefLoad, int8(rt), 0, 0
	e.HasMem, e.MemBase, e.MemIndex, e.MemDisp, e.MemScale = true, int8(rn), -1, disp, 1
}

// loadIndexed records a word load rt = [rn + rm<<shift]: a table's
// element, as in `ldr r3, =table; ldr r3, [r3, r2, lsl #2]; blx r3`.
func loadIndexed(e *isa.Effect, rn, rm, shift, rt uint32) {
	load(e, rn, rt, 0)
	e.MemIndex, e.MemScale = int8(rm), uint8(1)<<shift
}

// addIndex records rd = rn + (rm << shift): the address of a table's
// element, which a load then reads a member of.
func addIndex(e *isa.Effect, rd, rn, rm uint32, shift int64) {
	e.DefKind, e.DefReg, e.DefSrc, e.DefIndex, e.DefValue = isa.DefAddIndex, int8(rd), int8(rn), int8(rm), shift
}

// setLiteralDef handles ldr.w rt, [pc, #±imm12] (hw2 bit 15 is part of rt).
func setLiteralDef(e *isa.Effect, hw1, hw2 uint32, pc uint64, code []byte) {
	if hw1&0xFF7F != 0xF85F {
		return
	}
	rt := hw2 >> 12
	if rt == regPC || rt == regSP {
		return
	}
	if v, ok := literalWord(code, pc, literalAddr(pc, hw2&0xFFF, hw1&0x80 != 0)); ok {
		e.DefKind, e.DefReg, e.DefSrc, e.DefValue = isa.DefConst, int8(rt), 0, int64(v)
	} else {
		e.DefKind, e.DefReg = isa.DefOther, int8(rt)
	}
}

// literalWord reads the word at addr when it lies inside code.
func literalWord(code []byte, pc, addr uint64) (uint32, bool) {
	if addr < pc {
		return 0, false
	}
	off := addr - pc
	if off > uint64(len(code)) || uint64(len(code))-off < 4 {
		return 0, false
	}
	b := code[off : off+4]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, true
}
