package x86

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// decodeHot decodes the most frequent instructions of compiled code in
// one flat pass: no prefix but REX, and mov r/m,r and r,r/m (89, 8B),
// the ALU forms r/m,r and r,r/m (add, or, adc, sbb, and, sub, xor, cmp), test
// (85), lea, push and pop of a register, call, jmp, jcc and ret. It
// fills the whole Effect DecodeInto reports, registers (setDef's) and
// all, and returns false, eff untouched, for anything else: any other
// form, and any register operand of the rsp or rbp family (their SP and
// FP effects are decodeFastParse's). Why a second fast path: in
// decodeFastParse every instruction goes through the decoder's state
// in memory, helper calls (Go keeps no register across a call, so each
// spills the state) and setDefOp's second dispatch; here the operand
// lives in registers and each case writes its Effect at once, for
// about half the machine instructions (docs/PERFORMANCE.md). checkFast
// compares it with the x86asm path, as every fast path is.
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
	if cls == hotNone {
		return false
	}
	switch cls {
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
	case hot0F: // jcc rel32 only
		if p+5 > len(code) || code[p]&0xF0 != 0x80 {
			return false
		}
		p += 5
		eff.Len = p
		eff.Flow, eff.HasTarget = isa.FlowCondJump, true
		eff.Target = pc + uint64(p) + uint64(int64(int32(binary.LittleEndian.Uint32(code[p-4:]))))
		return true
	case hotRet:
		if rex != 0 {
			return false
		}
		eff.Len = p
		eff.Flow = isa.FlowReturn
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
	}

	// The rest have a ModRM operand (parseModRMMem's rules, in locals).
	x := code[p]
	p++
	reg := (x>>3)&7 | (rex&4)<<1
	if reg == regSP || reg == regBP {
		return false
	}
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
	} else if rm == regSP || rm == regBP || cls == hotLea {
		return false
	}
	wide := rex&8 != 0
	sz := int64(4)
	if wide {
		sz = 8
	}
	eff.Len = p
	if cls == hotLea {
		if base == regBP || index == regBP {
			eff.UsesFP = true
		}
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
		return true
	}
	if mem {
		// useMem: the rbp family in the address, and an access relative
		// to rsp or rbp.
		switch base {
		case regSP:
			eff.Access, eff.AccessOff, eff.AccessSize = isa.BaseSP, disp, sz
		case regBP:
			eff.Access, eff.AccessOff, eff.AccessSize = isa.BaseFP, disp, sz
			eff.UsesFP = true
		}
		if index == regBP {
			eff.UsesFP = true
		}
	}
	switch cls {
	case hotMov: // describeMov
		if mem {
			if op == 0x8B {
				eff.DefKind, eff.DefReg = isa.DefOther, int8(reg)
				if wide {
					eff.DefKind = isa.DefLoad
					eff.HasMem, eff.MemBase, eff.MemIndex, eff.MemDisp, eff.MemScale = true, base, index, disp, scale
					switch base {
					case baseRIP:
						eff.MemBase, eff.MemDisp = -1, int64(pc+uint64(p))+disp
					case baseNone:
						eff.MemBase = -1
					}
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
	case hotALU: // setDefOp's defcALU
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
	case hotTest: // no register written
	}
	return true
}

// The opcode classes of decodeHot.
const (
	hotNone = iota
	hotJcc8
	hotCallJmp
	hot0F
	hotRet
	hotPush
	hotPop
	hotMov
	hotALU
	hotTest
	hotLea
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
		case op >= 0x50 && op <= 0x57:
			t[i] = hotPush
		case op >= 0x58 && op <= 0x5F:
			t[i] = hotPop
		case op == 0x89 || op == 0x8B:
			t[i] = hotMov
		case op < 0x40 && op&7 < 4 && op&1 == 1:
			t[i] = hotALU
		case op == 0x85:
			t[i] = hotTest
		case op == 0x8D:
			t[i] = hotLea
		}
	}
	return t
}()
