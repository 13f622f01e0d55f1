package x86

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// decodeExtra decodes the encodings that x86asm (v0.32.0) rejects but that
// compilers and linkers do emit. It runs only after x86asm has failed, so it
// costs nothing on the common path.
//
//   - The reserved-NOP space 0F 0D and 0F 18..0F 1F with any ModRM: this holds
//     endbr64/endbr32 (F3 0F 1E FA/FB), rdsspd/rdsspq (F3 0F 1E /1), the
//     register forms of nop (0F 1F C0) and the hint NOPs. x86asm only knows the
//     memory forms of 0F 1F and the prefetch forms of 0F 18 / 0F 0D.
//   - The CET instructions setssbsy (F3 0F 01 E8) and saveprevssp
//     (F3 0F 01 EA), which do not touch rsp or rbp.
//   - rdpkru/wrpkru (0F 01 EE/EF), used by glibc's pkey functions.
//   - adcx/adox (66/F3 0F 38 F6), used by OpenSSL's bignum code.
//   - AMD XOP instructions (8F map 8-10), for their length only.
//   - VIA PadLock instructions (0F A6/A7) and rdseed (0F C7 /7).
//   - Address-size and segment prefixes before a relative call/jmp/jcc or a
//     VEX/EVEX instruction (see decodeStripped).
func decodeExtra(code []byte, pc uint64) (isa.Effect, bool) {
	if e, ok := decodeStripped(code, pc); ok {
		return e, true
	}

	// Legacy prefixes, then an optional REX, then the opcode.
	p := 0
	rep, opsize := false, false
prefixes:
	for p < len(code) && p < 14 {
		switch code[p] {
		case 0x67, 0xF2, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF0:
			p++
			continue
		case 0x66:
			opsize = true
			p++
			continue
		case 0xF3:
			rep = true
			p++
			continue
		}
		break prefixes
	}
	var rex byte
	if p < len(code) && code[p]&0xF0 == 0x40 {
		rex = code[p]
		p++
	}
	if p+3 < len(code) && code[p] == 0x8F && code[p+1]&0x1F >= 8 && rex == 0 {
		return decodeXOP(code, p)
	}
	if p+2 >= len(code) || code[p] != 0x0F {
		return isa.Effect{}, false
	}
	if code[p+1] == 0x38 && p+3 < len(code) && code[p+2] == 0xF6 && (opsize != rep) {
		return decodeADX(code, pc, p, rex)
	}
	if p+3 > 15 {
		// Every form below takes the opcode, 0F xx and a ModRM byte
		// after the prefixes: longer than any instruction may be (the
		// fuzzer's twelve es prefixes, REX and rdpkru).
		return isa.Effect{}, false
	}
	op, modrm := code[p+1], code[p+2]
	switch {
	case op == 0x0D || op >= 0x18 && op <= 0x1F:
		n, ok := modrmLen(code[p+2:])
		if !ok || p+2+n > 15 {
			return isa.Effect{}, false
		}
		eff := isa.Effect{Len: p + 2 + n}
		// A memory operand based or indexed on rbp uses it, as classify
		// says for the forms x86asm decodes (and the fast path for nop
		// r/m): x86asm rejects REX.W nop r/m, and the fast path takes it.
		if m, ok := parseModRM(code[p+2:], rex); ok && m.mem && (m.base == regBP || m.index == regBP) {
			eff.UsesFP = true
		}
		// rdsspd/rdsspq r (F3 0F 1E /1, register form) writes its r/m register.
		if op == 0x1E && rep && modrm>>6 == 3 && (modrm>>3)&7 == 1 {
			rm := modrm&7 | (rex&1)<<3
			switch rm {
			case 4:
				eff.SP = isa.SPUnknown
			case 5:
				eff.ClobbersFP, eff.UsesFP = true, true
			}
		}
		return eff, true
	case op == 0x01 && rep && rex == 0 && (modrm == 0xE8 || modrm == 0xEA):
		return isa.Effect{Len: p + 3}, true
	case (op == 0xA6 || op == 0xA7) && modrm>>6 == 3:
		// VIA PadLock xstore, xcrypt-*, xsha*, montmul (OpenSSL's e_padlock).
		return isa.Effect{Len: p + 3}, true
	case op == 0xC7 && modrm>>6 == 3 && (modrm>>3)&7 >= 6:
		// rdrand/rdseed r: writes its r/m register.
		eff := isa.Effect{Len: p + 3}
		switch modrm&7 | (rex&1)<<3 {
		case 4:
			eff.SP = isa.SPUnknown
		case 5:
			eff.ClobbersFP, eff.UsesFP = true, true
		}
		return eff, true
	case op == 0x01 && !rep && (modrm == 0xEE || modrm == 0xEF):
		// rdpkru (writes eax, edx) and wrpkru.
		return isa.Effect{Len: p + 3}, true
	}
	return isa.Effect{}, false
}

// modrmLen returns the length of a ModRM byte and the SIB byte and
// displacement that follow it, for 64-bit mode (32- and 64-bit addressing
// share this layout).
func modrmLen(b []byte) (int, bool) {
	if len(b) < 1 {
		return 0, false
	}
	modrm := b[0]
	mod, rm := modrm>>6, modrm&7
	n := 1
	if mod == 3 {
		return n, true
	}
	if rm == 4 {
		if len(b) < 2 {
			return 0, false
		}
		n++
		if mod == 0 && b[1]&7 == 5 {
			n += 4 // no base: disp32
		}
	} else if mod == 0 && rm == 5 {
		n += 4 // rip+disp32
	}
	switch mod {
	case 1:
		n++
	case 2:
		n += 4
	}
	if n > len(b) {
		return 0, false
	}
	return n, true
}

// fixVZero sets the length of vzeroupper/vzeroall: the legacy prefixes, the
// 2- or 3-byte VEX prefix and the opcode byte 0x77.
func fixVZero(inst *x86asm.Inst, code []byte) bool {
	p := 0
	for p < len(code) && p < 12 {
		switch code[p] {
		case 0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF0:
			p++
			continue
		case 0xC5:
			p += 3
		case 0xC4:
			p += 4
		default:
			return false
		}
		if p > len(code) || code[p-1] != 0x77 {
			return false
		}
		inst.Len = p
		inst.Args = x86asm.Args{}
		return true
	}
	return false
}

// decodeADX decodes adcx (66 0F 38 F6 /r) and adox (F3 0F 38 F6 /r), the
// flag-chained add-with-carry of OpenSSL's bignum code. Their operands have the
// layout of imul r, r/m (0F AF /r): the reg operand is written, r/m is read.
// The instruction is rewritten into that form without the mandatory prefix and
// decoded by x86asm, so the stack effects come from the common classifier.
// p is the offset of the 0F byte, after the prefixes and REX.
func decodeADX(code []byte, pc uint64, p int, rex byte) (isa.Effect, bool) {
	var buf [16]byte
	n := 0
	for i := 0; i < p; i++ {
		if code[i] == 0x66 || code[i] == 0xF3 { // the mandatory prefix
			continue
		}
		buf[n] = code[i]
		n++
	}
	_ = rex // kept in place by the copy above
	dropped := p - n
	buf[n], buf[n+1] = 0x0F, 0xAF
	n += 2
	n += copy(buf[n:], code[p+3:])
	inst, err := x86asm.Decode(buf[:n], 64)
	if err != nil || inst.Op != x86asm.IMUL {
		return isa.Effect{}, false
	}
	inst.Len += dropped + 1 // the prefix and the 0x38 escape byte
	if inst.Len > 15 {
		return isa.Effect{}, false
	}
	var eff isa.Effect
	classify(&inst, pc, &eff)
	return eff, true
}

// decodeXOP measures an AMD XOP instruction: 8F, RXB.map, W.vvvv.L.pp, opcode,
// ModRM, then an 8-bit immediate for map 8 or a 32-bit one for map 10. Only the
// length is decoded: XOP instructions work on vector registers, except the
// rare TBM/LWP forms (maps 9 and 10) whose GPR destination is not examined.
// p is the offset of the 8F byte.
func decodeXOP(code []byte, p int) (isa.Effect, bool) {
	m := code[p+1] & 0x1F
	if m > 10 {
		return isa.Effect{}, false
	}
	n, ok := modrmLen(code[p+4:])
	if !ok {
		return isa.Effect{}, false
	}
	l := p + 4 + n
	switch m {
	case 8:
		l++
	case 10:
		l += 4
	}
	if l > len(code) || l > 15 {
		return isa.Effect{}, false
	}
	return isa.Effect{Len: l}, true
}

// decodeStripped decodes an instruction that x86asm rejects only because of
// the address-size (0x67) or segment prefixes in front of it:
//   - `addr32 call foo` (67 E8 rel32) is what GNU ld makes of
//     `call *foo@GOTPCREL(%rip)` when foo is local; the prefix has no effect on
//     a relative branch in 64-bit mode;
//   - OpenSSL pads VEX instructions with 67 or 3E prefixes for alignment.
//
// The prefixes are skipped and the rest decoded by x86asm. An operand whose
// address is 32-bit (0x67) or fs/gs-relative is not the 64-bit rsp/rbp the
// analysis tracks, so Access is dropped in that case.
func decodeStripped(code []byte, pc uint64) (isa.Effect, bool) {
	k, addr32, seg := 0, false, false
	for k < len(code) && k < 4 {
		switch code[k] {
		case 0x67:
			addr32 = true
		case 0x64, 0x65:
			seg = true
		case 0x2E, 0x3E, 0x26, 0x36:
		default:
			goto done
		}
		k++
	}
done:
	if k == 0 || k >= len(code) {
		return isa.Effect{}, false
	}
	inst, err := x86asm.Decode(code[k:], 64)
	if err != nil || inst.Op == 0 || inst.Len+k > 15 {
		return isa.Effect{}, false
	}
	_, rel := inst.Args[0].(x86asm.Rel)
	vex := code[k] == 0xC4 || code[k] == 0xC5 || code[k] == 0x62
	if !rel && !vex {
		return isa.Effect{}, false
	}
	if inst.Op == x86asm.VZEROUPPER || inst.Op == x86asm.VZEROALL {
		if !fixVZero(&inst, code[k:]) {
			return isa.Effect{}, false
		}
	}
	inst.Len += k
	var eff isa.Effect
	classify(&inst, pc, &eff)
	if addr32 || seg {
		eff.Access, eff.AccessOff, eff.AccessSize = isa.BaseNone, 0, 0
	}
	return eff, true
}
