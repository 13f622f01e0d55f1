package x86

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// setDef fills the Def fields of eff (see isa.Effect) for the register
// writes a constant propagation over argument set-up code needs: mov r,imm,
// lea, mov r,r, xor/sub r,r, add/sub r,imm, and as DefOther the common
// other forms that write a general-purpose register through ModRM.reg or
// opcode+reg. It looks at the bytes only, after either decoding path, so the
// fast path and x86asm report the same. Instructions it does not know keep
// DefNone ("not known").
func setDef(code []byte, pc uint64, eff *isa.Effect) {
	n := eff.Len
	if n <= 0 || n > len(code) {
		return
	}
	b := code[:n]
	p := 0
	for p < len(b) && (b[p] == 0x2E || b[p] == 0x3E || b[p] == 0xF2 || b[p] == 0xF3) {
		p++ // segment and bnd/notrack prefixes (not 66: 16-bit writes are partial)
	}
	if p < len(b) && b[p] == 0x66 {
		// 16-bit writes are partial; but movq r64,xmm (66 REX.W 0F 7E)
		// replaces a general-purpose register, which the slice before
		// an indirect call must not step over.
		if len(b) >= p+5 && b[p+1]&0xF8 == 0x48 && b[p+2] == 0x0F && b[p+3] == 0x7E && b[p+4]>>6 == 3 {
			eff.DefKind, eff.DefReg = isa.DefOther, int8(b[p+4]&7|(b[p+1]&1)<<3)
		}
		return
	}
	var rex byte
	if p < len(b) && b[p]&0xF0 == 0x40 {
		rex = b[p]
		p++
	}
	if p >= len(b) {
		return
	}
	setDefOp(b, p, rex, pc, eff, nil)
}

// The cases of setDefOp's switch on the opcode byte (defClasses).
const (
	defcNone = iota
	defcMovImm
	defcMovImm8
	defcPop
	defcPush
	defcMovRMImm
	defcLea
	defcMov
	defcMov8
	defcALU
	defcALUAcc
	defcGroup1
	defcOtherReg
	defcGroup2345
	defc0F
)

// defClasses gives each opcode (the first byte after the prefixes) the
// case of setDefOp's switch it takes, defcNone for those it has none for
// (jcc, call, test, cmp with an immediate, ...): a jump table, where a
// chain of compares was a fifth of setDefOp.
var defClasses = func() (t [256]uint8) {
	for i := range t {
		op := byte(i)
		switch {
		case op >= 0xB8 && op <= 0xBF:
			t[i] = defcMovImm
		case op >= 0xB0 && op <= 0xB7:
			t[i] = defcMovImm8
		case op >= 0x58 && op <= 0x5F:
			t[i] = defcPop
		case op >= 0x50 && op <= 0x57:
			t[i] = defcPush
		case op == 0xC7:
			t[i] = defcMovRMImm
		case op == 0x8D:
			t[i] = defcLea
		case op == 0x89 || op == 0x8B:
			t[i] = defcMov
		case op == 0x88 || op == 0x8A:
			t[i] = defcMov8
		case op < 0x40 && op&7 < 4:
			t[i] = defcALU
		case op < 0x40 && (op&7 == 4 || op&7 == 5):
			t[i] = defcALUAcc
		case op == 0x81 || op == 0x83:
			t[i] = defcGroup1
		case op == 0x63 || op == 0x69 || op == 0x6B:
			t[i] = defcOtherReg
		case op == 0xC1 || op == 0xD1 || op == 0xD3 || op == 0xF7 || op == 0xFF:
			t[i] = defcGroup2345
		case op == 0x0F:
			t[i] = defc0F
		}
	}
	return t
}()

// setDefOp is setDef from the opcode on: b is the instruction (eff.Len
// bytes), p the offset of its opcode byte, rex its REX prefix (0: none).
// pre, when not nil, is the ModRM operand the fast decoder parsed for
// this instruction (after the opcode, or after 0F xx), which is what
// setDefOp would parse again.
func setDefOp(b []byte, p int, rex byte, pc uint64, eff *isa.Effect, pre *modRM) {
	n := len(b)
	op := b[p]
	cls := defClasses[op]
	if cls == defcNone {
		return
	}
	p++
	wide := rex&8 != 0
	other := func(r byte) {
		eff.DefKind, eff.DefReg = isa.DefOther, int8(r)
	}
	modrm := func() (modRM, bool) {
		if pre != nil {
			return *pre, true
		}
		if p >= len(b) {
			return modRM{}, false
		}
		return parseModRM(b[p:], rex)
	}
	// byteReg is the full register an 8-bit register operand lives in.
	byteReg := func(r byte) byte {
		if rex == 0 && r >= 4 && r < 8 {
			return r - 4 // ah, ch, dh, bh
		}
		return r
	}
	switch cls {
	case defcMovImm: // mov r, imm32 / imm64
		r := op&7 | (rex&1)<<3
		if wide {
			if len(b)-p < 8 {
				return
			}
			eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(r), int64(binary.LittleEndian.Uint64(b[p:]))
			return
		}
		if len(b)-p < 4 {
			return
		}
		eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(r), int64(binary.LittleEndian.Uint32(b[p:]))
	case defcMovImm8: // mov r8, imm8
		other(byteReg(op&7 | (rex&1)<<3))
	case defcPop: // pop r
		other(op&7 | (rex&1)<<3)
	case defcPush: // push r64 (a 0x66 push r16 returned above)
		eff.HasStore, eff.StoreSrc = true, int8(op&7|(rex&1)<<3)
	case defcMovRMImm: // mov r/m, imm32
		m, ok := modrm()
		if !ok || m.mem || m.opdigit != 0 || len(b)-(p+int(m.n)) < 4 {
			return
		}
		v := int64(int32(binary.LittleEndian.Uint32(b[p+int(m.n):])))
		if !wide {
			v = int64(uint32(v))
		}
		eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(m.rm), v
	case defcLea: // lea
		m, ok := modrm()
		if !ok || !m.mem {
			return
		}
		switch {
		case m.base == baseRIP:
			a := pc + uint64(n) + uint64(m.disp)
			if !wide {
				a = uint64(uint32(a))
			}
			eff.DefKind, eff.DefReg, eff.DefValue = isa.DefAddr, int8(m.reg), int64(a)
		case wide && m.base >= 0 && !m.hasIndex:
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefAddImm, int8(m.reg), m.base, m.disp
		default:
			other(m.reg)
		}
	case defcMov: // mov r/m,r and r,r/m
		m, ok := modrm()
		if !ok {
			return
		}
		if m.mem {
			if op == 0x8B {
				other(m.reg)
				if wide {
					eff.DefKind = isa.DefLoad
					setMem(eff, m, pc, n)
				}
			} else if wide {
				eff.HasStore, eff.StoreSrc = true, int8(m.reg)
			}
			return
		}
		dst, src := m.rm, m.reg
		if op == 0x8B {
			dst, src = src, dst
		}
		eff.DefKind, eff.DefReg, eff.DefSrc = isa.DefCopy, int8(dst), int8(src)
		if !wide {
			eff.DefValue = 32
		}
	case defcMov8: // mov r/m8,r8 and r8,r/m8
		m, ok := modrm()
		if !ok {
			return
		}
		if op == 0x8A {
			other(byteReg(m.reg))
		} else if !m.mem {
			other(byteReg(m.rm))
		}
	case defcALU: // ALU r/m,r and r,r/m
		m, ok := modrm()
		if !ok || op&0xF8 == 0x38 { // cmp
			return
		}
		toReg := op&2 != 0
		if !toReg && m.mem {
			return
		}
		dst := m.reg
		if !toReg {
			dst = m.rm
		}
		if op&1 == 0 {
			other(byteReg(dst))
			return
		}
		alu := op >> 3
		if !m.mem && m.rm == m.reg && (alu == 6 || alu == 5) { // xor r,r / sub r,r
			eff.DefKind, eff.DefReg, eff.DefValue = isa.DefConst, int8(dst), 0
			return
		}
		other(dst)
	case defcALUAcc: // ALU al/eax/rax, imm
		if op&0xF8 == 0x38 {
			return // cmp
		}
		if op&7 == 5 && wide && (op == 0x05 || op == 0x2D) && len(b)-p >= 4 {
			v := int64(int32(binary.LittleEndian.Uint32(b[p:])))
			if op == 0x2D {
				v = -v
			}
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefAddImm, 0, 0, v
			return
		}
		other(0)
	case defcGroup1: // group 1 r, imm
		m, ok := modrm()
		if !ok || m.mem || m.opdigit == 7 {
			return
		}
		q := p + int(m.n)
		var v int64
		if op == 0x83 {
			if len(b)-q < 1 {
				return
			}
			v = int64(int8(b[q]))
		} else {
			if len(b)-q < 4 {
				return
			}
			v = int64(int32(binary.LittleEndian.Uint32(b[q:])))
		}
		if wide && (m.opdigit == 0 || m.opdigit == 5) {
			if m.opdigit == 5 {
				v = -v
			}
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefAddImm, int8(m.rm), int8(m.rm), v
			return
		}
		other(m.rm)
	case defcOtherReg: // movsxd, imul r,r/m,imm
		if m, ok := modrm(); ok {
			other(m.reg)
		}
	case defcGroup2345:
		m, ok := modrm()
		if ok && op == 0xFF && (m.opdigit == 2 || m.opdigit == 4) { // call/jmp r/m
			if m.mem {
				setMem(eff, m, pc, n)
			} else {
				eff.CallReg, eff.HasCallReg = int8(m.rm), true
			}
			return
		}
		if !ok || m.mem {
			return
		}
		if op == 0xC1 && m.opdigit == 4 && wide && p+int(m.n) < len(b) { // shl r64, imm8
			eff.DefKind, eff.DefReg, eff.DefSrc, eff.DefValue = isa.DefShl, int8(m.rm), int8(m.rm), int64(b[p+int(m.n)]&63)
			return
		}
		switch {
		case op == 0xF7 && (m.opdigit == 2 || m.opdigit == 3), // not, neg
			op == 0xFF && m.opdigit <= 1, // inc, dec
			op != 0xF7 && op != 0xFF && m.opdigit != 6:
			other(m.rm)
		}
	case defc0F:
		if p >= len(b) {
			return
		}
		op2 := b[p]
		p++
		switch {
		case op2 == 0xB6 || op2 == 0xB7 || op2 == 0xBE || op2 == 0xBF || op2 == 0xAF || op2 >= 0x40 && op2 <= 0x4F:
			if m, ok := modrm(); ok {
				other(m.reg)
			}
		}
	}
}

// setMem describes memory operand m of the instruction at pc, n bytes long,
// in eff's Mem fields; a rip-relative operand becomes its absolute address.
func setMem(eff *isa.Effect, m modRM, pc uint64, n int) {
	eff.HasMem, eff.MemBase, eff.MemIndex, eff.MemDisp, eff.MemScale = true, m.base, m.index, m.disp, m.scale
	switch m.base {
	case baseRIP:
		eff.MemBase, eff.MemDisp = -1, int64(pc+uint64(n))+m.disp
	case baseNone:
		eff.MemBase = -1
	}
}
