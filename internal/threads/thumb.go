package threads

import "github.com/stackscope/stackscope/internal/isa"

// thumbMemOp finds the word stores and loads relative to a register with
// an immediate offset (str/ldr rt,[sp,#imm], [r7,#imm], [rn,#imm]) and the
// register lists of pop/ldm, which isa.Effect does not describe.
func thumbMemOp(code []byte, e isa.Effect) memOp {
	m := thumbMoves(code, e)
	m.wr = thumbWrite(code, e)
	thumbRegAdd(&m, code, e)
	return m
}

// thumbRegAdd finds the register adds (adds rd,rn,rm; add rdn,rm) and
// the other ways an instruction computes a register from SP or the frame
// pointer r7 that isa.Effect's Def fields leave undescribed.
func thumbRegAdd(m *memOp, code []byte, e isa.Effect) {
	if len(code) < 2 {
		return
	}
	h := uint32(code[0]) | uint32(code[1])<<8
	if e.Len == 2 {
		switch {
		case h&0xFE00 == 0x1800: // adds rd, rn, rm
			m.addRegs, m.rd, m.rn, m.rm = true, int8(h&7), int8((h>>3)&7), int8((h>>6)&7)
		case h&0xFF00 == 0x4400: // add rdn, rm (high registers)
			rdn := int8(h&7 | (h>>4)&8)
			m.addRegs, m.rd, m.rn, m.rm = true, rdn, rdn, int8((h>>3)&0xF)
			if rdn == 15 {
				m.addRegs = false
			}
		}
		if !m.addRegs && e.DefKind == isa.DefOther && e.UsesFP {
			m.spRead = true // some other arithmetic on r7
		}
		return
	}
	if len(code) < 4 || e.DefKind != isa.DefOther {
		return
	}
	h2 := uint32(code[2]) | uint32(code[3])<<8
	// Data processing (shifted register, 1110 101x) and (modified or
	// plain immediate, 1111 0x0x / 1111 0x1x with hw2 bit 15 clear): an
	// operand that is SP or r7.
	dataProc := h&0xFE00 == 0xEA00 || h&0xF800 == 0xF000 && h2&0x8000 == 0
	if dataProc && (h&0xF == 13 || h2&0xF == 13 && h&0xFE00 == 0xEA00 || e.UsesFP) {
		m.spRead = true
	}
}

func thumbMoves(code []byte, e isa.Effect) memOp {
	var m memOp
	if len(code) < 2 {
		return m
	}
	h := uint32(code[0]) | uint32(code[1])<<8
	if e.Len == 2 {
		switch {
		case h&0xF800 == 0x9000: // str rt, [sp, #imm8*4]
			m.store, m.base, m.reg, m.disp = true, 13, int8((h>>8)&7), int64(h&0xFF)*4
		case h&0xF800 == 0x9800: // ldr rt, [sp, #imm8*4]
			m.load, m.base, m.reg, m.disp = true, 13, int8((h>>8)&7), int64(h&0xFF)*4
		case h&0xF800 == 0x6000: // str rt, [rn, #imm5*4]
			m.store, m.base, m.reg, m.disp = true, int8((h>>3)&7), int8(h&7), int64((h>>6)&0x1F)*4
		case h&0xF800 == 0x6800: // ldr rt, [rn, #imm5*4]
			m.load, m.base, m.reg, m.disp = true, int8((h>>3)&7), int8(h&7), int64((h>>6)&0x1F)*4
		case h&0xFE00 == 0xBC00 || h&0xF800 == 0xC800: // pop {list}, ldmia rn!, {list}
			for r := int8(0); r < 8; r++ {
				if h&(1<<uint(r)) != 0 {
					m.clobbers = append(m.clobbers, r)
				}
			}
		case h&0xF000 == 0x5000 || h&0xE000 == 0x6000 || h&0xF000 == 0x8000:
			// other loads and stores: byte/halfword stores may change a tracked word
			if h&0x0800 == 0 && (h&0xF000 != 0x5000 || h&0x0E00 < 0x0600) {
				m.unknownMem = e.Access != isa.BaseNone
			}
		}
		return m
	}
	if len(code) < 4 {
		return m
	}
	h2 := uint32(code[2]) | uint32(code[3])<<8
	rn, rt := int8(h&0xF), int8(h2>>12)
	switch {
	case h&0xFFF0 == 0xF8C0 && rn != 15: // str.w rt, [rn, #imm12]
		m.store, m.base, m.reg, m.disp = true, rn, rt, int64(h2&0xFFF)
	case h&0xFFF0 == 0xF8D0 && rn != 15: // ldr.w rt, [rn, #imm12]
		m.load, m.base, m.reg, m.disp = true, rn, rt, int64(h2&0xFFF)
	case h&0xFFF0 == 0xF840 && h2&0x0F00 == 0x0C00 && rn != 15: // str rt, [rn, #-imm8]
		m.store, m.base, m.reg, m.disp = true, rn, rt, -int64(h2&0xFF)
	case h&0xFFF0 == 0xF850 && h2&0x0F00 == 0x0C00 && rn != 15: // ldr rt, [rn, #-imm8]
		m.load, m.base, m.reg, m.disp = true, rn, rt, -int64(h2&0xFF)
	case h&0xFF50 == 0xE940 && rn != 15: // strd rt, rt2, [rn, #±imm8*4] (offset form)
		m.store, m.base, m.reg, m.disp = true, rn, rt, int64(h2&0xFF)*4
		if h&0x80 == 0 {
			m.disp = -m.disp
		}
		m.pair, m.reg2 = true, int8((h2>>8)&0xF)
	case h&0xFF50 == 0xE950 && rn != 15: // ldrd rt, rt2, [rn, #±imm8*4] (offset form)
		m.load, m.base, m.reg, m.disp = true, rn, rt, int64(h2&0xFF)*4
		if h&0x80 == 0 {
			m.disp = -m.disp
		}
		m.pair, m.reg2 = true, int8((h2>>8)&0xF)
	case h&0xFE50 == 0xE850 && h&0xFFC0 != 0xE8C0: // ldrd rt, rt2 / ldrex forms
		m.clobbers = append(m.clobbers, rt, int8((h2>>8)&0xF))
	case h&0xFE50 == 0xE810: // ldm/pop.w
		for r := int8(0); r < 15; r++ {
			if h2&(1<<uint(r)) != 0 {
				m.clobbers = append(m.clobbers, r)
			}
		}
	default:
		if e.Access != isa.BaseNone && h&0xFE00 == 0xF800 && h&0x0010 == 0 {
			m.unknownMem = true // another store to the stack (strb, strh, strd...)
		}
	}
	if m.load && rt == 13 || m.load && rt == 15 {
		m.load = false
	}
	return m
}

// thumbWrite classifies every Thumb instruction that writes memory (the
// store encodings of the ARMv7-M/ARMv8-M architecture manuals: STR, STRB,
// STRH with immediate or register offsets, STM, PUSH, STRD, STREX and the
// coprocessor and floating-point stores) by its base register and, for
// the immediate-offset forms without writeback, its offset.
func thumbWrite(code []byte, e isa.Effect) memWrite {
	w := memWrite{base: -1}
	if len(code) < 2 {
		return w
	}
	h := uint32(code[0]) | uint32(code[1])<<8
	if e.Len == 2 {
		switch {
		case h&0xF000 == 0x5000 && (h>>9)&7 < 3: // str/strh/strb rt, [rn, rm]
			w = memWrite{any: true, base: int8((h >> 3) & 7)}
		case h&0xF800 == 0x6000: // str rt, [rn, #imm5*4]
			w = memWrite{any: true, base: int8((h >> 3) & 7), disp: int64((h>>6)&0x1F) * 4, hasDisp: true, size: 4}
		case h&0xF800 == 0x7000: // strb rt, [rn, #imm5]
			w = memWrite{any: true, base: int8((h >> 3) & 7), disp: int64((h >> 6) & 0x1F), hasDisp: true, size: 1}
		case h&0xF800 == 0x8000: // strh rt, [rn, #imm5*2]
			w = memWrite{any: true, base: int8((h >> 3) & 7), disp: int64((h>>6)&0x1F) * 2, hasDisp: true, size: 2}
		case h&0xF800 == 0x9000: // str rt, [sp, #imm8*4]
			w = memWrite{any: true, base: 13, disp: int64(h&0xFF) * 4, hasDisp: true, size: 4}
		case h&0xF800 == 0xC000: // stmia rn!, {list}
			w = memWrite{any: true, base: int8((h >> 8) & 7)}
		case h&0xFE00 == 0xB400: // push {list}: below SP
			w = memWrite{any: true, base: 13}
		}
		return w
	}
	if len(code) < 4 {
		return w
	}
	h2 := uint32(code[2]) | uint32(code[3])<<8
	rn := int8(h & 0xF)
	switch {
	case h&0xFE00 == 0xE800 && h&0x0010 == 0: // stm, stmdb/push.w, strd, strex, srs
		w = memWrite{any: true, base: rn}
		if h&0xFF50 == 0xE940 && h&0x0020 == 0 { // strd rt, rt2, [rn, #±imm8*4] (offset form, no writeback)
			w.disp, w.hasDisp, w.size = int64(h2&0xFF)*4, true, 8
			if h&0x80 == 0 {
				w.disp = -w.disp
			}
		}
	case h&0xFF10 == 0xF800: // strb/strh/str (and their T forms)
		w = memWrite{any: true, base: rn}
		size := int64(1) << ((h >> 5) & 3)
		switch {
		case h&0x0080 != 0: // imm12
			w.disp, w.hasDisp, w.size = int64(h2&0xFFF), true, size
		case h2&0x0F00 == 0x0C00: // negative imm8, no writeback
			w.disp, w.hasDisp, w.size = -int64(h2&0xFF), true, size
		}
	case h&0xEE00 == 0xEC00 && h&0x0010 == 0: // stc, vstr, vstm, vpush (and mcrr: taken as a store)
		w = memWrite{any: true, base: rn}
		if h&0xFF30 == 0xED00 { // vstr/stc [rn, #±imm8*4]
			w.disp, w.hasDisp, w.size = int64(h2&0xFF)*4, true, 8
			if h&0x80 == 0 {
				w.disp = -w.disp
			}
		}
	}
	if w.base == 15 {
		w.base = -1
	}
	return w
}
