// Package arm64 decodes AArch64 (A64) machine code into the stack and
// control-flow effects the analysis needs (isa.Effect): how an instruction
// moves SP, sets or restores the frame pointer x29, where control goes, and
// which SP/x29-relative memory it touches.
//
// golang.org/x/arch/arm64/arm64asm is used where it helps: to name the
// general-purpose register a SIMD or floating-point instruction writes
// (fmov, fcvtzs, umov put it first). It is not enough for the rest: it
// keeps the immediates of memory operands, shifted immediates and extended
// registers in unexported fields, and it does not decode the LSE atomics
// (cas, swp, ldadd: GCC's outline atomics in libgcc), SVE (glibc's string
// functions), MTE (irg, stg), the pointer-authenticated branches (braa,
// retaa) or v8.8 bc.cond. So the integer, branch and load/store classes are
// decoded here from the encoding itself, from the Arm Architecture
// Reference Manual's A64 encoding tables, class by class: those classes
// are few, and what the stack needs of them (which register is written,
// SP writeback, offsets) is in fixed fields. Within SVE only what can move
// SP (addvl, addpl) is told apart; every other SVE instruction, and a
// SIMD one arm64asm does not know, is taken to write any register but SP
// (DefAlso all ones), which keeps CompleteDefs sound. A load or store
// class the decoder does not know, and the SME space, are errors.
//
// Conventions beyond isa.Effect's documentation:
//   - Every instruction is 4 bytes, little-endian. Branch targets are
//     relative to the instruction's own address.
//   - Registers are numbered x0..x30 = 0..30; 31 is SP where the encoding
//     gives it that meaning (a base register, add/sub immediate and
//     extended register), XZR elsewhere, which no Def names.
//   - FP is x29. add x29,sp,#n and mov x29,sp are SetsFP; sub/add
//     x29,x29,#n is AdjustsFP; every other write of x29 is ClobbersFP.
//   - SP moves only through: add/sub (immediate; SPAdd from SP, SPFromFP
//     from x29), add/sub (extended register; SPDynamic with SPReg when the
//     register is a whole X register, unshifted), and the writeback of a load or store whose base is SP (pre- and
//     post-index: SPAdd by the offset). Any other write of SP (from another
//     register, the SVE addvl/addpl, the MTE addg/subg, a writeback this
//     package does not size) is SPUnknown.
//   - Access is reported for loads and stores with an immediate offset from
//     SP or x29 and no writeback (AccessOff from the base's value before the
//     instruction); a pre-index store to SP (stp x29,x30,[sp,#-N]!) is SPAdd
//     with no Access: the new SP covers the bytes it writes.
//   - bl is FlowCall, blr FlowIndirectCall, b FlowJump (a tail call when it
//     leaves the function), br FlowIndirectJump (a jump table or an indirect
//     tail call: the frame walk tells them apart), ret (through x30)
//     FlowReturn, ret through another register FlowIndirectJump; b.cond,
//     cbz/cbnz and tbz/tbnz are FlowCondJump; brk, udf and hlt FlowStop.
//   - Defs name every general-purpose register an instruction writes
//     (CompleteDefs), so the frame walk may prove the constant behind
//     `mov x12,#N; ...; sub sp,sp,x12` across unrelated instructions.
//     movz/movn and the orr-immediate mov are DefConst (the 64-bit value;
//     a W register's is zero-extended), movk DefInsert16, adr DefAddr (and
//     Ref), adrp DefAddr of the page, add/sub immediate DefAddImm, mov
//     (register) DefCopy, a 64-bit load with an immediate offset or from a
//     literal DefLoad with Mem. sub xN,sp,#n (N not 29) is SavesSPLimit
//     with SPLimitOffset -n, as on x86-64 (GCC's stack-clash probe loops),
//     and sub xN,sp,xM is SavesSPLimit through SPLimitReg M.
package arm64

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// Decoder is the AArch64 isa.Decoder. Its zero value is ready to use; it has
// no state and is safe for concurrent use.
type Decoder struct{}

var _ isa.Decoder = Decoder{}

// New returns an AArch64 decoder; it is the same as Decoder{}.
func New() isa.Decoder { return Decoder{} }

// ReturnAddressSize is 0: bl puts the return address in x30, not on the stack.
func (Decoder) ReturnAddressSize() int64 { return 0 }

// Name is "arm64".
func (Decoder) Name() string { return "arm64" }

// CompleteDefs is true: every general-purpose register an instruction
// writes is named by DefReg or DefAlso (isa.CompleteDefs).
func (Decoder) CompleteDefs() bool { return true }

// RegisterBits is 64: a constant in a register is a 64-bit value (the
// frame walk must not cut it to 32 bits, as it does for Thumb).
func (Decoder) RegisterBits() int { return 64 }

// PageAddressing is true: code builds addresses with adrp and add, and
// the frame walk pairs them into Refs (frame.pageRefs).
func (Decoder) PageAddressing() bool { return true }

// Register numbers with a special role.
const (
	regFP = 29
	regLR = 30
	regSP = 31 // SP or XZR, by the encoding
)

// Decode decodes the instruction at pc (code[0] is the byte at pc). It never
// panics and does not allocate except to return an error.
func (Decoder) Decode(code []byte, pc uint64) (isa.Effect, error) {
	if len(code) < 4 {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "truncated instruction: fewer than 4 bytes"}
	}
	x := binary.LittleEndian.Uint32(code)
	e := isa.Effect{Len: 4, DefReg: -1, DefSrc: -1, DefIndex: -1, MemBase: -1, MemIndex: -1, CallReg: -1, SPReg: -1, SPLimitReg: -1, SysSrc: -1, StoreSrc: -1, CmpReg: -1, CmpRm: -1}
	if reason := decode(&e, x, pc); reason != "" {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: reason}
	}
	return e, nil
}

// decode fills e for instruction x, or says why it cannot.
func decode(e *isa.Effect, x uint32, pc uint64) string {
	// The pointer-authenticated branches arm64asm does not know.
	if ok := pacBranch(e, x); ok {
		return ""
	}
	switch {
	case x>>16 == 0: // udf #imm16: permanently undefined, a trap
		e.Flow = isa.FlowStop
	case x>>25&15 == 2: // 0010: SVE
		sve(e, x)
	case x>>26&7 == 4: // 100x: data processing, immediate
		dataImm(e, x, pc)
	case x>>26&7 == 5: // 101x: branches, exceptions, system
		return branchSystem(e, x, pc)
	case x>>25&5 == 4: // x1x0: loads and stores
		return loadStore(e, x, pc)
	case x>>25&7 == 5: // x101: data processing, register
		dataReg(e, x)
	case x>>25&7 == 7: // x111: SIMD and floating point
		simd(e, x)
	default: // 0000 (reserved, SME), 0001, 0011: unallocated
		return fmt.Sprintf("unallocated or unsupported (SME) instruction %#08x", x)
	}
	return ""
}

func le(x uint32) []byte {
	return []byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)}
}

// ---- helpers ----

func bitsOf(x uint32, lo, n uint) uint32 { return x >> lo & (1<<n - 1) }

func signExtend(v uint32, n uint) int64 { return int64(int32(v<<(32-n)) >> (32 - n)) }

// write notes a write of general-purpose register r (not XZR) with kind k.
func write(e *isa.Effect, r uint32, k isa.DefKind) {
	if r >= regSP {
		return
	}
	if e.DefKind != isa.DefNone && int8(r) != e.DefReg {
		e.DefAlso |= 1 << r
	} else {
		e.DefKind, e.DefReg = k, int8(r)
	}
	if r == regFP && !e.SetsFP && !e.AdjustsFP {
		e.ClobbersFP = true
	}
	if r == regFP {
		e.UsesFP = true
	}
}

// also notes one more register written, besides DefReg.
func also(e *isa.Effect, r uint32) {
	if r >= regSP {
		return
	}
	if e.DefKind == isa.DefNone {
		write(e, r, isa.DefOther)
		return
	}
	if int8(r) != e.DefReg {
		e.DefAlso |= 1 << r
	}
	if r == regFP {
		e.ClobbersFP, e.UsesFP = true, true
	}
}

func use(e *isa.Effect, r uint32) {
	if r == regFP {
		e.UsesFP = true
	}
}

func target(e *isa.Effect, f isa.Flow, pc uint64, off int64) {
	e.Flow, e.Target, e.HasTarget = f, pc+uint64(off), true
}

// ---- data processing, immediate ----

func dataImm(e *isa.Effect, x uint32, pc uint64) {
	rd, rn := x&31, x>>5&31
	sf := x>>31 == 1
	switch x >> 23 & 7 {
	case 0, 1: // adr, adrp
		imm := signExtend(x>>5&0x7FFFF<<2|x>>29&3, 21)
		if x>>31 == 1 {
			page := int64(pc&^0xFFF) + imm<<12
			write(e, rd, isa.DefAddr)
			e.DefValue = page
		} else {
			write(e, rd, isa.DefAddr)
			e.DefValue = int64(pc) + imm
			e.Ref, e.HasRef = uint64(e.DefValue), true
		}
	case 2: // add/sub (immediate)
		imm := int64(bitsOf(x, 10, 12))
		if x>>22&1 == 1 {
			imm <<= 12
		}
		sub, setFlags := x>>30&1 == 1, x>>29&1 == 1
		addSubImm(e, x, rd, rn, imm, sub, setFlags, sf)
	case 3: // add/sub immediate with tags (MTE addg/subg)
		use(e, rn)
		if rd == regSP {
			e.SP = isa.SPUnknown
		} else {
			write(e, rd, isa.DefOther)
		}
	case 4: // logical (immediate)
		opc := x >> 29 & 3
		use(e, rn)
		if opc == 3 { // ands: Rd 31 is XZR
			write(e, rd, isa.DefOther)
			return
		}
		if rd == regSP {
			// and/orr/eor sp, xN, #imm (A64 has no and sp, sp: Rn 31 is
			// XZR here): an SP the walk does not follow.
			e.SP = isa.SPUnknown
			return
		}
		if opc == 1 && rn == regSP { // orr rd, xzr, #imm: mov rd, #imm
			if v, ok := bitmask(x); ok {
				if !sf {
					v = int64(uint32(v))
				}
				write(e, rd, isa.DefConst)
				e.DefValue = v
				return
			}
		}
		write(e, rd, isa.DefOther)
	case 5: // move wide
		opc, hw := x>>29&3, x>>21&3
		imm := int64(bitsOf(x, 5, 16)) << (16 * hw)
		switch opc {
		case 0: // movn
			v := ^imm
			if !sf {
				v = int64(uint32(v))
			}
			write(e, rd, isa.DefConst)
			e.DefValue = v
		case 2: // movz
			write(e, rd, isa.DefConst)
			e.DefValue = imm
		case 3: // movk
			if !sf && hw > 1 {
				write(e, rd, isa.DefOther)
				return
			}
			write(e, rd, isa.DefInsert16)
			e.DefValue, e.DefIndex = imm, int8(16*hw)
			if !sf {
				// A W register's bits 32-63 become 0: movk w keeps the
				// low 32 bits only. (Modelled as DefOther: rare.)
				e.DefKind, e.DefIndex, e.DefValue = isa.DefOther, -1, 0
			}
		default:
			write(e, rd, isa.DefOther)
		}
	default: // bitfield, extract
		use(e, rn)
		use(e, x>>16&31)
		write(e, rd, isa.DefOther)
	}
}

// addSubImm is add/sub (immediate): the SP moves, the frame pointer, the
// SP limit of a probe loop, and the register defs.
func addSubImm(e *isa.Effect, x, rd, rn uint32, imm int64, sub, setFlags, sf bool) {
	delta := imm
	if sub {
		delta = -imm
	}
	use(e, rn)
	if setFlags {
		if rd == regSP && sub && rn != regSP && imm <= 0xFFFFFFFF { // cmp rn, #imm
			e.Cmp, e.CmpReg, e.CmpRm, e.CmpImm = true, int8(rn), -1, uint32(imm)
		}
		write(e, rd, isa.DefOther)
		return
	}
	switch {
	case rd == regSP && !sf:
		e.SP = isa.SPUnknown // add wsp, ...: the upper half of SP cleared
	case rd == regSP && rn == regSP:
		e.SP, e.SPDelta = isa.SPAdd, delta
	case rd == regSP && rn == regFP:
		// SP = x29 + delta (mov sp, x29; sub sp, x29, #n).
		e.SP, e.SPDelta = isa.SPFromFP, delta
	case rd == regSP:
		e.SP = isa.SPUnknown
	case rd == regFP && rn == regSP && sf:
		e.SetsFP, e.FPOffset = true, delta
		write(e, rd, isa.DefAddImm)
		e.DefSrc, e.DefValue = regSP, delta
	case rd == regFP && rn == regFP && sf:
		e.AdjustsFP, e.FPDelta = true, delta
		write(e, rd, isa.DefAddImm)
		e.DefSrc, e.DefValue = regFP, delta
	case !sf:
		write(e, rd, isa.DefOther) // a 32-bit add: zero-extended, not modelled
	default:
		if rn == regSP && sub && rd != regFP {
			e.SavesSPLimit, e.SPLimitOffset = true, delta
		}
		if imm == 0 {
			write(e, rd, isa.DefCopy) // mov xd, xn / mov xd, sp
			e.DefSrc = int8(rn)
			return
		}
		write(e, rd, isa.DefAddImm)
		e.DefSrc, e.DefValue = int8(rn), delta
	}
}

// bitmask decodes a logical immediate (N:immr:imms) as a 64-bit value.
func bitmask(x uint32) (int64, bool) {
	n, immr, imms := x>>22&1, x>>16&63, x>>10&63
	sf := x>>31 == 1
	combined := n<<6 | (^imms & 63)
	size := uint32(0)
	for b := 6; b >= 1; b-- {
		if combined&(1<<uint(b)) != 0 {
			size = 1 << uint(b)
			break
		}
	}
	if size < 2 || (!sf && n == 1) {
		return 0, false
	}
	levels := size - 1
	s, r := imms&levels, immr&levels
	if s == levels {
		return 0, false
	}
	welem := uint64(1)<<(s+1) - 1
	if r != 0 {
		welem = (welem>>r | welem<<(size-r)) & (uint64(1)<<size - 1)
		if size == 64 {
			welem = welem>>r | welem<<(64-r)
		}
	}
	v := uint64(0)
	for i := uint32(0); i < 64; i += size {
		v |= welem << i
	}
	if size == 64 {
		v = welem
	}
	if !sf {
		v &= 0xFFFFFFFF
	}
	return int64(v), true
}

// ---- branches, exceptions, system ----

func branchSystem(e *isa.Effect, x uint32, pc uint64) string {
	switch {
	case x>>26&31 == 5: // b, bl
		off := signExtend(x&0x3FFFFFF, 26) * 4
		if x>>31 == 1 {
			target(e, isa.FlowCall, pc, off)
			write(e, regLR, isa.DefOther)
		} else {
			target(e, isa.FlowJump, pc, off)
		}
	case x>>25&0x3F == 0x1A: // cbz, cbnz
		target(e, isa.FlowCondJump, pc, signExtend(x>>5&0x7FFFF, 19)*4)
		use(e, x&31)
	case x>>25&0x3F == 0x1B: // tbz, tbnz
		target(e, isa.FlowCondJump, pc, signExtend(x>>5&0x3FFF, 14)*4)
		use(e, x&31)
	case x>>24 == 0x54: // b.cond (bit 4 set: bc.cond)
		cond := x & 15
		if cond >= 14 {
			target(e, isa.FlowJump, pc, signExtend(x>>5&0x7FFFF, 19)*4)
			return ""
		}
		target(e, isa.FlowCondJump, pc, signExtend(x>>5&0x7FFFF, 19)*4)
		e.Cond = isa.Cond(cond + 1)
	case x>>24 == 0xD4: // exception generation
		switch x >> 21 & 7 {
		case 1, 2: // brk, hlt
			e.Flow = isa.FlowStop
		}
	case x>>25 == 0x6B: // unconditional branch (register)
		return branchReg(e, x)
	case x>>22 == 0x354: // system: hints, barriers, msr/mrs, sys/sysl
		if x>>21&1 == 1 { // sysl, mrs: read into Rt
			write(e, x&31, isa.DefOther)
		}
		e.Nop = x == 0xD503201F
	default:
		return fmt.Sprintf("unknown branch or system instruction %#08x", x)
	}
	return ""
}

// branchReg is br, blr, ret and their kin (x>>25 == 0b1101011).
func branchReg(e *isa.Effect, x uint32) string {
	opc, op2, op3, rn, op4 := x>>21&15, x>>16&31, x>>10&63, x>>5&31, x&31
	if op2 != 31 {
		return fmt.Sprintf("unallocated branch %#08x", x)
	}
	plain := op3 == 0 && op4 == 0
	switch opc {
	case 0: // br
		if !plain {
			return fmt.Sprintf("unknown branch %#08x", x)
		}
		e.Flow, e.CallReg, e.HasCallReg = isa.FlowIndirectJump, int8(rn), true
	case 1: // blr
		if !plain {
			return fmt.Sprintf("unknown branch %#08x", x)
		}
		e.Flow, e.CallReg, e.HasCallReg = isa.FlowIndirectCall, int8(rn), true
		write(e, regLR, isa.DefOther)
	case 2: // ret
		if !plain {
			return fmt.Sprintf("unknown branch %#08x", x)
		}
		if rn == regLR {
			e.Flow = isa.FlowReturn
		} else {
			e.Flow, e.CallReg, e.HasCallReg = isa.FlowIndirectJump, int8(rn), true
		}
	case 4, 5: // eret, drps: leave the exception level
		e.Flow = isa.FlowStop
	default:
		return fmt.Sprintf("unknown branch %#08x", x)
	}
	use(e, rn)
	return ""
}

// pacBranch decodes the v8.3 pointer-authenticated branches, which
// arm64asm does not: braa/brab(z), blraa/blrab(z), retaa/retab. The
// authentication changes nothing the analysis sees.
func pacBranch(e *isa.Effect, x uint32) bool {
	if x>>25 != 0x6B || x>>16&31 != 31 || x>>11&31 != 1 {
		return false
	}
	opc, rn, rm := x>>21&15, x>>5&31, x&31
	switch opc {
	case 0, 8: // braaz/brabz, braa/brab
		if opc == 0 && rm != 31 {
			return false
		}
		e.Flow, e.CallReg, e.HasCallReg = isa.FlowIndirectJump, int8(rn), true
	case 1, 9: // blraaz/blrabz, blraa/blrab
		if opc == 1 && rm != 31 {
			return false
		}
		e.Flow, e.CallReg, e.HasCallReg = isa.FlowIndirectCall, int8(rn), true
		write(e, regLR, isa.DefOther)
	case 2: // retaa/retab
		if rn != 31 || rm != 31 {
			return false
		}
		e.Flow = isa.FlowReturn
	default:
		return false
	}
	e.Len = 4
	return true
}

// ---- data processing, register ----

func dataReg(e *isa.Effect, x uint32) {
	rd, rn, rm := x&31, x>>5&31, x>>16&31
	use(e, rn)
	use(e, rm)
	sf := x>>31 == 1
	switch {
	case x>>24&31 == 0x0B && x>>21&1 == 1: // add/sub (extended register)
		sub, setFlags := x>>30&1 == 1, x>>29&1 == 1
		option, imm3 := x>>13&7, x>>10&7
		if setFlags {
			write(e, rd, isa.DefOther)
			return
		}
		if rd != regSP {
			if rn == regSP && sub && sf && rd != regFP && option&3 == 3 && imm3 == 0 && rm != regSP {
				// sub x12, sp, x12: a probe loop's limit, SP minus a
				// register (frame.spLimit proves its constant).
				e.SavesSPLimit, e.HasSPLimitReg, e.SPLimitReg = true, true, int8(rm)
			}
			write(e, rd, isa.DefOther)
			return
		}
		if rn != regSP || !sf {
			e.SP = isa.SPUnknown
			return
		}
		// sub sp, sp, x16 (uxtx or lsl #0): SP moves by a register.
		e.SP = isa.SPDynamic
		if option&3 == 3 && imm3 == 0 && rm != regSP {
			e.SPReg, e.HasSPReg, e.SPRegSub = int8(rm), true, sub
		}
	case x>>24&31 == 0x0A: // logical (shifted register)
		opc, n, shift := x>>29&3, x>>21&1, x>>10&63
		if opc == 1 && n == 0 && rn == regSP && shift == 0 && x>>22&3 == 0 {
			// orr xd, xzr, xm: mov xd, xm (a W move zero-extends)
			write(e, rd, isa.DefCopy)
			e.DefSrc = int8(rm)
			if !sf {
				e.DefValue = 32
			}
			if rm == regSP {
				e.DefKind, e.DefSrc, e.DefValue = isa.DefConst, -1, 0 // mov xd, xzr
			}
			return
		}
		write(e, rd, isa.DefOther)
	case x>>24&31 == 0x0B: // add/sub (shifted register): Rd 31 is XZR
		sub, setFlags := x>>30&1 == 1, x>>29&1 == 1
		if setFlags && sub && rd == regSP && x>>10&63 == 0 && x>>22&3 == 0 {
			e.Cmp, e.CmpReg, e.CmpRm = true, int8(rn), int8(rm) // cmp rn, rm
		}
		if !setFlags && !sub && sf && x>>10&63 == 0 && x>>22&3 == 0 && rd != regSP {
			write(e, rd, isa.DefAddIndex)
			e.DefSrc, e.DefIndex, e.DefValue = int8(rn), int8(rm), 0
			return
		}
		write(e, rd, isa.DefOther)
	default:
		// adc/sbc, conditional compare and select, data processing with
		// one to three sources, flag manipulation: Rd 31 is XZR, and the
		// conditional compares (and rmif, setf) write no register.
		if x>>21&0xFF == 0xD2 || x>>21&0xFF == 0xD0 && x>>10&31 != 0 {
			return // ccmp/ccmn; rmif, setf, cfinv
		}
		write(e, rd, isa.DefOther)
	}
}

// ---- SIMD and floating point ----

// simd names the general-purpose register a SIMD or floating-point
// instruction writes (fmov, fcvtzs, umov and kin put it first, and
// arm64asm decodes them). An instruction arm64asm does not know (the
// newer extensions) may write any: every register is named, so no slice
// goes through it.
func simd(e *isa.Effect, x uint32) {
	inst, err := arm64asm.Decode(le(x))
	if err != nil {
		mayWriteAny(e, x)
		return
	}
	if r, ok := inst.Args[0].(arm64asm.Reg); ok {
		if n, ok := gpr(r); ok {
			write(e, n, isa.DefOther)
		}
	}
}

// gpr is the number of a W or X register (not the zero register).
func gpr(r arm64asm.Reg) (uint32, bool) {
	switch {
	case r >= arm64asm.W0 && r <= arm64asm.W30:
		return uint32(r - arm64asm.W0), true
	case r >= arm64asm.X0 && r <= arm64asm.X30:
		return uint32(r - arm64asm.X0), true
	}
	return 0, false
}

// mayWriteAny marks an instruction whose general-purpose writes are not
// decoded: it may write any register but SP (DefAlso names them all, so a
// slice stops there), and x29 when its Rd field (bits 0-4, where every
// such instruction keeps it) is 29.
func mayWriteAny(e *isa.Effect, x uint32) {
	e.DefAlso = 1<<31 - 1
	if x&31 == regFP {
		e.ClobbersFP, e.UsesFP = true, true
	}
}

// ---- SVE ----

// sve decodes the SVE instructions (op0 = 0010) as far as the stack needs:
// addvl/addpl (and SME's addsvl/addspl) move SP by a multiple of the
// run-time vector length, SPDynamic when from SP itself; no other SVE
// instruction writes SP (SVE loads and stores have no writeback). The
// general-purpose registers SVE writes (rdvl, cntb, incb, lasta, ...) are
// not told apart: see mayWriteAny.
func sve(e *isa.Effect, x uint32) {
	rd, rn := x&31, x>>5&31
	if x&0xFFA0F000 == 0x04205000 { // addvl, addpl, addsvl, addspl
		if rd == regSP {
			if rn == regSP {
				e.SP = isa.SPDynamic
			} else {
				e.SP = isa.SPUnknown
			}
			return
		}
		use(e, rn)
		write(e, rd, isa.DefOther)
		return
	}
	mayWriteAny(e, x)
}
