package threads

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// AArch64: the loads and stores isa.Effect does not describe, read from the
// encoding (the load/store classes of the Arm Architecture Reference
// Manual's A64 tables; arm64asm keeps memory operands' offsets in
// unexported fields). Register 31 is SP as a base and XZR as the register
// stored or loaded.

// arm64MemOp finds the stores and loads with an immediate offset (str,
// stur, stp and their loads, pre- and post-indexed included), places every
// other memory write by its base register, and notes an instruction that
// computes a register from SP or x29 in a way Effect's Def fields leave
// undescribed.
func arm64MemOp(code []byte, e isa.Effect) memOp {
	m := memOp{wr: memWrite{base: -1}}
	if len(code) < 4 {
		return memOp{wr: memWrite{any: true, base: -1}, unknownMem: true}
	}
	x := binary.LittleEndian.Uint32(code)
	switch {
	case x>>25&5 == 4: // loads and stores (op0 = x1x0)
		a64LoadStore(&m, x)
	case x>>25&0xF == 2: // SVE: scatter stores anywhere
		m.wr, m.unknownMem = memWrite{any: true, base: -1}, true
	case x&0xFFF80000 == 0xD5080000: // sys (dc zva writes at Xt)
		rt := int8(x & 31)
		m.multi, m.base, m.wr = true, rt, memWrite{any: true, base: rt}
	default:
		m.spRead = a64ReadsFrame(x, e)
	}
	return m
}

// a64ReadsFrame reports a data-processing instruction that writes a
// register from x29, or from SP where the encoding reads it (add/sub
// immediate and extended register), without a Def that says how.
func a64ReadsFrame(x uint32, e isa.Effect) bool {
	switch e.DefKind {
	case isa.DefNone, isa.DefConst, isa.DefAddr, isa.DefCopy, isa.DefAddImm, isa.DefInsert16:
		return false
	}
	rn, rm := x>>5&31, x>>16&31
	if x>>26&7 != 4 && x>>25&7 != 5 { // data processing, immediate (100x) or register (x101)
		return false
	}
	if rn == 29 || rm == 29 && x>>25&7 == 5 {
		return true
	}
	addSubImm := x&0x1F000000 == 0x11000000
	addSubExt := x&0x1F200000 == 0x0B200000
	return rn == 31 && (addSubImm || addSubExt)
}

// a64LoadStore fills m for an instruction of the load/store classes.
func a64LoadStore(m *memOp, x uint32) {
	rn, rt := int8(x>>5&31), int8(x&31)
	simd := x>>26&1 == 1
	switch {
	case x&0x3B000000 == 0x39000000: // unsigned immediate offset
		size, opc := x>>30, x>>22&3
		scale := size
		if simd && opc >= 2 {
			scale = 4 // a Q register
		}
		a64Single(m, simd, size, opc, rn, rt, int64(x>>10&0xFFF)<<scale)
	case x&0x3B200000 == 0x38000000: // imm9: unscaled, post-, pre-indexed, unprivileged
		off := int64(int32(x<<11) >> 23)
		if x>>10&3 == 1 {
			off = 0 // post-index: at the base, which then moves
		}
		a64Single(m, simd, x>>30, x>>22&3, rn, rt, off)
	case x&0x3A000000 == 0x28000000: // load/store pair
		a64Pair(m, x, simd, rn, rt)
	case x&0x3B000000 == 0x18000000: // load from a literal: no write
	default:
		// register offset, exclusives, atomics, structures, MTE tags:
		// a write somewhere from the base (loads taken as writes too)
		m.multi, m.base, m.wr = true, rn, memWrite{any: true, base: rn}
	}
}

// a64Single is a load or store of one register of 1 << size bytes (a SIMD
// one: size and opc together) at rn + off.
func a64Single(m *memOp, simd bool, size, opc uint32, rn, rt int8, off int64) {
	bytes := int64(1) << size
	if simd {
		if opc&1 == 1 {
			return // a load into a SIMD register: not followed, no write
		}
		if opc >= 2 {
			bytes = 16
		}
		m.store, m.base, m.disp, m.width, m.imm, m.useImm = true, rn, off, bytes, unknown, true
		m.wr = memWrite{any: true, base: rn, disp: off, hasDisp: true, size: bytes}
		return
	}
	switch {
	case opc == 0: // str, strb, strh
		m.store, m.base, m.disp, m.width, m.reg = true, rn, off, bytes, rt
		if rt == 31 {
			m.imm, m.useImm = constant(0), true // xzr
		}
		m.wr = memWrite{any: true, base: rn, disp: off, hasDisp: true, size: bytes}
	case rt == 31:
		// a load into xzr, or prfm: nothing followed
	case opc == 1: // ldr, ldrb, ldrh (zero-extending)
		m.load, m.base, m.disp, m.width, m.reg = true, rn, off, bytes, rt
	case opc == 2 && size == 2: // ldrsw
		m.load, m.base, m.disp, m.width, m.reg, m.signed = true, rn, off, 4, rt, true
	}
	// Other sign-extending loads (to 64 bits from a byte or halfword) are
	// left to Effect: their register becomes unknown.
}

// a64Pair is stp/ldp (and ldpsw, stgp, the SIMD pairs).
func a64Pair(m *memOp, x uint32, simd bool, rn, rt int8) {
	opc, load := x>>30, x>>22&1 == 1
	rt2 := int8(x >> 10 & 31)
	scale := uint32(2)
	switch {
	case simd:
		scale = 2 + opc
	case opc == 2:
		scale = 3
	case opc == 1 && !load:
		scale = 4 // stgp
	}
	bytes := int64(1) << scale
	off := int64(int32(x<<10)>>25) << scale
	if x>>23&3 == 1 {
		off = 0 // post-index
	}
	if !load {
		m.store, m.base, m.disp = true, rn, off
		m.wr = memWrite{any: true, base: rn, disp: off, hasDisp: true, size: 2 * bytes}
		switch {
		case simd || opc == 1 || bytes != 8 && (rt == 31 || rt2 == 31):
			m.width, m.imm, m.useImm = 2*bytes, unknown, true
		case rt2 == 31:
			// the second word is zero: kept unknown (one value per store)
			m.width, m.reg = 2*bytes, rt
			if rt == 31 {
				m.imm, m.useImm = constant(0), true
			}
		case rt == 31:
			m.width, m.imm, m.useImm = 2*bytes, constant(0), true
		default:
			m.width, m.reg, m.pair, m.reg2 = bytes, rt, true, rt2
		}
		return
	}
	if simd || rt == 31 || rt2 == 31 {
		return // Effect makes the registers written unknown
	}
	m.load, m.base, m.disp, m.width, m.reg, m.pair, m.reg2 = true, rn, off, bytes, rt, true, rt2
	m.signed = opc == 1 // ldpsw
}
