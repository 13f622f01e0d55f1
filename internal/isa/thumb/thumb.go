// Package thumb decodes ARM Thumb and Thumb-2 machine code (ARMv6-M, ARMv7-M,
// ARMv7E-M with the FPv4/FPv5 floating-point extension, and ARMv8-M
// Mainline) into the stack and control-flow effects the analysis needs
// (isa.Effect).
//
// The decoder is written from the encoding tables of the ARMv7-M and ARMv8-M
// Architecture Reference Manuals. No existing Go library fits:
// golang.org/x/arch/arm/armasm decodes only the ARM (A32) instruction set,
// not Thumb, and the analysis must not depend on cgo. It is not a full
// disassembler: it classifies each encoding group only as far as is needed to
// know the instruction's length, whether and how it writes SP, r7 (the Thumb
// frame pointer) and PC, and which SP/r7-relative memory it touches.
//
// Conventions beyond isa.Effect's documentation:
//   - Halfwords are little-endian. An instruction is 32 bits long when the top
//     five bits of its first halfword are 0b11101, 0b11110 or 0b11111.
//   - PC-relative values (branch targets, literal addresses) use the Thumb
//     PC, the instruction's address + 4 (Align(pc,4) for literals).
//   - FP is r7, the frame pointer GCC and Clang use for Thumb code. An
//     immediate add or subtract of r7 to itself is AdjustsFP; every other
//     write of r7 except mov r7,sp and add/sub r7,sp,#n (SetsFP) is
//     ClobbersFP.
//   - Access is reported for loads and stores with an immediate offset from
//     SP or r7 and no writeback; AccessOff is relative to the base register's
//     value before the instruction. Writeback forms (push-like
//     str rt,[sp,#-4]!, pop-like ldr rt,[sp],#4) are SPAdd without Access.
//   - A write to SP that is not an immediate adjustment, a restore from r7
//     or a register-amount add/sub of SP is SPUnknown, including loads into
//     SP, ldm with SP in the list, and msr to MSP, PSP or CONTROL (writing
//     CONTROL can switch between MSP and PSP); the msr forms also set
//     SysReg and SysSrc, for a walk that knows the processor's mode.
//   - The SP-relative register forms add sp,rm / add.w sp,sp,rm / sub.w
//     sp,sp,rm are SPDynamic, with the register in SPReg (unshifted forms).
//     ARMv6-M code allocates frames over 508 bytes with ldr rX,=-N; add
//     sp,rX: a decoder of one instruction cannot know rX, the frame walk
//     can (it slices back to the constant).
//   - mov pc,lr is a return, like bx lr; pop {...,pc}, ldm sp!,{...,pc}
//     and ldr pc,[sp],#n are returns with their SP delta. Any other
//     data-processing write or load of PC is an indirect jump.
//   - sub rX,sp,#n (rX not r7) is SavesSPLimit with SPLimitOffset -n, as on
//     x86-64.
//   - msr to MSPLIM/PSPLIM and to the non-secure banked registers (MSP_NS,
//     ...) written from secure state does not move the running SP.
//   - Ref is set for adr (the computed address) and for a word literal-pool
//     load whose literal lies inside code (the loaded value, with the Thumb
//     bit 0 cleared so that a function pointer names the function's entry).
//   - Encodings that are UNDEFINED on M-profile processors (blx to ARM
//     state, srs/rfe, 32-bit cps, Advanced SIMD and coprocessors 8, 9,
//     12-15, unallocated opcodes) and encodings the manual calls
//     UNPREDICTABLE in ways that matter here (empty or overlapping register
//     lists, writeback to a transferred register, loads of PC by ldrd/ldrex,
//     multiplies into PC, unknown msr registers) are *isa.DecodeError. So
//     are the ARMv8.1-M extensions (low-overhead loops, branch future,
//     PACBTI, MVE, CDE, clrm), which this decoder does not model.
package thumb

import (
	"math/bits"

	"github.com/stackscope/stackscope/internal/isa"
)

// Decoder is the Thumb isa.Decoder. Its zero value, thumb.Decoder{}, is
// ready to use (New returns the same); it has no state and is safe for
// concurrent use.
type Decoder struct{}

var _ isa.Decoder = Decoder{}

// New returns a Thumb decoder; it is the same as Decoder{}.
func New() isa.Decoder { return Decoder{} }

// CompleteDefs is true: every register an instruction writes is named
// (isa.CompleteDefs; the Def tests check it against objdump).
func (Decoder) CompleteDefs() bool { return true }

// ReturnAddressSize is 0: bl puts the return address in LR, not on the stack.
func (Decoder) ReturnAddressSize() int64 { return 0 }

// LinkRegister is LR (r14), where bl leaves the return address and bx lr
// reads it: the frame walk tracks whether it still holds the return
// address (see frame.Frame.ReturnsElsewhere).
func (Decoder) LinkRegister() int8 { return regLR }

// Name is "thumb".
func (Decoder) Name() string { return "thumb" }

// Register numbers with a special role.
const (
	regFP = 7
	regSP = 13
	regLR = 14
	regPC = 15
)

// Decode decodes the Thumb instruction at pc (code[0] is the byte at pc) and
// reports its length, its effect on SP and r7, its SP/r7-relative memory
// access and its control flow. It never panics and does not allocate except
// to return an error.
func (Decoder) Decode(code []byte, pc uint64) (isa.Effect, error) {
	if len(code) < 2 {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "truncated instruction: fewer than 2 bytes"}
	}
	hw1 := uint32(code[0]) | uint32(code[1])<<8
	var e isa.Effect
	var reason string
	if hw1>>11 >= 0x1D {
		if len(code) < 4 {
			return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "truncated 32-bit instruction: fewer than 4 bytes"}
		}
		hw2 := uint32(code[2]) | uint32(code[3])<<8
		e.Len = 4
		reason = decode32(&e, hw1, hw2, pc, code)
	} else {
		e.Len = 2
		reason = decode16(&e, hw1, pc, code)
	}
	if reason != "" {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: reason}
	}
	if e.Len == 2 {
		setDef(&e, hw1, 0, pc, code)
	} else {
		hw2 := uint32(code[2]) | uint32(code[3])<<8
		setDef(&e, hw1, hw2, pc, code)
		setLiteralDef(&e, hw1, hw2, pc, code)
	}
	// nop (bf00), nop.w (f3af 8000) and mov r8, r8 (46c0, the assembler's
	// padding for ARMv6-M): alignment padding.
	e.Nop = (e.Len == 2 && (hw1 == 0xBF00 || hw1 == 0x46C0)) || (e.Len == 4 && hw1 == 0xF3AF && (uint32(code[2])|uint32(code[3])<<8) == 0x8000)
	return e, nil
}

// ---- helpers ----

// use notes that register r is an operand.
func use(e *isa.Effect, r uint32) {
	if r == regFP {
		e.UsesFP = true
	}
}

// writeReg records that general-purpose register r is written with a value
// the decoder does not model: r7 clobbers FP, SP becomes unknown, a write to
// PC is an indirect jump.
func writeReg(e *isa.Effect, r uint32) {
	if e.DefKind == isa.DefNone {
		e.DefKind, e.DefReg = isa.DefOther, int8(r)
	} else if e.DefReg != int8(r) {
		e.DefAlso |= 1 << r
	}
	switch r {
	case regFP:
		e.ClobbersFP = true
		e.UsesFP = true
	case regSP:
		e.SP = isa.SPUnknown
		e.SPDelta = 0
	case regPC:
		e.Flow = isa.FlowIndirectJump
	}
}

// writeback records base register rn += delta (rn is not PC).
func writeback(e *isa.Effect, rn uint32, delta int64) {
	e.DefAlso |= 1 << rn
	switch rn {
	case regSP:
		if e.SP == isa.SPNone {
			e.SP = isa.SPAdd
			e.SPDelta = delta
		}
	case regFP:
		e.ClobbersFP = true
		e.UsesFP = true
	}
}

// access records a memory access of size bytes at rn+off.
func access(e *isa.Effect, rn uint32, off, size int64) {
	switch rn {
	case regSP:
		e.Access = isa.BaseSP
	case regFP:
		e.Access = isa.BaseFP
		e.UsesFP = true
	default:
		return
	}
	e.AccessOff = off
	e.AccessSize = size
}

// setCmp records a compare of rn with register rm, or with imm when rm is -1.
func setCmp(e *isa.Effect, rn uint32, rm int8, imm uint32) {
	e.Cmp, e.CmpReg, e.CmpRm, e.CmpImm = true, int8(rn), rm, imm
}

func setTarget(e *isa.Effect, f isa.Flow, pc uint64, off int64) {
	e.Flow = f
	e.Target = (pc + 4 + uint64(off)) & 0xFFFFFFFF // a 32-bit address space
	e.HasTarget = true
}

// signExtend sign-extends the low n bits of v.
func signExtend(v uint32, n uint) int64 {
	return int64(int32(v<<(32-n)) >> (32 - n))
}

// literalAddr is the address of a PC-relative literal: Align(PC,4) ± imm.
func literalAddr(pc uint64, imm uint32, add bool) uint64 {
	base := (pc + 4) &^ 3
	if add {
		return (base + uint64(imm)) & 0xFFFFFFFF
	}
	return (base - uint64(imm)) & 0xFFFFFFFF
}

// literalRef sets Ref to the word at addr when it lies inside code.
func literalRef(e *isa.Effect, code []byte, pc, addr uint64) {
	if addr < pc {
		return
	}
	off := addr - pc
	if off > uint64(len(code)) || uint64(len(code))-off < 4 {
		return
	}
	b := code[off : off+4]
	v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	e.Ref = uint64(v &^ 1)
	e.HasRef = true
}

// ExpandImm is ThumbExpandImm(imm12) of the modified-immediate
// data-processing instructions (for the constant propagations that follow
// and/orr/bic #const).
func ExpandImm(imm12 uint32) uint32 { return thumbExpandImm(imm12) }

// thumbExpandImm is ThumbExpandImm(imm12) of the modified-immediate
// data-processing instructions.
func thumbExpandImm(imm12 uint32) uint32 {
	imm8 := imm12 & 0xFF
	if imm12&0xC00 == 0 {
		switch (imm12 >> 8) & 3 {
		case 0:
			return imm8
		case 1:
			return imm8<<16 | imm8
		case 2:
			return imm8<<24 | imm8<<8
		default:
			return imm8<<24 | imm8<<16 | imm8<<8 | imm8
		}
	}
	return bits.RotateLeft32(0x80|imm12&0x7F, -int(imm12>>7))
}

// ---- 16-bit instructions ----

func decode16(e *isa.Effect, h uint32, pc uint64, code []byte) string {
	switch h >> 12 {
	case 0x0, 0x1, 0x2, 0x3:
		return shiftAddSubMovCmp16(e, h)
	case 0x4:
		switch {
		case h&0xFC00 == 0x4000:
			// Data processing: AND EOR LSL LSR ASR ADC SBC ROR TST RSB CMP
			// CMN ORR MUL BIC MVN, Rdn = h[2:0].
			rdn, rm := h&7, (h>>3)&7
			use(e, rdn)
			use(e, rm)
			switch (h >> 6) & 0xF {
			case 10: // CMP Rn, Rm
				setCmp(e, rdn, int8(rm), 0)
			case 8, 11: // TST, CMN
			default:
				writeReg(e, rdn)
			}
			return ""
		case h&0xFC00 == 0x4400:
			return special16(e, h)
		default: // 01001x: LDR (literal)
			rt := (h >> 8) & 7
			addr := literalAddr(pc, (h&0xFF)<<2, true)
			writeReg(e, rt)
			e.Literal, e.LiteralSize = addr, 4
			literalRef(e, code, pc, addr)
			return ""
		}
	case 0x5:
		// Load/store with register offset: STR STRH STRB LDRSB LDR LDRH LDRB LDRSH.
		rt, rn, rm := h&7, (h>>3)&7, (h>>6)&7
		use(e, rt)
		use(e, rn)
		use(e, rm)
		if (h>>9)&7 >= 3 {
			writeReg(e, rt)
		}
		return ""
	case 0x6, 0x7, 0x8:
		// STR/LDR, STRB/LDRB, STRH/LDRH with a 5-bit immediate.
		rt, rn, imm := h&7, (h>>3)&7, int64((h>>6)&0x1F)
		var size int64
		switch h >> 12 {
		case 0x6:
			size = 4
		case 0x7:
			size = 1
		default:
			size = 2
		}
		use(e, rt)
		access(e, rn, imm*size, size)
		if h&0x800 != 0 {
			writeReg(e, rt)
		}
		return ""
	case 0x9:
		// STR/LDR Rt, [SP, #imm8*4].
		rt := (h >> 8) & 7
		use(e, rt)
		access(e, regSP, int64(h&0xFF)<<2, 4)
		if h&0x800 != 0 {
			writeReg(e, rt)
		}
		return ""
	case 0xA:
		rd, imm := (h>>8)&7, (h&0xFF)<<2
		if h&0x800 == 0 {
			// ADR Rd, label.
			writeReg(e, rd)
			e.Ref = literalAddr(pc, imm, true)
			e.HasRef = true
			return ""
		}
		// ADD Rd, SP, #imm8*4.
		if rd == regFP {
			e.SetsFP = true
			e.FPOffset = int64(imm)
			e.UsesFP = true
		}
		return ""
	case 0xB:
		return misc16(e, h, pc)
	case 0xC:
		// STM Rn!, {list} / LDM Rn{!}, {list}.
		rn, list := (h>>8)&7, h&0xFF
		if list == 0 {
			return "stm/ldm with an empty register list"
		}
		use(e, rn)
		if list&(1<<regFP) != 0 {
			e.UsesFP = true
		}
		if h&0x800 == 0 {
			writeback(e, rn, int64(bits.OnesCount32(list))*4)
			return ""
		}
		if list&(1<<rn) == 0 {
			writeback(e, rn, int64(bits.OnesCount32(list))*4)
		}
		e.DefAlso |= list
		e.LdmList, e.LdmBase, e.HasLdm = uint16(list), int8(rn), true
		if list&(1<<regFP) != 0 {
			writeReg(e, regFP)
		}
		return ""
	case 0xD:
		switch cond := (h >> 8) & 0xF; cond {
		case 0xE: // UDF
			e.Flow = isa.FlowStop
		case 0xF: // SVC
		default:
			setTarget(e, isa.FlowCondJump, pc, signExtend((h&0xFF)<<1, 9))
			e.Cond = isa.Cond(cond + 1)
		}
		return ""
	case 0xE:
		// 11100: B (unconditional). 11101 is a 32-bit prefix and never
		// reaches here.
		setTarget(e, isa.FlowJump, pc, signExtend((h&0x7FF)<<1, 12))
		return ""
	}
	return "not a 16-bit Thumb instruction"
}

// shiftAddSubMovCmp16 decodes 00xxxx: LSL/LSR/ASR (immediate), ADD/SUB
// (register and 3-bit immediate), MOV/CMP/ADD/SUB (8-bit immediate).
func shiftAddSubMovCmp16(e *isa.Effect, h uint32) string {
	op := (h >> 11) & 7
	switch op {
	case 0, 1, 2: // shifts, MOVS Rd, Rm
		rd, rm := h&7, (h>>3)&7
		use(e, rm)
		use(e, rd)
		writeReg(e, rd)
	case 3: // ADD/SUB register or imm3
		rd, rn := h&7, (h>>3)&7
		use(e, rn)
		if h&0x400 == 0 {
			use(e, (h>>6)&7)
			writeReg(e, rd)
		} else if imm := int64((h >> 6) & 7); h&0x200 != 0 {
			addSubImm(e, rd, rn, -imm)
		} else {
			addSubImm(e, rd, rn, imm)
		}
	case 5: // CMP Rn, #imm8
		use(e, (h>>8)&7)
		setCmp(e, (h>>8)&7, -1, h&0xFF)
	case 4: // MOV Rd, #imm8
		rd := (h >> 8) & 7
		writeReg(e, rd)
	default: // ADD, SUB Rdn, #imm8
		rd, imm := (h>>8)&7, int64(h&0xFF)
		if op == 7 {
			imm = -imm
		}
		addSubImm(e, rd, rd, imm)
	}
	return ""
}

// special16 decodes 010001: ADD/CMP/MOV with high registers, BX, BLX.
func special16(e *isa.Effect, h uint32) string {
	rdn := h&7 | (h>>4)&8
	rm := (h >> 3) & 0xF
	switch (h >> 8) & 3 {
	case 0: // ADD Rdn, Rm
		use(e, rdn)
		use(e, rm)
		switch rdn {
		case regSP:
			if rm == regSP || rm == regPC {
				e.SP = isa.SPUnknown
			} else {
				e.SP = isa.SPDynamic
				e.SPReg, e.HasSPReg = int8(rm), true
			}
		default:
			writeReg(e, rdn)
		}
	case 1: // CMP Rn, Rm
		use(e, rdn)
		use(e, rm)
		setCmp(e, rdn, int8(rm), 0)
	case 2: // MOV Rd, Rm
		use(e, rdn)
		use(e, rm)
		switch {
		case rdn == regSP && rm == regFP:
			e.SP = isa.SPFromFP
		case rdn == regPC && rm == regLR:
			e.Flow = isa.FlowReturn
		case rdn == regFP && rm == regSP:
			e.SetsFP = true
		case rdn == rm && rdn != regPC:
			// mov rX, rX: a no-op.
		default:
			writeReg(e, rdn)
		}
	case 3: // BX / BLX (register); bit 2 is BXNS/BLXNS on ARMv8-M.
		if h&3 != 0 {
			return "bx/blx with nonzero should-be-zero bits"
		}
		use(e, rm)
		if h&0x80 != 0 {
			if rm == regPC {
				return "blx pc is unpredictable"
			}
			e.Flow = isa.FlowIndirectCall
			e.CallReg, e.HasCallReg = int8(rm), true
		} else if rm == regLR {
			e.Flow = isa.FlowReturn
		} else {
			e.Flow = isa.FlowIndirectJump
			e.CallReg, e.HasCallReg = int8(rm), true
		}
	}
	return ""
}

// misc16 decodes 1011xx: the miscellaneous 16-bit instructions.
func misc16(e *isa.Effect, h uint32, pc uint64) string {
	switch {
	case h&0xFF00 == 0xB000: // ADD/SUB SP, SP, #imm7*4
		imm := int64(h&0x7F) << 2
		if h&0x80 != 0 {
			imm = -imm
		}
		e.SP = isa.SPAdd
		e.SPDelta = imm
	case h&0xF500 == 0xB100: // CBZ/CBNZ Rn, label
		use(e, h&7)
		off := ((h>>3)&0x1F)<<1 | ((h>>9)&1)<<6
		setTarget(e, isa.FlowCondJump, pc, int64(off))
	case h&0xFF00 == 0xB200: // SXTH SXTB UXTH UXTB
		use(e, (h>>3)&7)
		writeReg(e, h&7)
	case h&0xFE00 == 0xB400: // PUSH {list, lr?}
		list := h & 0x1FF
		if list == 0 {
			return "push with an empty register list"
		}
		if list&(1<<regFP) != 0 {
			e.UsesFP = true
		}
		e.SP = isa.SPAdd
		e.SPDelta = -4 * int64(bits.OnesCount32(list))
	case h&0xFFEC == 0xB660: // CPSIE/CPSID
	case h&0xFF00 == 0xBA00: // REV REV16 (HLT) REVSH
		if (h>>6)&3 == 2 {
			return "hlt is undefined on M-profile"
		}
		use(e, (h>>3)&7)
		writeReg(e, h&7)
	case h&0xFE00 == 0xBC00: // POP {list, pc?}
		list := h & 0xFF
		if list == 0 && h&0x100 == 0 {
			return "pop with an empty register list"
		}
		n := bits.OnesCount32(list)
		if h&0x100 != 0 {
			n++
			e.Flow = isa.FlowReturn
		}
		e.SP = isa.SPAdd
		e.SPDelta = 4 * int64(n)
		e.DefAlso |= list
		if list&(1<<regFP) != 0 {
			writeReg(e, regFP)
		}
	case h&0xFF00 == 0xBE00: // BKPT
	case h&0xFF00 == 0xBF00: // IT and hints
		firstcond, mask := (h>>4)&0xF, h&0xF
		if mask == 0 {
			return "" // NOP, YIELD, WFE, WFI, SEV and unallocated hints (NOP)
		}
		if firstcond == 0xF || firstcond == 0xE && bits.OnesCount32(mask) != 1 {
			return "it with an unpredictable condition"
		}
		e.CondNext = 4 - bits.TrailingZeros32(mask)
	default:
		return "undefined 16-bit miscellaneous encoding"
	}
	return ""
}

// ---- 32-bit instructions ----

func decode32(e *isa.Effect, hw1, hw2 uint32, pc uint64, code []byte) string {
	op2 := (hw1 >> 4) & 0x7F
	switch (hw1 >> 11) & 3 {
	case 1:
		switch {
		case op2&0x64 == 0x00:
			return loadStoreMultiple(e, hw1, hw2)
		case op2&0x64 == 0x04:
			return loadStoreDual(e, hw1, hw2, pc)
		case op2&0x60 == 0x20:
			return dataProcShiftedReg(e, hw1, hw2)
		default:
			return coprocessor(e, hw1, hw2, pc)
		}
	case 2:
		if hw2&0x8000 != 0 {
			return branchMisc(e, hw1, hw2, pc)
		}
		if op2&0x20 == 0 {
			return dataProcModImm(e, hw1, hw2)
		}
		return dataProcPlainImm(e, hw1, hw2, pc)
	default: // 3
		switch {
		case op2&0x71 == 0x00:
			return storeSingle(e, hw1, hw2)
		case op2&0x67 == 0x01:
			return loadSingle(e, hw1, hw2, pc, code, 1)
		case op2&0x67 == 0x03:
			return loadSingle(e, hw1, hw2, pc, code, 2)
		case op2&0x67 == 0x05:
			return loadSingle(e, hw1, hw2, pc, code, 4)
		case op2&0x70 == 0x20:
			return dataProcReg(e, hw1, hw2)
		case op2&0x78 == 0x30:
			return multiply(e, hw1, hw2)
		case op2&0x78 == 0x38:
			return longMultiply(e, hw1, hw2)
		case op2&0x40 == 0x40:
			return coprocessor(e, hw1, hw2, pc)
		}
		return "undefined 32-bit load/store encoding"
	}
}

// loadStoreMultiple decodes STM/STMDB/PUSH.W and LDM/LDMDB/POP.W.
func loadStoreMultiple(e *isa.Effect, hw1, hw2 uint32) string {
	op := (hw1 >> 7) & 3
	wback := hw1&0x20 != 0
	load := hw1&0x10 != 0
	rn := hw1 & 0xF
	list := hw2 & 0xFFFF
	if op == 0 || op == 3 {
		return "srs/rfe are undefined on M-profile"
	}
	if rn == regPC {
		return "ldm/stm with PC as the base register"
	}
	if list == 0 {
		return "ldm/stm with an empty register list"
	}
	if wback && list&(1<<rn) != 0 {
		return "ldm/stm with writeback and the base register in the list"
	}
	n := int64(bits.OnesCount32(list)) * 4
	use(e, rn)
	if list&(1<<regFP) != 0 {
		e.UsesFP = true
	}
	var delta, off int64 // writeback amount; lowest address accessed, from rn
	if op == 1 {
		delta, off = n, 0
	} else {
		delta, off = -n, -n
	}
	if !load {
		if list&(1<<regSP|1<<regPC) != 0 {
			return "stm with SP or PC in the register list"
		}
		if wback {
			writeback(e, rn, delta)
		} else {
			access(e, rn, off, n)
		}
		return ""
	}
	if list&(1<<regLR|1<<regPC) == 1<<regLR|1<<regPC {
		return "ldm with both LR and PC in the register list"
	}
	e.DefAlso |= list
	e.LdmList, e.LdmBase, e.HasLdm, e.LdmDown = uint16(list), int8(rn), true, op != 1
	if wback {
		writeback(e, rn, delta)
	} else {
		access(e, rn, off, n)
	}
	if list&(1<<regFP) != 0 {
		writeReg(e, regFP)
	}
	if list&(1<<regSP) != 0 {
		writeReg(e, regSP)
	}
	if list&(1<<regPC) != 0 {
		if rn == regSP && wback && op == 1 {
			e.Flow = isa.FlowReturn
		} else {
			e.Flow = isa.FlowIndirectJump
		}
	}
	return ""
}

// loadStoreDual decodes LDRD/STRD, the exclusive and acquire/release
// loads and stores, TBB/TBH, and ARMv8-M SG and TT.
func loadStoreDual(e *isa.Effect, hw1, hw2 uint32, pc uint64) string {
	op1, op2, op3 := (hw1>>7)&3, (hw1>>4)&3, (hw2>>4)&0xF
	rn, rt := hw1&0xF, hw2>>12
	if hw1 == 0xE97F && hw2 == 0xE97F {
		return "" // SG (ARMv8-M secure gateway)
	}
	use(e, rn)
	switch {
	case op1 == 0 && op2 == 0: // STREX Rd, Rt, [Rn, #imm]; ARMv8-M TT Rd, Rn
		use(e, rt)
		writeReg(e, (hw2>>8)&0xF)
		return ""
	case op1 == 0 && op2 == 1: // LDREX Rt, [Rn, #imm]
		if rt == regPC {
			return "ldrex into PC is unpredictable"
		}
		writeReg(e, rt)
		return ""
	case op1 == 1 && op2 == 0: // STREXB/H; ARMv8-M STL*, STLEX*
		use(e, rt)
		switch op3 {
		case 4, 5, 12, 13, 14: // exclusive: status in Rd = hw2[3:0]
			writeReg(e, hw2&0xF)
		case 8, 9, 10:
		default:
			return "undefined store-exclusive encoding"
		}
		return ""
	case op1 == 1 && op2 == 1: // TBB/TBH; LDREXB/H; ARMv8-M LDA*, LDAEX*
		switch op3 {
		case 0, 1:
			if hw2&0xFFE0 != 0xF000 {
				return "tbb/tbh with wrong fixed bits"
			}
			use(e, hw2&0xF)
			e.Flow = isa.FlowIndirectJump
			e.JumpTable = true
		case 4, 5, 8, 9, 10, 12, 13, 14:
			if rt == regPC {
				return "load-exclusive into PC is unpredictable"
			}
			writeReg(e, rt)
		default:
			return "undefined load-exclusive encoding"
		}
		return ""
	}
	// LDRD/STRD (immediate): 1110 100P U1WL Rn | Rt Rt2 imm8.
	p, u, w, l := hw1&0x100 != 0, hw1&0x80 != 0, hw1&0x20 != 0, hw1&0x10 != 0
	rt2 := (hw2 >> 8) & 0xF
	imm := int64(hw2&0xFF) << 2
	if !u {
		imm = -imm
	}
	use(e, rt)
	use(e, rt2)
	if rn == regPC {
		if !l || w || !p {
			return "strd/ldrd with PC base and writeback or store"
		}
		e.Literal, e.LiteralSize = literalAddr(pc, hw2&0xFF<<2, u), 8
	} else if w {
		if rn == rt || rn == rt2 {
			return "ldrd/strd writeback to a transferred register"
		}
		writeback(e, rn, imm)
	} else {
		access(e, rn, imm, 8)
	}
	if l {
		if rt == regPC || rt2 == regPC || rt == rt2 {
			return "ldrd into PC or into one register twice"
		}
		writeReg(e, rt)
		writeReg(e, rt2)
	}
	return ""
}

// dataProcShiftedReg decodes the data-processing (shifted register) group.
func dataProcShiftedReg(e *isa.Effect, hw1, hw2 uint32) string {
	op := (hw1 >> 5) & 0xF
	s := hw1&0x10 != 0
	rn, rd, rm := hw1&0xF, (hw2>>8)&0xF, hw2&0xF
	shifted := hw2&0x70F0 != 0 // imm3, imm2 or type nonzero
	use(e, rm)
	if rn != regPC {
		use(e, rn)
	}
	switch op {
	case 0, 4, 8, 13: // AND/TST, EOR/TEQ, ADD/CMN, SUB/CMP
		if rd == regPC && s {
			if op == 13 && !shifted { // CMP Rn, Rm
				setCmp(e, rn, int8(rm), 0)
			}
			return ""
		}
	case 1, 2, 3, 6, 10, 11, 14: // BIC, ORR/MOV, ORN/MVN, PKH, ADC, SBC, RSB
	default:
		return "undefined data-processing (shifted register) opcode"
	}
	isMov := op == 2 && rn == regPC
	switch rd {
	case regSP:
		switch {
		case (op == 8 || op == 13) && rn == regSP && rm != regSP && rm != regPC:
			e.SP = isa.SPDynamic
			if !shifted {
				e.SPReg, e.HasSPReg, e.SPRegSub = int8(rm), true, op == 13
			}
		case isMov && rm == regFP && !shifted:
			e.SP = isa.SPFromFP
			e.UsesFP = true
		default:
			e.SP = isa.SPUnknown
		}
	case regFP:
		if isMov && rm == regSP && !shifted {
			e.SetsFP = true
			e.UsesFP = true
		} else if !(isMov && rm == regFP && !shifted) {
			writeReg(e, rd)
		}
	default:
		writeReg(e, rd)
	}
	return ""
}

// addSubImm fills in the effect of ADD/SUB Rd, Rn, #imm (imm already
// negated for SUB), shared by the modified- and plain-immediate forms.
func addSubImm(e *isa.Effect, rd, rn uint32, imm int64) {
	use(e, rn)
	switch {
	case rd == regSP && rn == regSP:
		e.SP = isa.SPAdd
		e.SPDelta = imm
	case rd == regSP && rn == regFP:
		e.SP = isa.SPFromFP
		e.SPDelta = imm
	case rd == regFP && rn == regSP:
		e.SetsFP = true
		e.FPOffset = imm
		e.UsesFP = true
	case rd == regFP && rn == regFP:
		// adds r7, #n: FP stays SP-derived (-O0 epilogues: adds r7, #n;
		// mov sp, r7).
		e.AdjustsFP = true
		e.FPDelta = imm
	default:
		writeReg(e, rd)
		if rn == regSP && imm < 0 && rd != regPC {
			e.SavesSPLimit = true
			e.SPLimitOffset = imm
		}
	}
}

// dataProcModImm decodes the data-processing (modified immediate) group.
func dataProcModImm(e *isa.Effect, hw1, hw2 uint32) string {
	op := (hw1 >> 5) & 0xF
	s := hw1&0x10 != 0
	rn, rd := hw1&0xF, (hw2>>8)&0xF
	imm12 := (hw1>>10&1)<<11 | (hw2>>12&7)<<8 | hw2&0xFF
	switch op {
	case 0, 4, 8, 13:
		if rd == regPC && s {
			use(e, rn)
			if op == 13 { // CMP Rn, #const
				setCmp(e, rn, -1, thumbExpandImm(imm12))
			}
			return "" // TST, TEQ, CMN, CMP
		}
	case 1, 2, 3, 10, 11, 14:
	default:
		return "undefined data-processing (modified immediate) opcode"
	}
	if op == 8 || op == 13 {
		imm := int64(thumbExpandImm(imm12))
		if op == 13 {
			imm = -imm
		}
		addSubImm(e, rd, rn, imm)
		return ""
	}
	if !(op == 2 || op == 3) || rn != regPC {
		use(e, rn)
	}
	writeReg(e, rd)
	return ""
}

// dataProcPlainImm decodes the data-processing (plain binary immediate)
// group: ADDW, SUBW, ADR, MOVW, MOVT, SSAT, USAT, SBFX, UBFX, BFI, BFC.
func dataProcPlainImm(e *isa.Effect, hw1, hw2 uint32, pc uint64) string {
	op := (hw1 >> 4) & 0x1F
	rn, rd := hw1&0xF, (hw2>>8)&0xF
	imm12 := (hw1>>10&1)<<11 | (hw2>>12&7)<<8 | hw2&0xFF
	switch op {
	case 0x00, 0x0A: // ADDW/SUBW, ADR
		if rn == regPC {
			writeReg(e, rd)
			if rd != regPC && rd != regSP {
				e.Ref = literalAddr(pc, imm12, op == 0)
				e.HasRef = true
			}
			return ""
		}
		imm := int64(imm12)
		if op == 0x0A {
			imm = -imm
		}
		addSubImm(e, rd, rn, imm)
		return ""
	case 0x04, 0x0C: // MOVW, MOVT
		if op == 0x0C {
			use(e, rd)
		}
		writeReg(e, rd)
		return ""
	case 0x10, 0x12, 0x14, 0x16, 0x18, 0x1A, 0x1C:
		if rn != regPC {
			use(e, rn)
		}
		writeReg(e, rd)
		return ""
	}
	return "undefined data-processing (plain immediate) opcode"
}

// Special register numbers (SYSm) of MSR/MRS. sp names the stack register
// a write may move (isa.SysNone for the others).
func msrTarget(sysm uint32) (known bool, sp isa.SysReg) {
	switch sysm {
	case 0, 1, 2, 3, 5, 6, 7: // APSR variants, IPSR, EPSR
		return true, isa.SysNone
	case 8:
		return true, isa.SysMSP
	case 9:
		return true, isa.SysPSP
	case 10, 11: // MSPLIM, PSPLIM: stack limits, not stack pointers
		return true, isa.SysNone
	case 16, 17, 18, 19: // PRIMASK, BASEPRI, BASEPRI_MAX, FAULTMASK
		return true, isa.SysNone
	case 20: // CONTROL: SPSEL switches between MSP and PSP
		return true, isa.SysControl
	case 0x88, 0x89, 0x8A, 0x8B, 0x90, 0x91, 0x93, 0x94, 0x98:
		// The non-secure banked registers (MSP_NS ... CONTROL_NS, SP_NS)
		// written from secure state: not the running stack pointer.
		return true, isa.SysNone
	}
	return false, isa.SysNone
}

// branchMisc decodes the branches and miscellaneous control group.
func branchMisc(e *isa.Effect, hw1, hw2 uint32, pc uint64) string {
	op := (hw1 >> 4) & 0x7F
	op1 := (hw2 >> 12) & 7
	s := (hw1 >> 10) & 1
	j1, j2 := (hw2>>13)&1, (hw2>>11)&1
	switch op1 & 5 {
	case 0:
		if op&0x38 != 0x38 {
			// B<cond>.W: S:J2:J1:imm6:imm11:'0'.
			off := s<<20 | j2<<19 | j1<<18 | (hw1&0x3F)<<12 | (hw2&0x7FF)<<1
			setTarget(e, isa.FlowCondJump, pc, signExtend(off, 21))
			e.Cond = isa.Cond((hw1>>6)&0xF + 1)
			return ""
		}
		switch op {
		case 0x38, 0x39: // MSR spec_reg, Rn
			use(e, hw1&0xF)
			known, sp := msrTarget(hw2 & 0xFF)
			if !known {
				return "msr to an unknown special register"
			}
			if sp != isa.SysNone {
				e.SP = isa.SPUnknown
				e.SysReg, e.SysSrc = sp, int8(hw1&0xF)
			}
			return ""
		case 0x3A: // hints (NOP, YIELD, WFE, WFI, SEV, DBG, CSDB, ...)
			if hw2&0x0700 != 0 {
				return "32-bit cps is undefined on M-profile"
			}
			return ""
		case 0x3B: // CLREX, DSB, DMB, ISB
			switch (hw2 >> 4) & 0xF {
			case 2, 4, 5, 6:
				return ""
			}
			return "undefined miscellaneous control instruction"
		case 0x3E, 0x3F: // MRS Rd, spec_reg
			rd := (hw2 >> 8) & 0xF
			if rd == regPC {
				return "mrs into PC is unpredictable"
			}
			writeReg(e, rd)
			return ""
		case 0x7F:
			if op1 == 2 { // UDF.W
				e.Flow = isa.FlowStop
				return ""
			}
		}
		return "undefined branch/miscellaneous control encoding"
	case 1, 5: // B.W, BL
		i1, i2 := ^(j1^s)&1, ^(j2^s)&1
		off := s<<24 | i1<<23 | i2<<22 | (hw1&0x3FF)<<12 | (hw2&0x7FF)<<1
		f := isa.FlowJump
		if op1&4 != 0 {
			f = isa.FlowCall
		}
		setTarget(e, f, pc, signExtend(off, 25))
		return ""
	}
	return "blx to ARM state is undefined on M-profile"
}

// storeSingle decodes STR, STRB, STRH (immediate and register).
func storeSingle(e *isa.Effect, hw1, hw2 uint32) string {
	rn, rt := hw1&0xF, hw2>>12
	var size int64
	switch (hw1 >> 5) & 3 {
	case 0:
		size = 1
	case 1:
		size = 2
	case 2:
		size = 4
	default:
		return "undefined store encoding"
	}
	if rn == regPC {
		return "store with PC as the base register"
	}
	use(e, rn)
	use(e, rt)
	if hw1&0x80 != 0 { // imm12
		access(e, rn, int64(hw2&0xFFF), size)
		return ""
	}
	return indexedForm(e, hw2, rn, rt, size)
}

// indexedForm decodes the imm8 (1PUW) and register-offset forms shared by
// the 32-bit single loads and stores (hw2[11:0]).
func indexedForm(e *isa.Effect, hw2, rn, rt uint32, size int64) string {
	if hw2&0x800 == 0 {
		if hw2&0xFC0 != 0 {
			return "undefined load/store encoding"
		}
		use(e, hw2&0xF) // register offset: the address is unknown
		return ""
	}
	p, u, w := hw2&0x400 != 0, hw2&0x200 != 0, hw2&0x100 != 0
	imm := int64(hw2 & 0xFF)
	if !u {
		imm = -imm
	}
	if !p && !w {
		return "undefined load/store encoding"
	}
	if !w {
		access(e, rn, imm, size) // offset (U=0) or unprivileged (U=1)
		return ""
	}
	if rn == rt {
		return "load/store writeback to the transferred register"
	}
	writeback(e, rn, imm)
	return ""
}

// loadSingle decodes LDR, LDRB, LDRSB, LDRH, LDRSH (and the preload hints
// PLD/PLI that occupy the byte/halfword loads into PC).
func loadSingle(e *isa.Effect, hw1, hw2 uint32, pc uint64, code []byte, size int64) string {
	rn, rt := hw1&0xF, hw2>>12
	signed := hw1&0x100 != 0
	if signed && size == 4 {
		return "undefined load word encoding"
	}
	if rt == regPC && size != 4 {
		// PLD, PLDW, PLI and unallocated memory hints: no register is
		// written, but the addressing form must be a valid one without
		// writeback.
		if rn != regPC && hw1&0x80 == 0 {
			if hw2&0x800 == 0 && hw2&0xFC0 != 0 || hw2&0x800 != 0 && hw2&0x500 != 0x400 {
				return "undefined preload hint"
			}
		}
		return ""
	}
	use(e, rt)
	if rn == regPC { // literal
		addr := literalAddr(pc, hw2&0xFFF, hw1&0x80 != 0)
		e.Literal, e.LiteralSize = addr, uint8(size)
		switch rt {
		case regPC:
			e.Flow = isa.FlowIndirectJump
			e.Slot = addr
			e.HasSlot = true
		default:
			writeReg(e, rt)
			if size == 4 {
				literalRef(e, code, pc, addr)
			}
		}
		return ""
	}
	use(e, rn)
	if hw1&0x80 != 0 { // imm12
		access(e, rn, int64(hw2&0xFFF), size)
	} else if reason := indexedForm(e, hw2, rn, rt, size); reason != "" {
		return reason
	}
	if rt == regPC {
		// ldr pc, [sp], #imm is a return; any other load into PC jumps.
		if rn == regSP && hw1&0x80 == 0 && hw2&0xD00 == 0x900 {
			e.Flow = isa.FlowReturn
		} else {
			e.Flow = isa.FlowIndirectJump
		}
		return ""
	}
	writeReg(e, rt)
	return ""
}

// dataProcReg decodes the data-processing (register) group: register
// shifts, extends, parallel add/subtract, and the miscellaneous operations.
func dataProcReg(e *isa.Effect, hw1, hw2 uint32) string {
	op1, op2 := (hw1>>4)&0xF, (hw2>>4)&0xF
	if hw2&0xF000 != 0xF000 {
		return "undefined data-processing (register) encoding"
	}
	valid := false
	switch {
	case op1 < 8 && op2 == 0: // LSL LSR ASR ROR (register)
		valid = true
	case op1 < 6 && op2&8 != 0: // SXTAH SXTH UXTAH UXTH SXTAB16 UXTAB16 SXTAB SXTB UXTAB UXTB
		valid = op2&4 == 0
	case op1&8 != 0 && op2 < 8: // parallel add/subtract
		valid = op1&3 != 3 && op2&3 != 3
	case op1&0xC == 8 && op2&0xC == 8: // QADD..., REV..., SEL, CLZ
		valid = op1&3 < 2 || op2 == 8
	}
	if !valid {
		return "undefined data-processing (register) encoding"
	}
	rn, rd, rm := hw1&0xF, (hw2>>8)&0xF, hw2&0xF
	if rn != regPC {
		use(e, rn)
	}
	use(e, rm)
	writeReg(e, rd)
	return ""
}

// multiply decodes MUL, MLA, MLS and the ARMv7E-M DSP multiplies.
func multiply(e *isa.Effect, hw1, hw2 uint32) string {
	op1, op2 := (hw1>>4)&7, (hw2>>4)&3
	if hw2&0xC0 != 0 {
		return "undefined multiply encoding"
	}
	valid := false
	switch op1 {
	case 0:
		valid = op2 < 2
	case 1:
		valid = true
	case 2, 3, 4, 5, 6:
		valid = op2 < 2
	case 7:
		valid = op2 == 0
	}
	if !valid {
		return "undefined multiply encoding"
	}
	rd := (hw2 >> 8) & 0xF
	if rd == regPC {
		return "multiply into PC is unpredictable"
	}
	use(e, hw1&0xF)
	use(e, hw2&0xF)
	if ra := hw2 >> 12; ra != regPC {
		use(e, ra)
	}
	writeReg(e, rd)
	return ""
}

// longMultiply decodes SMULL, UMULL, SMLAL..., UMAAL, SDIV, UDIV.
func longMultiply(e *isa.Effect, hw1, hw2 uint32) string {
	op1, op2 := (hw1>>4)&7, (hw2>>4)&0xF
	rdLo, rdHi := hw2>>12, (hw2>>8)&0xF
	if rdHi == regPC || rdLo == regPC && op2 != 0xF {
		return "multiply into PC is unpredictable"
	}
	use(e, hw1&0xF)
	use(e, hw2&0xF)
	switch {
	case (op1 == 1 || op1 == 3) && op2 == 0xF: // SDIV, UDIV
		writeReg(e, rdHi)
		return ""
	case op1 == 0 && op2 == 0, op1 == 2 && op2 == 0, // SMULL, UMULL
		op1 == 4 && (op2 == 0 || op2&0xC == 8 || op2&0xE == 0xC), // SMLAL, SMLALxy, SMLALD
		op1 == 5 && op2&0xE == 0xC,                               // SMLSLD
		op1 == 6 && (op2 == 0 || op2 == 6):                       // UMLAL, UMAAL
		use(e, rdLo)
		use(e, rdHi)
		writeReg(e, rdLo)
		writeReg(e, rdHi)
		return ""
	}
	return "undefined long multiply/divide encoding"
}

// coprocessor decodes the coprocessor space, which holds the floating-point
// instructions (coprocessors 10 and 11): VLDR/VSTR, VLDM/VSTM, VPUSH/VPOP,
// VMOV between core and FP registers, VMRS, and FP data processing. The
// implementation-defined coprocessors 0-7 are decoded by their generic
// LDC/STC/MCR/MRC/MCRR/MRRC/CDP formats; coprocessors 8, 9 and 12-15 do not
// exist on M-profile processors (A-profile Advanced SIMD lives there) and
// are errors.
func coprocessor(e *isa.Effect, hw1, hw2 uint32, pc uint64) string {
	op1 := (hw1 >> 4) & 0x3F
	rn := hw1 & 0xF
	coproc := (hw2 >> 8) & 0xF
	t := hw1&0x1000 != 0 // the "2" forms: LDC2, MCR2, CDP2, ...
	fp := coproc&0xE == 0xA
	switch {
	case op1&0x3E == 0, op1&0x30 == 0x30:
		return "undefined coprocessor encoding"
	case coproc >= 8 && !fp:
		return "coprocessors 8, 9 and 12-15 do not exist on M-profile"
	case fp && t:
		// ARMv8-M FP: VSEL, VMAXNM, VMINNM, VCVTA..., VRINTA... (CDP2 space).
		if op1&0x30 == 0x20 && hw2&0x10 == 0 {
			use(e, hw2>>12)
			return ""
		}
		return "undefined floating-point encoding"
	case op1 == 0x04: // MCRR / VMOV to two FP registers
		use(e, hw2>>12)
		use(e, rn)
		return ""
	case op1 == 0x05: // MRRC / VMOV to two core registers
		rt, rt2 := hw2>>12, rn
		if rt == regPC || rt2 == regPC {
			return "mrrc into PC is unpredictable"
		}
		writeReg(e, rt)
		writeReg(e, rt2)
		return ""
	case op1&0x20 == 0: // LDC/STC: 110P UDWL
		if fp {
			return fpLoadStore(e, hw1, hw2, pc)
		}
		p, u, w := op1&0x10 != 0, op1&0x08 != 0, op1&0x02 != 0
		imm := int64(hw2&0xFF) << 2
		if !u {
			imm = -imm
		}
		use(e, rn)
		if !p && !w && !u {
			return "undefined coprocessor load/store addressing mode"
		}
		if w {
			if rn == regPC {
				return "coprocessor load/store writeback to PC"
			}
			writeback(e, rn, imm)
		}
		return ""
	default: // 10xxxx: CDP, MCR, MRC
		if hw2&0x10 == 0 || op1&1 == 0 {
			use(e, hw2>>12)
			return "" // CDP, FP data processing; MCR, VMOV/VMSR from core
		}
		// MRC, VMOV/VMRS to core. Rt = PC writes the flags (APSR_nzcv); of
		// the FP transfers only VMRS allows it.
		rt := hw2 >> 12
		if rt == regPC {
			if fp && (hw1&0xFFF0 != 0xEEF0 || hw2&0xFFF != 0xA10) {
				return "vmov into PC is unpredictable" // only VMRS APSR_nzcv, FPSCR
			}
			return ""
		}
		writeReg(e, rt)
		return ""
	}
}

// fpLoadStore decodes VLDR/VSTR, VLDM/VSTM (VPUSH/VPOP) and ARMv8-M
// VLSTM/VLLDM: 1110 110P UDWL Rn | Vd 101s imm8.
func fpLoadStore(e *isa.Effect, hw1, hw2 uint32, pc uint64) string {
	op1 := (hw1 >> 4) & 0x1F
	p, u, w, l := op1&0x10 != 0, op1&0x08 != 0, op1&0x02 != 0, op1&0x01 != 0
	rn := hw1 & 0xF
	double := hw2&0x100 != 0
	imm8 := hw2 & 0xFF
	use(e, rn)
	if !p && !u {
		// P=0 U=0 W=1: VLSTM/VLLDM, lazy FP state save/restore at [Rn].
		if w && !double && imm8 == 0 && op1&0x04 == 0 && hw2&0xF000 == 0 {
			return ""
		}
		return "undefined floating-point load/store addressing mode"
	}
	if p && !w { // VLDR/VSTR
		if rn == regPC && !l {
			return "vstr with PC base is unpredictable"
		}
		size := int64(4)
		if double {
			size = 8
		}
		off := int64(imm8) << 2
		if !u {
			off = -off
		}
		if rn == regPC {
			e.Literal, e.LiteralSize = literalAddr(pc, imm8<<2, u), uint8(size)
		}
		access(e, rn, off, size)
		return ""
	}
	if p == u {
		return "undefined floating-point load/store addressing mode"
	}
	// VLDM/VSTM: IA (P=0 U=1), optionally with writeback, or DB (P=1 U=0 W=1).
	if rn == regPC {
		return "vldm/vstm with PC base"
	}
	d := (hw2>>12)&0xF | (hw1>>6)&1<<4 // D:Vd or Vd:D
	if double {
		if imm8&1 != 0 || imm8 == 0 || imm8 > 32 || d+imm8/2 > 32 {
			return "vldm/vstm with an unpredictable register list"
		}
	} else {
		d = (hw2>>12)&0xF<<1 | (hw1>>6)&1
		if imm8 == 0 || d+imm8 > 32 {
			return "vldm/vstm with an unpredictable register list"
		}
	}
	n := int64(imm8) << 2
	if w {
		if u {
			writeback(e, rn, n)
		} else {
			writeback(e, rn, -n)
		}
	} else {
		access(e, rn, 0, n)
	}
	return ""
}
