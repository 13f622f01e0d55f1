package x86

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// The fast path decodes the most common general-purpose instructions
// directly, without x86asm (whose table interpreter costs about 200 ns per
// instruction and boxes immediates and memory operands into interfaces, i.e.
// allocates). It covers an optional 0x66 prefix, an optional REX prefix and a
// fixed list of one- and two-byte opcodes; anything else, and any of these
// that writes rsp or rbp (other than push/pop of a register) or is otherwise
// unusual, returns false and goes to x86asm.
//
// The contract is that decodeFast, when it returns true, reports exactly the
// Effect the x86asm path would; TestFastMatchesSlow checks this on every
// byte offset of libc's .text and FuzzDecode on random input.

// modRM is a decoded ModRM operand. (24 bytes: the fast path zeroes it
// for every instruction with a ModRM.)
type modRM struct {
	disp     int64 // sign-extended displacement
	n        uint8 // bytes taken by ModRM, SIB and displacement
	mod      byte  // ModRM.mod
	reg      byte  // ModRM.reg extended by REX.R (0-15)
	rm       byte  // ModRM.rm extended by REX.B, for mod == 3
	mem      bool  // mod != 3
	base     int8  // memory base register 0-15, baseNone or baseRIP
	index    int8  // memory index register 0-15 or baseNone
	opdigit  byte  // ModRM.reg without REX.R (the /digit of group opcodes)
	hasIndex bool
	scale    uint8 // the index's scale: 1, 2, 4 or 8
}

const (
	baseNone int8 = -1
	baseRIP  int8 = -2
)

const (
	regSP = 4
	regBP = 5
)

// parseModRM decodes the ModRM byte at b[0] and what follows it (64-bit
// addressing). ok is false when b is too short.
func parseModRM(b []byte, rex byte) (m modRM, ok bool) {
	ok = parseModRMInto(&m, b, rex)
	return m, ok
}

// parseModRMInto is parseModRM into *m (the decoders' hot path: no copies
// of the operand); *m is not to be read when it returns false.
func parseModRMInto(m *modRM, b []byte, rex byte) bool {
	if len(b) > 0 && b[0] >= 0xC0 {
		// A register operand (most ModRMs), here where the compiler
		// inlines it: a call costs the caller's registers.
		x := b[0]
		*m = modRM{n: 1, mod: 3, opdigit: (x >> 3) & 7, reg: (x>>3)&7 | (rex&4)<<1, rm: x&7 | (rex&1)<<3}
		return true
	}
	return parseModRMMem(m, b, rex)
}

// parseModRMMem is parseModRMInto for the memory operands (mod 0-2).
func parseModRMMem(m *modRM, b []byte, rex byte) bool {
	*m = modRM{}
	if len(b) < 1 {
		return false
	}
	x := b[0]
	m.mod, m.opdigit = x>>6, (x>>3)&7
	m.reg = m.opdigit | (rex&4)<<1
	rm := x & 7
	m.n = 1
	if m.mod == 3 {
		m.rm = rm | (rex&1)<<3
		return true
	}
	m.mem = true
	m.base, m.index = baseNone, baseNone
	dispSize := uint8(0)
	switch m.mod {
	case 1:
		dispSize = 1
	case 2:
		dispSize = 4
	}
	if rm == 4 {
		if len(b) < 2 {
			return false
		}
		sib := b[1]
		m.n = 2
		idx := (sib>>3)&7 | (rex&2)<<2
		if idx != 4 {
			m.index, m.hasIndex, m.scale = int8(idx), true, 1<<(sib>>6)
		}
		base := sib & 7
		if base == 5 && m.mod == 0 {
			dispSize = 4 // no base
		} else {
			m.base = int8(base | (rex&1)<<3)
		}
	} else if rm == 5 && m.mod == 0 {
		m.base = baseRIP
		dispSize = 4
	} else {
		m.base = int8(rm | (rex&1)<<3)
	}
	if len(b) < int(m.n+dispSize) {
		return false
	}
	switch dispSize {
	case 1:
		m.disp = int64(int8(b[m.n]))
	case 4:
		m.disp = int64(int32(binary.LittleEndian.Uint32(b[m.n:])))
	}
	m.n += dispSize
	return true
}

// fastState carries what the opcode handlers need.
type fastState struct {
	eff   *isa.Effect
	pc    uint64
	rex   byte
	size  int64 // operand size in bytes: 2, 4 or 8
	m     modRM
	haveM bool
	// opAt is 1 + the offset of the opcode byte of an instruction with
	// no prefix but REX (0 otherwise).
	opAt int
	// seg: an fs or gs segment prefix (thread-local data: no stack
	// access, no fixed address).
	seg bool
}

// describeRegs fills the Def fields (setDef) of an instruction the
// fast path took, from its parse: an instruction without prefixes but
// REX (most) is described from s, its opcode and ModRM not read again
// (setDef re-parsing every instruction was 5% of a program's frame
// walk); the others by setDef. Done here, in the decoding's own pass,
// where a separate step copied the parse out and called again for it.
// TestFastMatchesSlow compares it with setDef.
func (s *fastState) describeRegs(code []byte) {
	if s.opAt == 0 {
		setDef(code, s.pc, s.eff)
		return
	}
	if defClasses[code[s.opAt-1]] == defcNone {
		return // (setDefOp's first test, without the call: jcc, call, test, ...)
	}
	var pre *modRM
	if s.haveM {
		pre = &s.m
	}
	setDefOp(code[:s.eff.Len], s.opAt-1, s.rex, s.pc, s.eff, pre)
}

// regKind says whether register number r (0-15) at operand size sz names
// the stack pointer (1), the frame pointer (2) or neither (0). Without REX,
// byte registers 4-7 are ah, ch, dh, bh.
func regKind(r byte, sz int64, rex byte) int {
	if sz == 1 && rex == 0 && r >= 4 {
		return 0
	}
	switch r {
	case regSP:
		return 1
	case regBP:
		return 2
	}
	return 0
}

// useReg records a register operand: UsesFP for the rbp family.
func (s *fastState) useReg(r byte, sz int64) {
	if regKind(r, sz, s.rex) == 2 {
		s.eff.UsesFP = true
	}
}

// writeReg checks a written register operand. It returns false for the
// rsp family: those writes (SP effects) are left to the x86asm path. A
// write of the rbp family is ClobbersFP, as classifyFPWrite says for any
// instruction but mov rbp,rsp and lea rbp,[rsp+d] (SetsFP), which the
// callers leave to the x86asm path. (Code built without frame pointers
// uses rbp as any other register: these writes were the largest share
// of libLLVM's instructions that went through x86asm.)
func (s *fastState) writeReg(r byte, sz int64) bool {
	switch regKind(r, sz, s.rex) {
	case 1:
		return false
	case 2:
		s.eff.UsesFP, s.eff.ClobbersFP = true, true
	}
	return true
}

// useRM records the r/m operand: a register (read or written as told) or a
// memory operand of sz bytes (an access when relative to rsp/rbp). (The
// register operand here, where the compiler inlines it.)
func (s *fastState) useRM(sz int64, write, access bool) bool {
	if !s.m.mem && s.m.rm-regSP > 1 { // (byte arithmetic: rm is neither 4 nor 5)
		return true // a register other than rsp and rbp: nothing to record
	}
	return s.useRMSlow(sz, write, access)
}

// useRMSlow is useRM for a memory operand or the rsp and rbp families.
func (s *fastState) useRMSlow(sz int64, write, access bool) bool {
	if !s.m.mem {
		if write {
			return s.writeReg(s.m.rm, sz)
		}
		s.useReg(s.m.rm, sz)
		return true
	}
	return s.useMem(sz, access)
}

// useMem is useRM for a memory operand.
func (s *fastState) useMem(sz int64, access bool) bool {
	m := &s.m
	if m.base == regBP || m.index == regBP {
		s.eff.UsesFP = true
	}
	// With an index register ([rsp+rdx-0x78]: an array in the red zone),
	// the displacement is the lowest byte touched for a non-negative
	// index, which is what C array indexing gives.
	if access && !s.seg {
		switch m.base {
		case regSP:
			s.eff.Access, s.eff.AccessOff, s.eff.AccessSize = isa.BaseSP, m.disp, sz
		case regBP:
			s.eff.Access, s.eff.AccessOff, s.eff.AccessSize = isa.BaseFP, m.disp, sz
		}
	}
	return true
}

// slot is the fixed address of a [rip+d] or [d32] operand.
func (s *fastState) slot() (uint64, bool) {
	m := &s.m
	if m.hasIndex {
		return 0, false
	}
	switch m.base {
	case baseRIP:
		return s.pc + uint64(s.eff.Len) + uint64(m.disp), true
	case baseNone:
		return uint64(m.disp), true
	}
	return 0, false
}

func imm(b []byte, n int) int64 {
	switch n {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// decodeFast fills eff for the instructions it knows and returns true, or
// returns false (eff untouched or partly filled: the caller resets it).
func decodeFast(code []byte, pc uint64, eff *isa.Effect) bool {
	return decodeFastParse(code, pc, eff, false)
}

// decodeFastParse is decodeFast that, with def, also fills the Def
// fields as setDef does (describeRegs).
func decodeFastParse(code []byte, pc uint64, eff *isa.Effect, def bool) bool {
	if len(code) == 0 {
		return false
	}
	p := 0
	has66, seg := false, false
	// rep: an F2 or F3 prefix (only SSE data moves, sseMove, take one
	// here). One test for the instructions without a legacy prefix.
	var rep byte
	if b0 := code[0]; legacyPrefix[b0] {
		if (b0 == 0x66 || b0 == 0x2E) && len(code) > 1 {
			if n, ok := fastPadding(code, eff); ok {
				eff.Len = n
				if def {
					setDef(code, pc, eff)
				}
				return true
			}
		}
		switch b0 {
		case 0x66:
			has66, p = true, 1
		case 0xF2, 0xF3:
			rep, p = b0, 1
		case 0x64, 0x65:
			seg, p = true, 1
		}
	}
	var rex byte
	if p < len(code) && code[p]&0xF0 == 0x40 {
		rex, p = code[p], p+1
	}
	if p >= len(code) {
		return false
	}
	if rep != 0 {
		if code[p] != 0x0F {
			return false
		}
		if rep == 0xF3 && rex == 0 && p+2 < len(code) && code[p+1] == 0x1E && (code[p+2] == 0xFA || code[p+2] == 0xFB) {
			// endbr64/endbr32, at the entry of every function built with
			// -fcf-protection (Debian's libc and libstdc++): x86asm
			// rejects them and decodeExtra's hint-NOP space takes them,
			// with no effect.
			eff.Len = p + 3
			if def {
				setDef(code, pc, eff)
			}
			return true
		}
		var s fastState
		s.eff, s.pc, s.rex, s.size = eff, pc, rex, 4
		n, ok := sseMove(code, p+1, &s, eff, false, rep)
		if ok {
			eff.Len = n
			if def {
				setDef(code, pc, eff)
			}
		}
		return ok
	}
	// (Field by field: a composite literal with a non-zero field is
	// copied from a template, twice, 80 bytes each time.)
	var s fastState
	s.eff, s.pc, s.rex, s.size, s.seg = eff, pc, rex, 4, seg
	if rex&8 != 0 {
		s.size = 8
	} else if has66 {
		s.size = 2
	}
	if !has66 && !seg {
		s.opAt = p + 1
	}
	op := code[p]
	p++
	if seg && (!segOps[op] || p >= len(code) || code[p]>>6 == 3) {
		return false
	}

	// immN reads an n-byte immediate at p.
	var immv int64
	immN := func(n int) bool {
		if p+n > len(code) {
			return false
		}
		immv = imm(code[p:], n)
		p += n
		return true
	}
	// fullImm is the size of an Iz immediate: 2 with 0x66, else 4.
	fullImm := 4
	if s.size == 2 {
		fullImm = 2
	}

	if frameOpcodes[op] && !has66 && !seg && (op == 0xC9 || rex == 0x48 && p < len(code) && frameModRMs[code[p]]) {
		if n, ok := frameOp(code[p:], op, rex, eff); ok {
			eff.Len = p + n
			if def {
				s.describeRegs(code)
			}
			return true
		}
	}

	cls := opClasses[op]
	described := false // the Def fields filled by the case itself
	if withModRM[cls] {
		// The ModRM operand, parsed here for every case that has one; a
		// register operand (most) without a call, which would cost the
		// registers this function keeps.
		if p < len(code) && code[p] >= 0xC0 {
			x := code[p]
			s.m = modRM{n: 1, mod: 3, opdigit: (x >> 3) & 7, reg: (x>>3)&7 | (rex&4)<<1, rm: x&7 | (rex&1)<<3}
		} else if !parseModRMMem(&s.m, code[p:], rex) {
			return false // (s.m is not read: the instruction goes to x86asm)
		}
		s.haveM = true
		p += int(s.m.n)
	}
	switch cls { // (a jump table: a chain of compares was a fifth of the fast path)
	// ALU r/m,r and r,r/m: add or adc sbb and sub xor cmp.
	case opcALU:
		sz := s.size
		if op&1 == 0 {
			sz = 1
		}
		cmp := op&0xF8 == 0x38
		if op&2 == 0 { // r/m is the destination
			if !s.useRM(sz, !cmp, true) {
				return false
			}
			s.useReg(s.m.reg, sz)
		} else {
			if cmp {
				s.useReg(s.m.reg, sz)
			} else if !s.writeReg(s.m.reg, sz) {
				return false
			}
			s.useRM(sz, false, true)
		}
	// ALU al/eax, imm.
	case opcALUAcc:
		n := 1
		if op&7 == 5 {
			n = fullImm
		}
		if !immN(n) {
			return false
		}
	case opc0F:
		ok := fast0F(code, p, &s, eff, has66)
		if ok && def {
			s.describeRegs(code)
		}
		return ok

	// push/pop r64 (or r16 with 0x66).
	case opcPushPop:
		r := op&7 | (rex&1)<<3
		d := int64(8)
		if has66 && rex&8 == 0 { // REX.W overrides 0x66
			d = 2
		}
		if op < 0x58 {
			eff.SP, eff.SPDelta = isa.SPAdd, -d
			s.useReg(r, 8)
			if def && s.opAt != 0 { // setDefOp's defcPush
				eff.HasStore, eff.StoreSrc = true, int8(r)
			}
		} else {
			if def && s.opAt != 0 { // setDefOp's defcPop
				eff.DefKind, eff.DefReg = isa.DefOther, int8(r)
			}
			if r == regSP {
				return false // pop rsp
			}
			eff.SP, eff.SPDelta = isa.SPAdd, d
			if r == regBP {
				eff.UsesFP, eff.ClobbersFP = true, true // pop rbp
			}
		}
	case opcMovsxd: // movsxd r64, r/m32
		if rex&8 == 0 || !s.writeReg(s.m.reg, 8) {
			return false
		}
		s.useRM(4, false, true)
	case opcPushImm: // push imm
		if has66 {
			return false
		}
		n := 4
		if op == 0x6A {
			n = 1
		}
		if !immN(n) {
			return false
		}
		eff.SP, eff.SPDelta = isa.SPAdd, -8
	case opcImulImm: // imul r, r/m, imm
		if !s.writeReg(s.m.reg, s.size) {
			return false
		}
		s.useRM(s.size, false, true)
		n := fullImm
		if op == 0x6B {
			n = 1
		}
		if !immN(n) {
			return false
		}
	case opcJcc8: // jcc rel8
		if has66 || !immN(1) {
			return false
		}
		eff.Flow, eff.HasTarget = isa.FlowCondJump, true
		eff.Target = pc + uint64(p) + uint64(immv)
	case opcGroup1: // group 1 r/m, imm
		sz, n := s.size, 1
		switch op {
		case 0x80:
			sz = 1
		case 0x81:
			n = fullImm
		}
		if !s.useRM(sz, s.m.opdigit != 7, true) || !immN(n) {
			return false
		}
	case opcTest: // test r/m, r
		sz := s.size
		if op == 0x84 {
			sz = 1
		}
		s.useRM(sz, false, true)
		s.useReg(s.m.reg, sz)
	case opcMov: // mov
		sz := s.size
		if op&1 == 0 {
			sz = 1
		}
		if sz == 8 && !s.m.mem {
			dst, src := s.m.rm, s.m.reg
			if op == 0x8B {
				dst, src = src, dst
			}
			if dst == regBP && src == regSP {
				return false // mov rbp,rsp with a REX other than frameOp's: SetsFP
			}
		}
		if op&2 == 0 {
			if !s.useRM(sz, true, true) {
				return false
			}
			s.useReg(s.m.reg, sz)
		} else {
			if !s.writeReg(s.m.reg, sz) {
				return false
			}
			s.useRM(sz, false, true)
		}
		if def && s.opAt != 0 {
			// setDefOp's defcMov and defcMov8, here where the operand
			// is at hand (the most common instruction).
			described = true
			describeMov(eff, &s.m, op, rex, pc, p)
		}
	case opcLea: // lea
		if !s.m.mem || s.size == 2 {
			return false
		}
		r := s.m.reg
		m := &s.m
		if r == regSP || r == regBP && s.size == 8 && m.base == regSP && !m.hasIndex {
			return false // SP effects / SetsFP: the x86asm path
		}
		s.writeReg(r, s.size)
		s.useRM(s.size, false, false)
		eff.Len = p
		if m.base == baseRIP && !m.hasIndex {
			eff.Ref, eff.HasRef = s.slot()
		}
		if s.size == 8 && m.base == regSP && !m.hasIndex && m.disp < 0 {
			eff.SavesSPLimit, eff.SPLimitOffset = true, m.disp
		}
	case opcNop: // nop
		if has66 || rex != 0 {
			return false
		}
	case opcConvert: // cbw/cwde/cdqe, cwd/cdq/cqo
	case opcTestAcc: // test al/eax, imm
		n := 1
		if op == 0xA9 {
			n = fullImm
		}
		if !immN(n) {
			return false
		}
	case opcMovImm: // mov r, imm
		r := op&7 | (rex&1)<<3
		sz, n := s.size, fullImm
		if op < 0xB8 {
			sz, n = 1, 1
		} else if s.size == 8 {
			n = 8
		}
		if !s.writeReg(r, sz) || !immN(n) {
			return false
		}
		// x86asm sign-extends the imm32 of mov r32 too, so values from
		// 0x80000000 up are not taken as addresses.
		if sz >= 4 && immv >= 0x10000 {
			eff.Ref, eff.HasRef = uint64(immv), true
		}
	case opcShift: // shifts
		if s.m.opdigit == 6 {
			return false
		}
		sz := s.size
		if op&1 == 0 {
			sz = 1
		}
		if !s.useRM(sz, true, true) {
			return false
		}
		if op <= 0xC1 && !immN(1) {
			return false
		}
	case opcRet: // ret
		if has66 || rex != 0 {
			return false
		}
		eff.Flow = isa.FlowReturn
	case opcMovRMImm: // mov r/m, imm
		if s.m.opdigit != 0 {
			return false
		}
		sz, n := s.size, fullImm
		if op == 0xC6 {
			sz, n = 1, 1
		}
		if !s.useRM(sz, true, true) || !immN(n) {
			return false
		}
		if !s.m.mem && sz >= 4 && immv >= 0x10000 {
			eff.Ref, eff.HasRef = uint64(immv), true
		}
	case opcInt3: // int3
		eff.Flow = isa.FlowStop
	case opcCallJmpRel: // call/jmp rel
		if has66 {
			return false
		}
		n := 4
		if op == 0xEB {
			n = 1
		}
		if !immN(n) {
			return false
		}
		eff.Flow = isa.FlowJump
		if op == 0xE8 {
			eff.Flow = isa.FlowCall
		}
		eff.Target, eff.HasTarget = pc+uint64(p)+uint64(immv), true
	case opcGroup3: // test/not/neg/mul/imul/div/idiv r/m
		if s.m.opdigit == 1 {
			return false
		}
		sz := s.size
		if op == 0xF6 {
			sz = 1
		}
		write := s.m.opdigit == 2 || s.m.opdigit == 3
		if !s.useRM(sz, write, true) {
			return false
		}
		if s.m.opdigit == 0 {
			n := fullImm
			if op == 0xF6 {
				n = 1
			}
			if !immN(n) {
				return false
			}
		}
	case opcGroup45:
		d := s.m.opdigit
		switch {
		case d <= 1: // inc/dec
			sz := s.size
			if op == 0xFE {
				sz = 1
			}
			if !s.useRM(sz, true, true) {
				return false
			}
		case op == 0xFF && (d == 2 || d == 4) && !has66: // call/jmp r/m
			if !s.m.mem && rex&8 != 0 {
				return false
			}
			s.useRM(8, false, true)
			eff.Len = p
			eff.Flow = isa.FlowIndirectCall
			if d == 4 {
				eff.Flow = isa.FlowIndirectJump
			}
			if s.m.mem {
				eff.Slot, eff.HasSlot = s.slot()
			}
		case op == 0xFF && d == 6 && !has66 && s.m.mem: // push r/m
			s.useRM(8, false, true)
			eff.SP, eff.SPDelta = isa.SPAdd, -8
		default:
			return false
		}
	default:
		return false
	}
	eff.Len = p
	if def && !described && (s.opAt == 0 || defClasses[op] != defcNone) {
		s.describeRegs(code)
	}
	return true
}

// describeMov is setDefOp's description of mov r/m,r and r,r/m (88,
// 89, 8A, 8B; no prefix but REX) from its parsed operand m; n is the
// instruction's length.
func describeMov(eff *isa.Effect, m *modRM, op, rex byte, pc uint64, n int) {
	wide := rex&8 != 0
	if op&1 == 0 { // mov r/m8,r8 and r8,r/m8
		if op == 0x8A {
			eff.DefKind, eff.DefReg = isa.DefOther, int8(byteRegOf(m.reg, rex))
		} else if !m.mem {
			eff.DefKind, eff.DefReg = isa.DefOther, int8(byteRegOf(m.rm, rex))
		}
		return
	}
	if m.mem {
		if op == 0x8B {
			eff.DefKind, eff.DefReg = isa.DefOther, int8(m.reg)
			if wide {
				eff.DefKind = isa.DefLoad
				setMem(eff, *m, pc, n)
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
}

// byteRegOf is the full register an 8-bit register operand r lives in.
func byteRegOf(r, rex byte) byte {
	if rex == 0 && r >= 4 && r < 8 {
		return r - 4 // ah, ch, dh, bh
	}
	return r
}

// legacyPrefix marks the first bytes decodeFastParse looks at before
// the REX prefix and the opcode: 66, F2, F3, the fs and gs segments, and
// 2E (padding only).
var legacyPrefix = [256]bool{0x66: true, 0x2E: true, 0xF2: true, 0xF3: true, 0x64: true, 0x65: true}

// segOps marks the opcodes the fast path takes after an fs or gs prefix,
// with a memory operand only: the loads, stores, arithmetic and compares
// of thread-local variables and of the stack protector's canary (mov
// rax,fs:[0x28] in every protected function).
var segOps = func() (t [256]bool) {
	for i := range t {
		op := byte(i)
		t[i] = op < 0x40 && op&7 < 4 || op == 0x80 || op == 0x81 || op == 0x83 ||
			op == 0x84 || op == 0x85 || op >= 0x88 && op <= 0x8B || op == 0xC6 || op == 0xC7
	}
	return t
}()

// The opcode classes of decodeFastParse's switch (opClasses).
const (
	opcNone = iota
	opcALU
	opcALUAcc
	opc0F
	opcPushPop
	opcMovsxd
	opcPushImm
	opcImulImm
	opcJcc8
	opcGroup1
	opcTest
	opcMov
	opcLea
	opcNop
	opcConvert
	opcTestAcc
	opcMovImm
	opcShift
	opcRet
	opcMovRMImm
	opcInt3
	opcCallJmpRel
	opcGroup3
	opcGroup45
)

// withModRM marks the opcode classes whose instructions have a ModRM
// operand after the opcode.
var withModRM = func() (t [opcGroup45 + 1]bool) {
	for _, c := range []int{opcALU, opcMovsxd, opcImulImm, opcGroup1, opcTest, opcMov, opcLea,
		opcShift, opcMovRMImm, opcGroup3, opcGroup45} {
		t[c] = true
	}
	return t
}()

// opClasses numbers the cases of decodeFastParse's switch on the opcode
// byte (0: none), each opcode to the first case whose condition it meets.
var opClasses = func() (t [256]uint8) {
	for i := range t {
		op := byte(i)
		switch {
		case op < 0x40 && op&7 < 4:
			t[i] = opcALU
		case op < 0x40 && (op&7 == 4 || op&7 == 5):
			t[i] = opcALUAcc
		case op == 0x0F:
			t[i] = opc0F
		case op >= 0x50 && op <= 0x5F:
			t[i] = opcPushPop
		case op == 0x63:
			t[i] = opcMovsxd
		case op == 0x68 || op == 0x6A:
			t[i] = opcPushImm
		case op == 0x69 || op == 0x6B:
			t[i] = opcImulImm
		case op >= 0x70 && op <= 0x7F:
			t[i] = opcJcc8
		case op >= 0x80 && op <= 0x83 && op != 0x82:
			t[i] = opcGroup1
		case op == 0x84 || op == 0x85:
			t[i] = opcTest
		case op >= 0x88 && op <= 0x8B:
			t[i] = opcMov
		case op == 0x8D:
			t[i] = opcLea
		case op == 0x90:
			t[i] = opcNop
		case op == 0x98 || op == 0x99:
			t[i] = opcConvert
		case op == 0xA8 || op == 0xA9:
			t[i] = opcTestAcc
		case op >= 0xB0 && op <= 0xBF:
			t[i] = opcMovImm
		case op == 0xC0 || op == 0xC1 || op >= 0xD0 && op <= 0xD3:
			t[i] = opcShift
		case op == 0xC3:
			t[i] = opcRet
		case op == 0xC6 || op == 0xC7:
			t[i] = opcMovRMImm
		case op == 0xCC:
			t[i] = opcInt3
		case op == 0xE8 || op == 0xE9 || op == 0xEB:
			t[i] = opcCallJmpRel
		case op == 0xF6 || op == 0xF7:
			t[i] = opcGroup3
		case op == 0xFE || op == 0xFF:
			t[i] = opcGroup45
		}
	}
	return t
}()

// frameOpcodes marks the opcodes frameOp has a case for (asked first: a
// call for every instruction was a tenth of the fast path).
var frameOpcodes = func() (t [256]bool) {
	for _, op := range []byte{0x81, 0x83, 0x89, 0x8B, 0x8D, 0xC9} {
		t[op] = true
	}
	return t
}()

// frameModRMs marks the ModRM bytes frameOp has a case for (asked
// before the call: most mov, lea and group-1 instructions are other).
var frameModRMs = func() (t [256]bool) {
	for _, m := range []byte{0xC4, 0xEC, 0xE5, 0xE4, 0x65, 0xA5, 0x2C, 0x6C, 0xAC} {
		t[m] = true
	}
	return t
}()

// frameOp decodes the prologue and epilogue forms that set rsp and rbp,
// found in most functions and otherwise left to x86asm (nearly a third of
// its work on a large program): add/sub rsp,imm8/imm32 (48 83/81 C4/EC),
// mov rbp,rsp (48 89 E5, 48 8B EC), mov rsp,rbp (48 89 EC, 48 8B E5) and
// leave (C9), each with no other prefix. rest is the code after the
// opcode; n is the bytes it takes. Their Effects are classify's
// (classifySPWrite, classifyFPWrite, LEAVE).
func frameOp(rest []byte, op, rex byte, eff *isa.Effect) (n int, ok bool) {
	if op == 0xC9 && rex == 0 { // leave
		eff.UsesFP, eff.ClobbersFP = true, true
		eff.SP, eff.SPDelta = isa.SPFromFP, 8
		return 0, true
	}
	if rex != 0x48 || len(rest) < 1 {
		return 0, false
	}
	switch modrm := rest[0]; {
	case (op == 0x83 || op == 0x81) && (modrm == 0xC4 || modrm == 0xEC): // add/sub rsp, imm
		size := 1
		if op == 0x81 {
			size = 4
		}
		if len(rest) < 1+size {
			return 0, false
		}
		d := imm(rest[1:], size)
		if modrm == 0xEC {
			d = -d
		}
		eff.SP, eff.SPDelta = isa.SPAdd, d
		return 1 + size, true
	case op == 0x89 && modrm == 0xE5 || op == 0x8B && modrm == 0xEC: // mov rbp, rsp
		eff.UsesFP, eff.SetsFP, eff.FPOffset = true, true, 0
		return 1, true
	case op == 0x89 && modrm == 0xEC || op == 0x8B && modrm == 0xE5: // mov rsp, rbp
		eff.UsesFP = true
		eff.SP, eff.SPDelta = isa.SPFromFP, 0
		return 1, true
	case op == 0x83 && modrm == 0xE4: // and rsp, imm8
		if len(rest) < 2 {
			return 0, false
		}
		a := -int64(int8(rest[1]))
		if a <= 0 || a&(a-1) != 0 {
			return 0, false // not a realignment: SPUnknown, x86asm's
		}
		eff.SP, eff.SPAlignment = isa.SPAlign, a
		return 2, true
	case op == 0x8D && (modrm == 0x65 || modrm == 0xA5): // lea rsp, [rbp+d]
		size := 1
		if modrm == 0xA5 {
			size = 4
		}
		if len(rest) < 1+size {
			return 0, false
		}
		eff.UsesFP = true
		eff.SP, eff.SPDelta = isa.SPFromFP, imm(rest[1:], size)
		return 1 + size, true
	case op == 0x8D && (modrm == 0x2C || modrm == 0x6C || modrm == 0xAC) && len(rest) > 1 && rest[1] == 0x24: // lea rbp, [rsp+d]
		size := 0
		switch modrm {
		case 0x6C:
			size = 1
		case 0xAC:
			size = 4
		}
		if len(rest) < 2+size {
			return 0, false
		}
		d := int64(0)
		if size > 0 {
			d = imm(rest[2:], size)
		}
		eff.UsesFP, eff.SetsFP, eff.FPOffset = true, true, d
		return 2 + size, true
	}
	return 0, false
}

// fast0F handles the two-byte opcodes 0F xx; p is the offset of xx.
func fast0F(code []byte, p int, s *fastState, eff *isa.Effect, has66 bool) bool {
	if p >= len(code) {
		return false
	}
	op := code[p]
	p++
	modrm := func() bool {
		if !parseModRMInto(&s.m, code[p:], s.rex) {
			return false // (s.m is not read: the instruction goes to x86asm)
		}
		s.haveM = true
		p += int(s.m.n)
		return true
	}
	if n, ok := sseMove(code, p-1, s, eff, has66, 0); ok {
		eff.Len = n
		return true
	}
	switch {
	case op == 0x1F: // nop r/m (x86asm knows the memory form only)
		if !modrm() || !s.m.mem || s.m.opdigit != 0 {
			return false
		}
		s.useRM(s.size, false, false)
	case op >= 0x40 && op <= 0x4F: // cmovcc r, r/m
		if !modrm() || !s.writeReg(s.m.reg, s.size) {
			return false
		}
		s.useRM(s.size, false, true)
	case op >= 0x80 && op <= 0x8F: // jcc rel32
		if has66 || p+4 > len(code) {
			return false
		}
		rel := imm(code[p:], 4)
		p += 4
		eff.Flow, eff.HasTarget = isa.FlowCondJump, true
		eff.Target = s.pc + uint64(p) + uint64(rel)
	case op >= 0x90 && op <= 0x9F: // setcc r/m8
		if !modrm() || !s.useRM(1, true, true) {
			return false
		}
	case op == 0xAF: // imul r, r/m
		if !modrm() || !s.writeReg(s.m.reg, s.size) {
			return false
		}
		s.useRM(s.size, false, true)
	case op == 0xB6 || op == 0xB7 || op == 0xBE || op == 0xBF: // movzx/movsx
		if !modrm() || !s.writeReg(s.m.reg, s.size) {
			return false
		}
		src := int64(1)
		if op&1 == 1 {
			src = 2
		}
		s.useRM(src, false, true)
	default:
		return false
	}
	eff.Len = p
	return true
}

// sseMove handles the SSE instructions compilers emit for copies and
// zeroing of structs, floating point and vectorised loops (about 4% of
// node's instructions, which went through x86asm at ten times the cost):
// the data moves (movups/movss/movsd/movaps/movdqa/movdqu/movq/movhps),
// the logic, arithmetic, compares, unpacks and shuffles of sseOps, and
// the moves and conversions between xmm and general-purpose registers.
// p is the offset of the byte after 0F. Their xmm operands touch nothing
// the Effect describes, so what is left is the memory operand's (UsesFP
// and an rsp/rbp-relative access of its size) and, for the few with a
// general-purpose operand, that register's (UsesFP, ClobbersFP; a write
// of rsp goes to x86asm). REX.W is taken only where it sizes the
// general-purpose operand; anything else returns false.
func sseMove(code []byte, p int, s *fastState, eff *isa.Effect, has66 bool, rep byte) (int, bool) {
	if p >= len(code) {
		return 0, false
	}
	e := &sseOps[code[p]]
	pfx := 0
	switch {
	case has66:
		pfx = 1
	case rep == 0xF3:
		pfx = 2
	case rep == 0xF2:
		pfx = 3
	}
	size := int64(e.mem[pfx])
	if size == 0 {
		return 0, false
	}
	gp, gpSize := e.gp[pfx], int64(4)
	if s.rex&8 != 0 {
		if gp == gpNone {
			return 0, false
		}
		gpSize = 8
		if e.wSized {
			size = 8
		}
	}
	m, ok := parseModRM(code[p+1:], s.rex)
	if !ok {
		return 0, false
	}
	n := p + 1 + int(m.n)
	if e.imm8 {
		if n >= len(code) {
			return 0, false
		}
		n++
	}
	switch gp {
	case gpReadRM:
		if !m.mem {
			s.useReg(m.rm, gpSize)
		}
	case gpWriteRM:
		if !m.mem && !s.writeReg(m.rm, gpSize) {
			return 0, false
		}
	case gpWriteReg:
		if !s.writeReg(m.reg, gpSize) {
			return 0, false
		}
	}
	if m.mem {
		s.m, s.haveM = m, true
		s.useRM(size, false, true)
	}
	return n, true
}

// sseOp describes the SSE instruction 0F op for sseMove.
type sseOp struct {
	// mem is the size of the memory operand under each mandatory prefix:
	// none, 66, F3, F2 (0: not taken by the fast path).
	mem [4]uint8
	// gp says, under each prefix, which operand is a general-purpose
	// register (gpNone: all are xmm registers).
	gp [4]uint8
	// wSized: with REX.W the memory operand is 8 bytes (movq, cvtsi2sd).
	wSized bool
	imm8   bool // an 8-bit immediate follows the operands
}

const (
	gpNone     = iota
	gpReadRM   // the r/m register is a general-purpose one, read (movd xmm,r; cvtsi2sd)
	gpWriteRM  // the r/m register is a general-purpose one, written (movd r,xmm)
	gpWriteReg // ModRM.reg is a general-purpose register, written (cvttsd2si)
)

// sseOps lists what sseMove takes; the sizes are x86asm's MemBytes
// (TestFastMatchesSlow compares every entry with it).
var sseOps = func() (t [256]sseOp) {
	set := func(mem [4]uint8, ops ...byte) {
		for _, op := range ops {
			t[op].mem = mem
		}
	}
	packed := [4]uint8{16, 16, 0, 0} // ps, pd
	scalar := [4]uint8{16, 16, 4, 8} // ps, pd, ss, sd
	integer := [4]uint8{0, 16, 0, 0} // 66 only (without: the MMX form)
	set(scalar, 0x10, 0x11, 0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F)
	set(packed, 0x14, 0x15, 0x28, 0x29, 0x54, 0x55, 0x56, 0x57)
	set([4]uint8{8, 0, 0, 0}, 0x12, 0x16) // movlps/movhps m64 (movhlps/movlhps xmm)
	set([4]uint8{4, 8, 0, 0}, 0x2E, 0x2F) // ucomiss/comiss, ucomisd/comisd
	set(integer, 0x60, 0x61, 0x62, 0x63, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D,
		0x74, 0x75, 0x76, 0xD4, 0xDB, 0xDF, 0xEB, 0xEF, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE)
	set([4]uint8{0, 16, 16, 0}, 0x6F, 0x7F) // movdqa, movdqu
	set([4]uint8{0, 8, 0, 0}, 0xD6)         // movq xmm/m64, xmm
	set([4]uint8{0, 16, 16, 16}, 0x70)      // pshufd, pshufhw, pshuflw
	t[0x70].imm8 = true
	set(packed, 0xC6) // shufps, shufpd
	t[0xC6].imm8 = true
	// Between xmm and general-purpose registers.
	t[0x6E] = sseOp{mem: [4]uint8{0, 4, 0, 0}, gp: [4]uint8{0, gpReadRM, 0, 0}, wSized: true}        // movd/movq xmm, r/m
	t[0x7E] = sseOp{mem: [4]uint8{0, 4, 8, 0}, gp: [4]uint8{0, gpWriteRM, 0, 0}, wSized: true}       // movd/movq r/m, xmm; F3: movq xmm, xmm/m64
	t[0x2A] = sseOp{mem: [4]uint8{0, 0, 4, 4}, gp: [4]uint8{0, 0, gpReadRM, gpReadRM}, wSized: true} // cvtsi2ss/sd
	t[0x2C] = sseOp{mem: [4]uint8{0, 0, 4, 8}, gp: [4]uint8{0, 0, gpWriteReg, gpWriteReg}}           // cvttss2si/cvttsd2si
	t[0x2D] = t[0x2C]                                                                                // cvtss2si/cvtsd2si
	return t
}()

// fastPadding handles the prefixed no-operations compilers align loops
// with inside functions: 66 90 and 66 ... 2E 0F 1F /0 (nopw
// cs:[rax+rax*1+0]), which x86asm decoded. Only runs of 66 and 2E
// prefixes are taken here (2E and 3E are branch hints and notrack on
// other instructions); the memory operand touches nothing, and says
// UsesFP when rbp is in it, as for any nop r/m.
func fastPadding(code []byte, eff *isa.Effect) (int, bool) {
	i := 0
	for i < len(code) && i < 14 && (code[i] == 0x66 || code[i] == 0x2E) {
		i++
	}
	if i+1 < len(code) && code[i] == 0x90 && i == 1 && code[0] == 0x66 {
		return 2, true
	}
	if i+2 >= len(code) || code[i] != 0x0F || code[i+1] != 0x1F {
		return 0, false
	}
	m, ok := parseModRM(code[i+2:], 0)
	if !ok || !m.mem || m.opdigit != 0 {
		return 0, false
	}
	n := i + 2 + int(m.n)
	if n > 15 {
		return 0, false // longer than any instruction may be
	}
	if m.base == regBP || m.index == regBP {
		eff.UsesFP = true
	}
	return n, true
}
