package x86

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// decodeHot decodes the most frequent instructions of compiled code in
// one flat pass, with no prefix but REX (and endbr64's F3): mov r/m,r
// and r,r/m (89, 8B), the ALU forms r/m,r and r,r/m, test (85), lea,
// group 1 with an immediate (81, 83; 80 on memory), mov r/m,imm32 (C7)
// and r,imm (B8-BF), movzx and movsx, call and jmp through r/m, push and
// pop of a register, call, jmp, jcc, ret, nop (90, 0F 1F) and endbr64.
// It fills the whole Effect DecodeInto reports, registers (setDef's) and
// Nop included, and returns false, eff untouched, for anything else and
// for the forms that move rsp or set rbp from it (decodeFastParse's
// frameOp and x86asm's) but add and sub rsp, imm. Why a second fast path: in decodeFastParse
// every instruction goes through the decoder's state in memory, helper
// calls (Go keeps no register across a call, so each spills the state)
// and setDefOp's second dispatch; here the operand lives in locals and
// each case writes its Effect at once, for about half the machine
// instructions (docs/PERFORMANCE.md). checkHot compares it with the
// x86asm path at every byte offset of libc and libstdc++ and on every
// opcode.
func decodeHot(code []byte, pc uint64, eff *isa.Effect) bool {
	if len(code) < 2 {
		return false
	}
	p := 0
	var rex byte
	if code[0]&0xF0 == 0x40 {
		rex, p = code[0], 1
	}
	op := code[p]
	p++
	cls := hotClasses[op]
	switch cls {
	case hotNone:
		return false
	case hotJcc8:
		if p >= len(code) {
			return false
		}
		eff.Len = p + 1
		eff.Flow, eff.HasTarget = isa.FlowCondJump, true
		eff.Target = pc + uint64(p+1) + uint64(int64(int8(code[p])))
		return true
	case hotCallJmp:
		n := 4
		if op == 0xEB {
			n = 1
		}
		if p+n > len(code) {
			return false
		}
		var rel int64
		if n == 1 {
			rel = int64(int8(code[p]))
		} else {
			rel = int64(int32(binary.LittleEndian.Uint32(code[p:])))
		}
		p += n
		eff.Len = p
		eff.Flow = isa.FlowJump
		if op == 0xE8 {
			eff.Flow = isa.FlowCall
		}
		eff.Target, eff.HasTarget = pc+uint64(p)+uint64(rel), true
		return true
	case hotRet:
		if rex != 0 {
			return false
		}
		eff.Len = p
		eff.Flow = isa.FlowReturn
		return true
	case hotNop:
		if rex != 0 {
			return false
		}
		eff.Len, eff.Nop = 1, true
		return true
	case hotEndbr: // F3 0F 1E FA/FB: no effect
		if p != 1 || p+3 > len(code) || code[1] != 0x0F || code[2] != 0x1E || code[3] != 0xFA && code[3] != 0xFB {
			return false
		}
		eff.Len = 4
		return true
	case hotInt3:
		eff.Len = p
		eff.Flow = isa.FlowStop
		return true
	case hotLeave: // frameOp's
		if rex != 0 {
			return false
		}
		eff.Len = p
		eff.UsesFP, eff.ClobbersFP = true, true
		eff.SP, eff.SPDelta = isa.SPFromFP, 8
		return true
	case hotPushImm:
		n := 4
		if op == 0x6A {
			n = 1
		}
		if p+n > len(code) {
			return false
		}
		eff.Len = p + n
		eff.SP, eff.SPDelta = isa.SPAdd, -8
		return true
	case hotPush, hotPop:
		r := op&7 | (rex&1)<<3
		if cls == hotPop && r == regSP {
			return false // pop rsp
		}
		eff.Len = p
		eff.SP = isa.SPAdd
		if cls == hotPush {
			eff.SPDelta = -8
			eff.HasStore, eff.StoreSrc = true, int8(r)
			eff.UsesFP = r == regBP
		} else {
			eff.SPDelta = 8
			eff.DefKind, eff.DefReg = isa.DefOther, int8(r)
			if r == regBP {
				eff.UsesFP, eff.ClobbersFP = true, true
			}
		}
		return true
	case hotMovImm: // mov r32, imm32; mov r64, imm64
		r := op&7 | (rex&1)<<3
		if r == regSP {
			return false
		}
		var v int64
		if rex&8 != 0 {
			if p+8 > len(code) {
				return false
			}
			v = int64(binary.LittleEndian.Uint64(code[p:]))
			p += 8
			eff.DefValue = v
		} else {
			if p+4 > len(code) {
				return false
			}
			u := binary.LittleEndian.Uint32(code[p:])
			p += 4
			v = int64(int32(u)) // (x86asm's sign extension: see opcMovImm)
			eff.DefValue = int64(u)
		}
		eff.Len = p
		if r == regBP {
			eff.UsesFP, eff.ClobbersFP = true, true
		}
		if v >= 0x10000 {
			eff.Ref, eff.HasRef = uint64(v), true
		}
		eff.DefKind, eff.DefReg = isa.DefConst, int8(r)
		return true
	case hot0F:
		if p >= len(code) {
			return false
		}
		op = code[p]
		p++
		if op&0xF0 == 0x80 { // jcc rel32
			if p+4 > len(code) {
				return false
			}
			p += 4
			eff.Len = p
			eff.Flow, eff.HasTarget = isa.FlowCondJump, true
			eff.Target = pc + uint64(p) + uint64(int64(int32(binary.LittleEndian.Uint32(code[p-4:]))))
			return true
		}
		cls = hot0FClasses[op]
		if cls == hotNone {
			return false
		}
	}

	// The rest have a ModRM operand (parseModRMMem's rules, in locals).
	if p >= len(code) {
		return false
	}
	x := code[p]
	p++
	reg := (x>>3)&7 | (rex&4)<<1
	digit := (x >> 3) & 7 // the /digit of the group opcodes
	mod := x >> 6
	rm := x&7 | (rex&1)<<3
	mem := mod != 3
	base, index := baseNone, baseNone
	var scale uint8
	var disp int64
	if mem {
		dispSize := 0
		switch mod {
		case 1:
			dispSize = 1
		case 2:
			dispSize = 4
		}
		if x&7 == 4 {
			if p >= len(code) {
				return false
			}
			sib := code[p]
			p++
			if idx := (sib>>3)&7 | (rex&2)<<2; idx != 4 {
				index, scale = int8(idx), 1<<(sib>>6)
			}
			if b := sib & 7; b == 5 && mod == 0 {
				dispSize = 4
			} else {
				base = int8(b | (rex&1)<<3)
			}
		} else if x&7 == 5 && mod == 0 {
			base, dispSize = baseRIP, 4
		} else {
			base = int8(rm)
		}
		if p+dispSize > len(code) {
			return false
		}
		switch dispSize {
		case 1:
			disp = int64(int8(code[p]))
		case 4:
			disp = int64(int32(binary.LittleEndian.Uint32(code[p:])))
		}
		p += dispSize
	}
	wide := rex&8 != 0
	sz := int64(4)
	if wide {
		sz = 8
	}
	// What the operands do to the rbp family (useReg, writeReg); a
	// write of the rsp family returns false before eff is touched.
	usesFP, clobbersFP := false, false
	// accessSize is the size of the memory operand's access (0: none).
	accessSize := sz
	var v int64 // the immediate
	switch cls {
	case hotMov, hotALU:
		if cls == hotMov && rex == 0x48 && (x == 0xE5 || x == 0xEC) {
			// mov rbp,rsp (89 E5, 8B EC) and mov rsp,rbp (89 EC, 8B E5):
			// frameOp's Effects, and setDefOp's copy.
			dst, src := rm, reg
			if op == 0x8B {
				dst, src = src, dst
			}
			eff.Len = p
			eff.UsesFP = true
			if dst == regBP {
				eff.SetsFP = true
			} else {
				eff.SP = isa.SPFromFP
			}
			eff.DefKind, eff.DefReg, eff.DefSrc = isa.DefCopy, int8(dst), int8(src)
			return true
		}
		// toReg: ModRM.reg is the destination (8B; ALU 02, 03, ...);
		// read: the destination is only read (cmp).
		toReg, read := op == 0x8B, false
		if cls == hotALU {
			toReg, read = op&2 != 0, op&0xF8 == 0x38
		}
		if cls == hotMov && !mem && wide && (toReg && reg == regBP && rm == regSP || !toReg && rm == regBP && reg == regSP) {
			return false // mov rbp,rsp: SetsFP
		}
		dst, src := rm, reg
		if toReg {
			dst, src = reg, rm
		}
		// (src is ModRM.reg unless toReg, dst when toReg: those are
		// registers; the other is one only without a memory operand.)
		if src == regBP && (!toReg || !mem) || read && dst == regBP && (toReg || !mem) {
			usesFP = true
		}
		if !read && (toReg || !mem) { // a register written
			if dst == regSP {
				return false
			}
			if dst == regBP {
				usesFP, clobbersFP = true, true
			}
		}
	case hotTest:
		if reg == regBP || !mem && rm == regBP {
			usesFP = true
		}
	case hotLea:
		if !mem || reg == regSP || reg == regBP && wide && base == regSP && index < 0 {
			return false // SP effects, SetsFP: frameOp's and x86asm's
		}
		if reg == regBP {
			usesFP, clobbersFP = true, true
		}
		accessSize = 0
	case hotGroup1:
		n := 1
		if op == 0x80 {
			if !mem {
				return false
			}
			accessSize = 1
		} else if op == 0x81 {
			n = 4
		}
		spAdd := false // add/sub rsp, imm (frameOp's)
		if !mem {
			if digit != 7 && rm == regSP {
				if rex != 0x48 || x != 0xC4 && x != 0xEC {
					return false
				}
				spAdd = true
			}
			if rm == regBP {
				usesFP = true
				clobbersFP = digit != 7
			}
		}
		if p+n > len(code) {
			return false
		}
		if n == 1 {
			v = int64(int8(code[p]))
		} else {
			v = int64(int32(binary.LittleEndian.Uint32(code[p:])))
		}
		p += n
		if spAdd {
			eff.SP, eff.SPDelta = isa.SPAdd, v
			if x == 0xEC {
				eff.SPDelta = -v
			}
		}
	case hotMovRMImm: // C7 /0
		if digit != 0 || p+4 > len(code) {
			return false
		}
		if !mem {
			if rm == regSP {
				return false
			}
			if rm == regBP {
				usesFP, clobbersFP = true, true
			}
		}
		v = int64(int32(binary.LittleEndian.Uint32(code[p:])))
		p += 4
	case hotGroup5: // call and jmp through r/m; inc and dec
		if digit <= 1 {
			cls = hotIncDec
			if !mem {
				if rm == regSP {
					return false
				}
				if rm == regBP {
					usesFP, clobbersFP = true, true
				}
			}
			break
		}
		if digit != 2 && digit != 4 || !mem && wide {
			return false
		}
		if !mem && rm == regBP {
			usesFP = true
		}
		accessSize = 8
	case hotMovx: // movzx, movsx r, r/m8 and r/m16
		if !mem && (rm == regSP || rm == regBP) || reg == regSP {
			return false // (the byte registers' names: x86asm's)
		}
		if reg == regBP {
			usesFP, clobbersFP = true, true
		}
		accessSize = 1
		if op&1 == 1 {
			accessSize = 2
		}
	case hotShift, hotTest8, hotMovRMImm8, hotGroup3, hotSSE, hotSetcc, hotRegRM, hotMovsxd, hotImulImm:
		// Each form's operands: what ModRM.reg is (none: an opcode
		// extension or an xmm register), what the r/m register is
		// (none: xmm), whether they are bytes, the immediate's size.
		regRole, rmRole, byteOp, n := roleNone, roleRead, false, 0
		switch cls {
		case hotShift: // C1, D1, D3
			if digit == 6 {
				return false
			}
			rmRole = roleWrite
			if op == 0xC1 {
				n = 1
			}
		case hotTest8: // 84
			regRole, byteOp, accessSize = roleRead, true, 1
		case hotMovRMImm8: // C6 /0
			if digit != 0 {
				return false
			}
			rmRole, byteOp, accessSize, n = roleWrite, true, 1, 1
		case hotGroup3: // F6 /0, F7 /0: test r/m, imm
			if digit != 0 {
				return false
			}
			n = 4
			if op == 0xF6 {
				byteOp, accessSize, n = true, 1, 1
			}
		case hotSSE: // 0F xx, no prefix (sseMove's)
			if wide {
				return false
			}
			rmRole, accessSize = roleNone, int64(sseOps[op].mem[0])
		case hotSetcc: // 0F 9x
			rmRole, byteOp, accessSize = roleWrite, true, 1
		case hotRegRM: // cmovcc, imul r,r/m
			regRole = roleWrite
		case hotMovsxd: // 63
			if !wide {
				return false
			}
			regRole, accessSize = roleWrite, 4
		case hotImulImm: // 69, 6B
			regRole, n = roleWrite, 4
			if op == 0x6B {
				n = 1
			}
		}
		if byteOp {
			// (4 and 5 are ah and ch without REX, spl and bpl with it:
			// left to decodeFastParse.)
			if regRole != roleNone && (reg == regSP || reg == regBP) || !mem && (rm == regSP || rm == regBP) {
				return false
			}
		} else {
			if regRole == roleWrite && reg == regSP || !mem && rmRole == roleWrite && rm == regSP {
				return false
			}
			if regRole != roleNone && reg == regBP || !mem && rmRole != roleNone && rm == regBP {
				usesFP = true
				clobbersFP = regRole == roleWrite && reg == regBP || !mem && rmRole == roleWrite && rm == regBP
			}
		}
		if p+n > len(code) {
			return false
		}
		switch n {
		case 1:
			v = int64(int8(code[p]))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(code[p:])))
		}
		p += n
	case hotNopRM: // nop r/m
		if !mem || digit != 0 {
			return false
		}
		accessSize = 0
		eff.Nop = rex == 0 // (isNop skips no REX)
	}

	eff.Len = p
	if mem {
		// useMem: the rbp family in the address, and an access relative
		// to rsp or rbp.
		if base == regBP || index == regBP {
			usesFP = true
		}
		if accessSize != 0 {
			switch base {
			case regSP:
				eff.Access, eff.AccessOff, eff.AccessSize = isa.BaseSP, disp, accessSize
			case regBP:
				eff.Access, eff.AccessOff, eff.AccessSize = isa.BaseFP, disp, accessSize
			}
		}
	}
	eff.UsesFP, eff.ClobbersFP = usesFP, clobbersFP

	// The registers' description (setDefOp's) and the rest of each form.
	switch cls {
	case hotMov: // describeMov
		if mem {
			if op == 0x8B {
				eff.DefKind, eff.DefReg = isa.DefOther, int8(reg)
				if wide {
					eff.DefKind = isa.DefLoad
					setMemOf(eff, base, index, scale, disp, pc, p)
				}
			} else if wide {
				eff.HasStore, eff.StoreSrc = true, int8(reg)
			}
			return true
		}
		dst, src := rm, reg
		if op == 0x8B {
			dst, src = src, dst
		}
		eff.DefKind, eff.DefReg, eff.DefSrc = isa.DefCopy, int8(dst), int8(src)
		if !wide {
			eff.DefValue = 32
		}
	case hotALU: // defcALU
		if op&0xF8 == 0x38 { // cmp
			return true
		}
		toReg := op&2 != 0
		if !toReg && mem {
			return true
		}
		dst := reg
		if !toReg {
			dst = rm
		}
		if alu := op >> 3; !mem && rm == reg && (alu == 6 || alu == 5) { // xor r,r / sub r,r
			eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(dst), 0
			return true
		}
		eff.DefKind, eff.DefReg = isa.DefOther, int8(dst)
	case hotLea: // defcLea, and the address as a reference
		switch {
		case base == baseRIP:
			a := pc + uint64(p) + uint64(disp)
			eff.Ref, eff.HasRef = a, true
			if !wide {
				a = uint64(uint32(a))
			}
			eff.DefKind, eff.DefReg, eff.DefValue = isa.DefAddr, int8(reg), int64(a)
		case wide && base >= 0 && index < 0:
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefAddImm, int8(reg), base, disp
			if base == regSP && disp < 0 {
				eff.SavesSPLimit, eff.SPLimitOffset = true, disp
			}
		default:
			eff.DefKind, eff.DefReg = isa.DefOther, int8(reg)
		}
	case hotGroup1: // defcGroup1
		if op == 0x80 || mem || digit == 7 {
			return true
		}
		if wide && (digit == 0 || digit == 5) {
			if digit == 5 {
				v = -v
			}
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefAddImm, int8(rm), int8(rm), v
			return true
		}
		eff.DefKind, eff.DefReg = isa.DefOther, int8(rm)
	case hotMovRMImm: // defcMovRMImm
		if mem {
			return true
		}
		if v >= 0x10000 {
			eff.Ref, eff.HasRef = uint64(v), true
		}
		if !wide {
			v = int64(uint32(v))
		}
		eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(rm), v
	case hotGroup5: // defcGroup2345's call/jmp r/m
		eff.Flow = isa.FlowIndirectCall
		if digit == 4 {
			eff.Flow = isa.FlowIndirectJump
		}
		if !mem {
			eff.CallReg, eff.HasCallReg = int8(rm), true
			return true
		}
		if index < 0 {
			switch base {
			case baseRIP:
				eff.Slot, eff.HasSlot = pc+uint64(p)+uint64(disp), true
			case baseNone:
				eff.Slot, eff.HasSlot = uint64(disp), true
			}
		}
		setMemOf(eff, base, index, scale, disp, pc, p)
	case hotMovx, hotRegRM, hotMovsxd, hotImulImm: // defc0F, defcOtherReg
		eff.DefKind, eff.DefReg = isa.DefOther, int8(reg)
	case hotShift, hotIncDec: // defcGroup2345
		if mem {
			return true
		}
		if op == 0xC1 && digit == 4 && wide { // shl r64, imm8
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefShl, int8(rm), int8(rm), v&63
			return true
		}
		eff.DefKind, eff.DefReg = isa.DefOther, int8(rm)
	}
	return true
}

// The roles of an operand of decodeHot's generic forms.
const (
	roleNone = iota
	roleRead
	roleWrite
)

// setMemOf is setMem for an operand decodeHot parsed into locals.
func setMemOf(eff *isa.Effect, base, index int8, scale uint8, disp int64, pc uint64, n int) {
	eff.HasMem, eff.MemBase, eff.MemIndex, eff.MemDisp, eff.MemScale = true, base, index, disp, scale
	switch base {
	case baseRIP:
		eff.MemBase, eff.MemDisp = -1, int64(pc+uint64(n))+disp
	case baseNone:
		eff.MemBase = -1
	}
}

// The opcode classes of decodeHot.
const (
	hotNone = iota
	hotJcc8
	hotCallJmp
	hot0F
	hotRet
	hotNop
	hotEndbr
	hotPush
	hotPop
	hotMovImm
	hotInt3
	hotLeave
	hotPushImm
	// With a ModRM operand:
	hotMov
	hotALU
	hotTest
	hotLea
	hotGroup1
	hotMovRMImm
	hotGroup5
	hotMovx
	hotNopRM
	hotIncDec // (from hotGroup5)
	hotShift
	hotTest8
	hotMovRMImm8
	hotGroup3
	hotSSE
	hotSetcc
	hotRegRM
	hotMovsxd
	hotImulImm
)

// hotClasses gives each opcode byte its case in decodeHot (hotNone:
// not taken there).
var hotClasses = func() (t [256]uint8) {
	for i := range t {
		op := byte(i)
		switch {
		case op >= 0x70 && op <= 0x7F:
			t[i] = hotJcc8
		case op == 0xE8 || op == 0xE9 || op == 0xEB:
			t[i] = hotCallJmp
		case op == 0x0F:
			t[i] = hot0F
		case op == 0xC3:
			t[i] = hotRet
		case op == 0x90:
			t[i] = hotNop
		case op == 0xF3:
			t[i] = hotEndbr
		case op >= 0x50 && op <= 0x57:
			t[i] = hotPush
		case op >= 0x58 && op <= 0x5F:
			t[i] = hotPop
		case op >= 0xB8 && op <= 0xBF:
			t[i] = hotMovImm
		case op == 0x89 || op == 0x8B:
			t[i] = hotMov
		case op < 0x40 && op&7 < 4 && op&1 == 1:
			t[i] = hotALU
		case op == 0x85:
			t[i] = hotTest
		case op == 0x8D:
			t[i] = hotLea
		case op == 0x80 || op == 0x81 || op == 0x83:
			t[i] = hotGroup1
		case op == 0xC7:
			t[i] = hotMovRMImm
		case op == 0xFF:
			t[i] = hotGroup5
		case op == 0xCC:
			t[i] = hotInt3
		case op == 0xC9:
			t[i] = hotLeave
		case op == 0x68 || op == 0x6A:
			t[i] = hotPushImm
		case op == 0xC1 || op == 0xD1 || op == 0xD3:
			t[i] = hotShift
		case op == 0x84:
			t[i] = hotTest8
		case op == 0xC6:
			t[i] = hotMovRMImm8
		case op == 0xF6 || op == 0xF7:
			t[i] = hotGroup3
		case op == 0x63:
			t[i] = hotMovsxd
		case op == 0x69 || op == 0x6B:
			t[i] = hotImulImm
		}
	}
	return t
}()

// hot0FClasses is hotClasses for the second byte of 0F xx (jcc rel32,
// 0F 8x, is decodeHot's own test).
var hot0FClasses = func() (t [256]uint8) {
	for _, op := range []byte{0xB6, 0xB7, 0xBE, 0xBF} {
		t[op] = hotMovx
	}
	t[0x1F] = hotNopRM
	for op := range t {
		// sseMove's forms without a prefix, all-xmm and without an
		// immediate.
		if e := &sseOps[op]; e.mem[0] != 0 && e.gp[0] == gpNone && !e.imm8 {
			t[op] = hotSSE
		}
		switch {
		case op >= 0x90 && op <= 0x9F:
			t[op] = hotSetcc
		case op >= 0x40 && op <= 0x4F || op == 0xAF:
			t[op] = hotRegRM
		}
	}
	return t
}()
