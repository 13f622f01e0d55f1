// Package riscv decodes RISC-V machine code (RV32 and RV64, the base
// integer set with the M, A, F, D and C extensions and what else
// golang.org/x/arch's riscv64asm knows) into the stack and control-flow
// effects the analysis needs (isa.Effect).
//
// golang.org/x/arch/riscv64/riscv64asm recognises the encodings and gives
// the operands of compressed instructions in their base form. It misses, and
// this package decodes by hand:
//   - the RV32-only compressed encodings, which share their bits with RV64
//     ones: c.jal (RV64 c.addiw), c.flw/c.fsw and c.flwsp/c.fswsp (RV64
//     c.ld/c.sd and c.ldsp/c.sdsp);
//   - c.j, whose offset riscv64asm v0.32.0 gets wrong (it takes bits 5:2
//     of the encoding for offset bits 4:1; bit 2 is offset bit 5);
//   - the privileged instructions mret, sret, wfi and sfence.vma;
//   - the RV64-only instructions on RV32 (ld, sd, lwu, the *w forms,
//     c.addw/c.subw, 6-bit shift amounts), which it accepts and which are
//     an error here, as they are for the processor.
//
// Conventions beyond isa.Effect's documentation:
//   - Registers are numbered x0..x31: sp is x2, ra x1, s0 (the frame
//     pointer GCC uses) x8. x0 reads as zero and a write to it is no write.
//   - The stack moves only through addi/c.addi/c.addi16sp sp,sp,imm (SPAdd),
//     andi sp,sp,-2^n (SPAlign), addi sp,s0,imm and mv sp,s0 (SPFromFP),
//     add/sub sp,s0,rX (SPFromFP with the register in SPReg) and
//     add/sub sp,sp,rX (SPDynamic, with the register in SPReg: GCC builds
//     frames over 2 KiB as li t0,N; sub sp,sp,t0, which the frame walk
//     resolves). Any other write of sp (a load, longjmp) is SPUnknown.
//     c.addi4spn writes a register with sp plus a constant; it does not
//     move sp.
//   - addi s0,sp,imm and mv s0,sp set the frame pointer (SetsFP); addi
//     s0,s0,imm adjusts it; any other write of s0 clobbers it.
//   - jal ra and jalr ra are calls, jal x0 a jump (a tail call when its
//     target is another function), jalr x0,0(ra) a return, any other jalr
//     x0 an indirect jump. A call's auipc+jalr pair (`call`, `tail`) is
//     decoded as one instruction of 8 bytes at the auipc, with the target
//     the pair computes: alone, the jalr's target is not known. jal and
//     jalr with another link register (jal t0, __riscv_save_N: the
//     -msave-restore millicode, which moves the caller's sp) are calls
//     with AltLink set.
//   - A PLT entry's auipc t3,hi; l[wd] t3,lo(t3); jalr t1,t3 is one
//     instruction of 12 bytes: an indirect jump through the GOT slot (Slot).
//   - la sp,sym (auipc sp,hi; addi sp,sp,lo) and lui sp,hi; addi
//     sp,sp,lo are one instruction of 8 bytes that sets sp to a constant
//     (SPUnknown, the value in DefValue): a reset handler's first move,
//     which the frame walk takes for a reset when the value is the top of
//     the stack (frame.Reset). Likewise auipc sp,hi; l[wd] sp,lo(sp)
//     (`lw sp, sym`) is one instruction of 8 bytes loading sp from the
//     word at a constant address (SPUnknown, DefLoad, MemBase -1).
//   - ret is FlowReturn with CallReg ra; mret and sret return from a trap
//     (FlowReturn without CallReg: where they go is not ra's); ebreak and ecall fall
//     through (semihosting and system calls return); the all-zero halfword
//     and unimp are FlowStop.
//   - Every register an instruction writes is named in DefReg
//     (isa.CompleteDefs): a RISC-V instruction writes at most one.
//     Constants are kept as the register holds them: on RV32 a 32-bit
//     value zero-extended, on RV64 the sign-extended 64-bit value.
//   - Loads and stores with base sp or s0 are Access at base+imm.
package riscv

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/isa"
	"golang.org/x/arch/riscv64/riscv64asm"
)

// Register numbers with a special role.
const (
	regZero = 0
	regRA   = 1
	regSP   = 2
	regFP   = 8
)

// Decoder is the RISC-V isa.Decoder for one register width. It has no
// state and is safe for concurrent use.
type Decoder struct {
	// XLEN is 32 or 64; anything else is taken as 64.
	XLEN int
}

var _ isa.Decoder = Decoder{}

// New returns the decoder for RV32 (xlen 32) or RV64 (xlen 64).
func New(xlen int) Decoder { return Decoder{XLEN: xlen} }

func (d Decoder) rv32() bool { return d.XLEN == 32 }

// Name is "riscv32" or "riscv64".
func (d Decoder) Name() string {
	if d.rv32() {
		return "riscv32"
	}
	return "riscv64"
}

// ReturnAddressSize is 0: jal and jalr leave the return address in ra.
func (Decoder) ReturnAddressSize() int64 { return 0 }

// LinkRegister is ra (x1).
func (Decoder) LinkRegister() int8 { return regRA }

// CompleteDefs is true: DefReg names the one register an instruction
// writes, if any.
func (Decoder) CompleteDefs() bool { return true }

// CallerSaved are the registers a callee may change (the psABI's
// caller-saved set: ra, t0-t6, a0-a7), bit n for xn.
func (Decoder) CallerSaved() uint32 {
	return 1<<1 | 7<<5 | 0xFF<<10 | 0xF<<28
}

// pointerSize is the size of a register in bytes.
func (d Decoder) pointerSize() int64 {
	if d.rv32() {
		return 4
	}
	return 8
}

// Decode decodes the instruction at pc (code[0] is the byte at pc). It
// never panics and does not allocate except to return an error.
func (d Decoder) Decode(code []byte, pc uint64) (isa.Effect, error) {
	e, reason := d.decode(code, pc)
	if reason != "" {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: reason}
	}
	return e, nil
}

func (d Decoder) decode(code []byte, pc uint64) (isa.Effect, string) {
	if len(code) < 2 {
		return isa.Effect{}, "truncated instruction: fewer than 2 bytes"
	}
	if code[0]&3 != 3 {
		hw := binary.LittleEndian.Uint16(code)
		return d.decode16(hw, code, pc)
	}
	if code[0]&0x1C == 0x1C {
		return isa.Effect{}, "an instruction of 48 bits or more (no standard extension has one)"
	}
	if len(code) < 4 {
		return isa.Effect{}, "truncated 32-bit instruction: fewer than 4 bytes"
	}
	return d.decode32(binary.LittleEndian.Uint32(code), code, pc)
}

// operands are an instruction's general-purpose registers and immediate,
// in the base form: rd (-1: writes no general-purpose register), rs1, rs2
// (-1: not read), imm.
type operands struct {
	rd, rs1, rs2 int8
	imm          int64
}

// decode32 decodes a 32-bit instruction x.
func (d Decoder) decode32(x uint32, code []byte, pc uint64) (isa.Effect, string) {
	e := isa.Effect{Len: 4}
	switch x {
	case 0x30200073, 0x10200073: // mret, sret
		e.Flow = isa.FlowReturn
		return e, ""
	case 0x10500073: // wfi
		return e, ""
	case 0xC0001073: // unimp (csrrw x0, cycle, x0)
		e.Flow = isa.FlowStop
		return e, ""
	}
	if x&0xFE007FFF == 0x12000073 { // sfence.vma rs1, rs2
		return e, ""
	}
	inst, err := riscv64asm.Decode(code[:4])
	if err != nil {
		return isa.Effect{}, fmt.Sprintf("unknown instruction %08x", x)
	}
	if d.rv32() && rv64Only(inst.Op, x) {
		return isa.Effect{}, fmt.Sprintf("%s is an RV64 instruction, not RV32", inst.Op)
	}
	o := operands{rd: int8(x >> 7 & 31), rs1: int8(x >> 15 & 31), rs2: int8(x >> 20 & 31), imm: int64(int32(x) >> 20)}
	switch x & 0x7F {
	case 0x23, 0x27: // STORE, STORE-FP: S-type immediate
		o.imm = int64(int32(x&0xFE000000)>>20) | int64(x>>7&31)
		o.rd = -1
	case 0x63: // BRANCH
		o.imm = int64(int32(x&0x80000000)>>19) | int64(x&0x80)<<4 | int64(x>>20&0x7E0) | int64(x>>7&0x1E)
		o.rd = -1
	case 0x37, 0x17: // LUI, AUIPC
		o.imm = int64(int32(x & 0xFFFFF000))
		o.rs1, o.rs2 = -1, -1
	case 0x6F: // JAL
		o.imm = int64(int32(x&0x80000000)>>11) | int64(x&0xFF000) | int64(x>>9&0x800) | int64(x>>20&0x7FE)
		o.rs1, o.rs2 = -1, -1
	}
	if !writesGPR(inst) {
		o.rd = -1
	}
	if reason := d.effect(&e, inst.Op, o, code, pc); reason != "" {
		return isa.Effect{}, reason
	}
	return e, ""
}

// writesGPR says whether inst writes a general-purpose register: its first
// operand is one, and it is not a store or a branch (whose first operand
// is read).
func writesGPR(inst riscv64asm.Inst) bool {
	r, ok := inst.Args[0].(riscv64asm.Reg)
	if !ok || r > riscv64asm.X31 {
		return false
	}
	switch inst.Enc & 0x7F {
	case 0x23, 0x27, 0x63:
		return false
	}
	if inst.Len == 2 {
		switch inst.Op {
		case riscv64asm.SW, riscv64asm.SD, riscv64asm.FSW, riscv64asm.FSD, riscv64asm.BEQ, riscv64asm.BNE:
			return false
		}
	}
	return true
}

// rv64Only says whether op (encoding x) exists only on RV64.
func rv64Only(op riscv64asm.Op, x uint32) bool {
	switch op {
	case riscv64asm.LD, riscv64asm.SD, riscv64asm.LWU, riscv64asm.ADDIW, riscv64asm.SLLIW, riscv64asm.SRLIW, riscv64asm.SRAIW,
		riscv64asm.ADDW, riscv64asm.SUBW, riscv64asm.SLLW, riscv64asm.SRLW, riscv64asm.SRAW,
		riscv64asm.MULW, riscv64asm.DIVW, riscv64asm.DIVUW, riscv64asm.REMW, riscv64asm.REMUW,
		riscv64asm.ADD_UW, riscv64asm.SH1ADD_UW, riscv64asm.SH2ADD_UW, riscv64asm.SH3ADD_UW, riscv64asm.SLLI_UW,
		riscv64asm.CLZW, riscv64asm.CTZW, riscv64asm.CPOPW, riscv64asm.ROLW, riscv64asm.RORW, riscv64asm.RORIW,
		riscv64asm.FCVT_L_S, riscv64asm.FCVT_LU_S, riscv64asm.FCVT_S_L, riscv64asm.FCVT_S_LU,
		riscv64asm.FCVT_L_D, riscv64asm.FCVT_LU_D, riscv64asm.FCVT_D_L, riscv64asm.FCVT_D_LU,
		riscv64asm.FMV_X_D, riscv64asm.FMV_D_X:
		return true
	case riscv64asm.SLLI, riscv64asm.SRLI, riscv64asm.SRAI:
		// RV32's shift amounts have 5 bits; bit 25 (32-bit) or bit 12
		// (compressed) set is reserved.
		if x&3 == 3 {
			return x>>25&1 != 0
		}
		return x>>12&1 != 0
	}
	return isAMO64(op)
}

// isAMO64 says whether op is an atomic on doublewords (lr.d, sc.d,
// amo*.d) or amocas, which on RV32 writes a register pair.
func isAMO64(op riscv64asm.Op) bool {
	name := op.String()
	if strings.HasPrefix(name, "AMOCAS.") {
		return true
	}
	return (strings.HasPrefix(name, "AMO") || strings.HasPrefix(name, "LR.") || strings.HasPrefix(name, "SC.")) && strings.Contains(name, ".D")
}

// decode16 decodes a compressed instruction hw.
func (d Decoder) decode16(hw uint16, code []byte, pc uint64) (isa.Effect, string) {
	e := isa.Effect{Len: 2}
	if hw == 0 {
		// The all-zero halfword is defined illegal: unimp, padding.
		e.Flow = isa.FlowStop
		return e, ""
	}
	q, f3 := hw&3, hw>>13
	if q == 2 && f3 == 0 && (hw>>7&31 == 0 || hw>>7&0x20|hw>>2&0x1F == 0) {
		// c.slli to x0, or by 0 (c.slli64): HINTs, which do nothing and
		// which riscv64asm refuses.
		e.Nop = true
		return e, ""
	}
	if q == 1 && f3 == 5 { // c.j (riscv64asm misreads its offset)
		return e, d.effect(&e, riscv64asm.JAL, operands{rd: -1, rs1: -1, rs2: -1, imm: cjImm(hw)}, code, pc)
	}
	if d.rv32() {
		// The RV32 encodings riscv64asm (RV64) reads as others.
		switch {
		case q == 1 && f3 == 1: // c.jal
			imm := cjImm(hw)
			return e, d.effect(&e, riscv64asm.JAL, operands{rd: regRA, rs1: -1, rs2: -1, imm: imm}, code, pc)
		case q == 0 && (f3 == 3 || f3 == 7): // c.flw, c.fsw
			rs1 := int8(8 + hw>>7&7)
			off := int64(hw>>7&0x38 | hw<<1&0x40 | hw>>4&4)
			op := riscv64asm.FLW
			if f3 == 7 {
				op = riscv64asm.FSW
			}
			return e, d.effect(&e, op, operands{rd: -1, rs1: rs1, rs2: -1, imm: off}, code, pc)
		case q == 2 && f3 == 3: // c.flwsp
			off := int64(hw>>7&0x20 | hw>>2&0x1C | hw<<4&0xC0)
			return e, d.effect(&e, riscv64asm.FLW, operands{rd: -1, rs1: regSP, rs2: -1, imm: off}, code, pc)
		case q == 2 && f3 == 7: // c.fswsp
			off := int64(hw>>7&0x3C | hw>>1&0xC0)
			return e, d.effect(&e, riscv64asm.FSW, operands{rd: -1, rs1: regSP, rs2: -1, imm: off}, code, pc)
		}
	}
	inst, err := riscv64asm.Decode(code[:2])
	if err != nil {
		return isa.Effect{}, fmt.Sprintf("unknown compressed instruction %04x", hw)
	}
	if d.rv32() && rv64Only(inst.Op, uint32(hw)) {
		return isa.Effect{}, fmt.Sprintf("%s (compressed) is an RV64 instruction, not RV32", inst.Op)
	}
	if inst.Op == riscv64asm.CSRRW {
		// riscv64asm's reading of c.unimp; the zero halfword is handled above.
		return isa.Effect{}, fmt.Sprintf("unknown compressed instruction %04x", hw)
	}
	o := operands{rd: -1, rs1: -1, rs2: -1}
	var regs []int8
	for _, a := range inst.Args {
		switch a := a.(type) {
		case riscv64asm.Reg:
			if a <= riscv64asm.X31 {
				regs = append(regs, int8(a-riscv64asm.X0))
			} else {
				regs = append(regs, -1) // a floating-point register
			}
		case riscv64asm.RegOffset:
			o.rs1 = int8(a.OfsReg - riscv64asm.X0)
			o.imm = int64(a.Ofs.Imm)
		case riscv64asm.Simm:
			o.imm = int64(a.Imm)
		case riscv64asm.Uimm:
			o.imm = int64(a.Imm)
		}
	}
	switch inst.Op {
	case riscv64asm.SW, riscv64asm.SD, riscv64asm.FSW, riscv64asm.FSD:
		if len(regs) > 0 {
			o.rs2 = regs[0]
		}
	case riscv64asm.BEQ, riscv64asm.BNE:
		o.rs1, o.rs2 = regs[0], regs[1]
	case riscv64asm.LUI:
		o.rd = regs[0]
		o.imm = int64(int32(uint32(o.imm) << 12))
	case riscv64asm.JALR:
		o.rd = regs[0]
	default:
		if len(regs) > 0 {
			o.rd = regs[0]
		}
		if len(regs) > 1 {
			o.rs1 = regs[1]
		}
		if len(regs) > 2 {
			o.rs2 = regs[2]
		}
	}
	return e, d.effect(&e, inst.Op, o, code, pc)
}

// cjImm is the offset of a c.j/c.jal (CJ format).
func cjImm(hw uint16) int64 {
	v := int64(hw>>1&0x800 | hw<<2&0x400 | hw>>1&0x300 | hw<<1&0x80 | hw>>1&0x40 | hw<<3&0x20 | hw>>7&0x10 | hw>>2&0xE)
	return v << 52 >> 52 // sign-extend bit 11
}

// value is v as a register of the decoder's width holds it (see the
// package comment).
func (d Decoder) value(v int64) int64 {
	if d.rv32() {
		return int64(uint32(v))
	}
	return v
}

// effect fills e for the instruction op with operands o at pc.
func (d Decoder) effect(e *isa.Effect, op riscv64asm.Op, o operands, code []byte, pc uint64) string {
	if o.rs1 == regFP || o.rs2 == regFP {
		e.UsesFP = true
	}
	if o.rd == regZero {
		o.rd = -1
	}
	switch op {
	case riscv64asm.JAL:
		switch o.rd {
		case -1:
			setTarget(e, isa.FlowJump, pc, o.imm)
		case regRA:
			setTarget(e, isa.FlowCall, pc, o.imm)
		default:
			// jal t0, __riscv_save_N: millicode (see isa.Effect.AltLink).
			setTarget(e, isa.FlowCall, pc, o.imm)
			e.AltLink = true
		}
		d.write(e, o.rd, isa.DefOther, 0, 0)
		return ""
	case riscv64asm.JALR:
		switch {
		case o.rd == -1 && o.rs1 == regRA && o.imm == 0:
			// ret: CallReg says it goes through ra (mret does not).
			e.Flow, e.CallReg, e.HasCallReg = isa.FlowReturn, regRA, true
		case o.rd == -1:
			e.Flow = isa.FlowIndirectJump
		case o.rd == regRA:
			e.Flow = isa.FlowIndirectCall
		default:
			e.Flow, e.AltLink = isa.FlowIndirectCall, true
		}
		if o.imm == 0 {
			e.CallReg, e.HasCallReg = o.rs1, true
		}
		d.write(e, o.rd, isa.DefOther, 0, 0)
		return ""
	case riscv64asm.BEQ, riscv64asm.BNE, riscv64asm.BLT, riscv64asm.BGE, riscv64asm.BLTU, riscv64asm.BGEU:
		setTarget(e, isa.FlowCondJump, pc, o.imm)
		return ""
	case riscv64asm.EBREAK, riscv64asm.ECALL:
		// Both return to the next instruction in the cases that matter
		// (semihosting, system calls); a path that falls past a trap
		// only walks more code.
		return ""
	case riscv64asm.AUIPC:
		return d.auipc(e, o, code, pc)
	case riscv64asm.LUI:
		if v, ok := d.spConstant(o.rd, d.value(o.imm), code); ok && len(code) >= 8 && code[0]&3 == 3 {
			v(e)
			e.DefKind = isa.DefConst
			return ""
		}
		d.write(e, o.rd, isa.DefConst, d.value(o.imm), 0)
		d.pairRef(e, o.rd, d.value(o.imm), code)
		return ""
	case riscv64asm.ADDI, riscv64asm.ADDIW:
		return d.addi(e, op, o)
	case riscv64asm.ANDI:
		if n := -o.imm; o.rd == regSP && o.rs1 == regSP && n > 0 && n&(n-1) == 0 {
			e.SP, e.SPAlignment = isa.SPAlign, -o.imm
			e.DefKind, e.DefReg = isa.DefOther, regSP
			return ""
		}
	case riscv64asm.ADD, riscv64asm.SUB:
		return d.addReg(e, op, o)
	case riscv64asm.SLLI:
		if o.rs1 != regZero {
			d.write(e, o.rd, isa.DefShl, o.imm, o.rs1)
			return ""
		}
	}
	if size, store, ok := memSize(op); ok {
		d.memory(e, op, o, size, store)
		return ""
	}
	d.write(e, o.rd, isa.DefOther, 0, 0)
	return ""
}

func setTarget(e *isa.Effect, f isa.Flow, pc uint64, off int64) {
	e.Flow, e.HasTarget, e.Target = f, true, pc+uint64(off)
}

// write records that register rd (-1: none) is written with kind, value
// and source, and what that does to sp and the frame pointer.
func (d Decoder) write(e *isa.Effect, rd int8, kind isa.DefKind, value int64, src int8) {
	if rd < 0 {
		return
	}
	if e.DefKind != isa.DefNone && e.DefReg != rd {
		e.DefAlso |= 1 << uint(e.DefReg)
	}
	e.DefKind, e.DefReg, e.DefValue, e.DefSrc = kind, rd, value, src
	switch rd {
	case regSP:
		if e.SP == isa.SPNone {
			e.SP = isa.SPUnknown
		}
	case regFP:
		if !e.SetsFP && !e.AdjustsFP {
			e.ClobbersFP = true
		}
		e.UsesFP = true
	}
}

// auipc decodes auipc rd,imm, and with it the jalr after it that jumps
// through rd (`call`, `tail`: the pair is one instruction of 8 bytes).
func (d Decoder) auipc(e *isa.Effect, o operands, code []byte, pc uint64) string {
	addr := d.value(int64(pc) + o.imm)
	if v, ok := d.spConstant(o.rd, addr, code); ok {
		return v(e)
	}
	if d.spLoad(e, o.rd, addr, code) {
		return ""
	}
	if d.pltStub(e, o.rd, addr, code) {
		return ""
	}
	if o.rd >= 0 && len(code) >= 8 {
		x := binary.LittleEndian.Uint32(code[4:])
		rd, rs1 := int8(x>>7&31), int8(x>>15&31)
		if x&0x707F == 0x67 && rs1 == o.rd && (rd == regZero || rd == regRA) {
			e.Len = 8
			target := uint64(d.value(addr + int64(int32(x)>>20)))
			if rd == regRA {
				e.Flow = isa.FlowCall
			} else {
				e.Flow = isa.FlowJump
			}
			e.HasTarget, e.Target = true, target
			if rd == regRA {
				if o.rd != regRA {
					d.write(e, o.rd, isa.DefAddr, addr, 0)
				}
				d.write(e, regRA, isa.DefOther, 0, 0)
			} else {
				d.write(e, o.rd, isa.DefAddr, addr, 0)
			}
			return ""
		}
	}
	d.write(e, o.rd, isa.DefAddr, addr, 0)
	d.pairRef(e, o.rd, addr, code)
	return ""
}

// pairRef sets Ref when the instruction after a lui or auipc of rd (high:
// the value it leaves) is addi rd,rd,lo: the pair builds an address (`la`,
// `lui a0,%hi(f); addi a0,a0,%lo(f)`), which may be a function's whose
// address is taken.
func (d Decoder) pairRef(e *isa.Effect, rd int8, high int64, code []byte) {
	if rd <= 0 || len(code) < 8 || code[0]&3 != 3 {
		return
	}
	x := binary.LittleEndian.Uint32(code[4:])
	if x&0x707F == 0x13 && int8(x>>7&31) == rd && int8(x>>15&31) == rd {
		e.HasRef, e.Ref = true, uint64(d.value(high+int64(int32(x)>>20)))
	}
}

// addi decodes addi/addiw rd,rs1,imm (and the compressed forms riscv64asm
// gives as addi: c.addi, c.li, c.addi16sp, c.addi4spn, c.nop).
func (d Decoder) addi(e *isa.Effect, op riscv64asm.Op, o operands) string {
	switch {
	case o.rd == -1:
		e.Nop = o.rs1 == regZero && o.imm == 0
		return ""
	case op == riscv64asm.ADDI && o.rd == regSP && o.rs1 == regSP:
		e.SP, e.SPDelta = isa.SPAdd, o.imm
		e.DefKind, e.DefReg, e.DefValue, e.DefSrc = isa.DefAddImm, regSP, o.imm, regSP
		return ""
	case op == riscv64asm.ADDI && o.rd == regSP && o.rs1 == regFP:
		e.SP, e.SPDelta = isa.SPFromFP, o.imm
		e.DefKind, e.DefReg, e.DefValue, e.DefSrc = isa.DefAddImm, regSP, o.imm, regFP
		return ""
	case op == riscv64asm.ADDI && o.rd == regFP && o.rs1 == regSP:
		e.SetsFP, e.FPOffset = true, o.imm
	case op == riscv64asm.ADDI && o.rd == regFP && o.rs1 == regFP:
		e.AdjustsFP, e.FPDelta = true, o.imm
	}
	if o.rs1 == regZero {
		d.write(e, o.rd, isa.DefConst, d.value(o.imm), 0)
		return ""
	}
	if o.imm == 0 && op == riscv64asm.ADDI {
		// mv rd, rs (the 32-bit form): a copy, as c.mv is.
		if o.rd == regSP && o.rs1 != regSP && o.rs1 != regFP {
			d.write(e, o.rd, isa.DefCopy, 0, o.rs1)
			return ""
		}
		if o.rd != regSP && o.rd != regFP {
			d.write(e, o.rd, isa.DefCopy, 0, o.rs1)
			return ""
		}
	}
	d.write(e, o.rd, isa.DefAddImm, o.imm, o.rs1)
	return ""
}

// addReg decodes add/sub rd,rs1,rs2 (and c.mv, c.add, c.sub).
func (d Decoder) addReg(e *isa.Effect, op riscv64asm.Op, o operands) string {
	if o.rd == -1 {
		return ""
	}
	// The register copied when the other operand is x0 (mv is add rd,x0,rs).
	copied := int8(-1)
	switch {
	case op == riscv64asm.ADD && o.rs1 == regZero:
		copied = o.rs2
	case o.rs2 == regZero:
		copied = o.rs1
	}
	if o.rd == regSP && copied == regSP {
		return "" // mv sp, sp
	}
	if o.rd == regSP {
		switch {
		case copied == regFP:
			e.SP = isa.SPFromFP
		case o.rs1 == regSP && copied < 0 && o.rs2 != regSP:
			// add/sub sp,sp,rX: by a register's value.
			e.SP, e.SPReg, e.HasSPReg, e.SPRegSub = isa.SPDynamic, o.rs2, true, op == riscv64asm.SUB
		case op == riscv64asm.ADD && o.rs2 == regSP && copied < 0 && o.rs1 != regSP:
			e.SP, e.SPReg, e.HasSPReg = isa.SPDynamic, o.rs1, true
		case copied < 0 && o.rs1 == regFP && o.rs2 != regSP && o.rs2 != regFP:
			// add/sub sp,s0,rX: an epilogue restoring a frame over 2 KiB
			// from the frame pointer (lui t0,-1; addi t0,t0,N; add
			// sp,s0,t0), resolved by the frame walk from rX's constant.
			e.SP, e.SPReg, e.HasSPReg, e.SPRegSub = isa.SPFromFP, o.rs2, true, op == riscv64asm.SUB
		case op == riscv64asm.ADD && copied < 0 && o.rs2 == regFP && o.rs1 != regSP && o.rs1 != regFP:
			e.SP, e.SPReg, e.HasSPReg = isa.SPFromFP, o.rs1, true
		}
	}
	if o.rd == regFP && copied == regSP {
		e.SetsFP = true
	}
	switch {
	case copied == regZero || (op == riscv64asm.SUB && o.rs1 == o.rs2):
		d.write(e, o.rd, isa.DefConst, 0, 0)
	case copied >= 0:
		d.write(e, o.rd, isa.DefCopy, 0, copied)
	case op == riscv64asm.ADD:
		d.write(e, o.rd, isa.DefAddIndex, 0, o.rs1)
		e.DefIndex = o.rs2
	default:
		d.write(e, o.rd, isa.DefOther, 0, 0)
	}
	return ""
}

// memory decodes a load or store of size bytes at o.rs1+o.imm.
func (d Decoder) memory(e *isa.Effect, op riscv64asm.Op, o operands, size int64, store bool) {
	switch o.rs1 {
	case regSP:
		e.Access, e.AccessOff, e.AccessSize = isa.BaseSP, o.imm, size
	case regFP:
		e.Access, e.AccessOff, e.AccessSize = isa.BaseFP, o.imm, size
	}
	if store {
		if size == d.pointerSize() && o.rs2 > 0 && !isFloatStore(op) {
			e.HasStore, e.StoreSrc = true, o.rs2
		}
		return
	}
	if o.rd < 0 {
		return
	}
	if size == d.pointerSize() && (op == riscv64asm.LW || op == riscv64asm.LD) {
		d.write(e, o.rd, isa.DefLoad, 0, 0)
		e.HasMem, e.MemBase, e.MemIndex, e.MemDisp = true, o.rs1, -1, o.imm
		if o.rs1 == regZero {
			e.MemBase = -1
		}
		return
	}
	d.write(e, o.rd, isa.DefOther, 0, 0)
}

func isFloatStore(op riscv64asm.Op) bool {
	return op == riscv64asm.FSW || op == riscv64asm.FSD || op == riscv64asm.FSH || op == riscv64asm.FSQ
}

// memSize says whether op is a scalar load or store with a base register
// and an immediate offset, and of how many bytes.
func memSize(op riscv64asm.Op) (size int64, store, ok bool) {
	switch op {
	case riscv64asm.LB, riscv64asm.LBU:
		return 1, false, true
	case riscv64asm.LH, riscv64asm.LHU, riscv64asm.FLH:
		return 2, false, true
	case riscv64asm.LW, riscv64asm.LWU, riscv64asm.FLW:
		return 4, false, true
	case riscv64asm.LD, riscv64asm.FLD:
		return 8, false, true
	case riscv64asm.FLQ:
		return 16, false, true
	case riscv64asm.SB:
		return 1, true, true
	case riscv64asm.SH, riscv64asm.FSH:
		return 2, true, true
	case riscv64asm.SW, riscv64asm.FSW:
		return 4, true, true
	case riscv64asm.SD, riscv64asm.FSD:
		return 8, true, true
	case riscv64asm.FSQ:
		return 16, true, true
	}
	return 0, false, false
}

// StackRegister is sp (x2).
func (Decoder) StackRegister() int8 { return regSP }

// spConstant recognises `la sp, sym` (auipc sp,hi; addi sp,sp,lo) and
// `lui sp,hi; addi sp,sp,lo` at the start of code, whose first part
// (auipc or lui, the caller's) leaves high in sp: the pair sets sp to a
// constant, as a reset handler does. It returns the function that fills
// the effect of the pair, one instruction of 8 bytes: SPUnknown, with the
// constant in DefValue (DefAddr; the lui form sets DefConst after).
func (d Decoder) spConstant(rd int8, high int64, code []byte) (func(*isa.Effect) string, bool) {
	if rd != regSP || len(code) < 8 || code[0]&3 != 3 {
		return nil, false
	}
	x := binary.LittleEndian.Uint32(code[4:])
	// addi sp, sp, imm
	if x&0x000FFFFF != 0x00010113 {
		return nil, false
	}
	v := d.value(high + int64(int32(x)>>20))
	return func(e *isa.Effect) string {
		e.Len = 8
		e.SP = isa.SPUnknown
		e.DefKind, e.DefReg, e.DefValue = isa.DefAddr, regSP, v
		return ""
	}, true
}

// spLoad recognises `lw sp, sym` (ld on RV64: auipc sp,hi; l[wd]
// sp,lo(sp)) at the start of code: the pair loads sp from the word at a
// constant address, as an RTOS's trap handler switches to its interrupt
// stack (FreeRTOS's load_x sp, xISRStackTop). Alone, the auipc would set
// sp to an address nobody means as a stack. The pair is one instruction of
// 8 bytes: SPUnknown, a DefLoad of sp from the absolute address (HasMem,
// MemBase -1, MemDisp the address).
func (d Decoder) spLoad(e *isa.Effect, rd int8, high int64, code []byte) bool {
	if rd != regSP || len(code) < 8 || code[0]&3 != 3 {
		return false
	}
	x := binary.LittleEndian.Uint32(code[4:])
	funct3 := uint32(2) // lw
	if d.pointerSize() == 8 {
		funct3 = 3 // ld
	}
	// l[wd] sp, imm(sp)
	if x&0x000FFFFF != 0x00010103|funct3<<12 {
		return false
	}
	e.Len = 8
	e.SP = isa.SPUnknown
	d.write(e, regSP, isa.DefLoad, 0, 0)
	e.HasMem, e.MemBase, e.MemIndex, e.MemDisp = true, -1, -1, d.value(high+int64(int32(x)>>20))
	return true
}

// pltStub recognises a PLT entry's jump through its GOT slot, auipc
// t3,hi; l[wd] t3,lo(t3); jalr t1,t3 (or jr t3), and decodes the three as
// one instruction of 12 bytes: an indirect jump through the word at Slot.
// (The link into t1 is for the lazy-binding resolver; ra is kept, so the
// stub is a tail call of the function the slot holds.)
func (d Decoder) pltStub(e *isa.Effect, rd int8, addr int64, code []byte) bool {
	if rd <= 0 || len(code) < 12 || code[4]&3 != 3 || code[8]&3 != 3 {
		return false
	}
	ld := binary.LittleEndian.Uint32(code[4:])
	jr := binary.LittleEndian.Uint32(code[8:])
	load := uint32(0x2003) // lw
	if !d.rv32() {
		load = 0x3003 // ld
	}
	if ld&0x707F != load || int8(ld>>7&31) != rd || int8(ld>>15&31) != rd {
		return false
	}
	link := int8(jr >> 7 & 31)
	if jr&0xFFF0707F != 0x67 || int8(jr>>15&31) != rd || (link != regZero && link != 6) {
		return false
	}
	slot := uint64(d.value(addr + int64(int32(ld)>>20)))
	e.Len = 12
	e.Flow = isa.FlowIndirectJump
	e.HasSlot, e.Slot = true, slot
	e.CallReg, e.HasCallReg = rd, true
	d.write(e, rd, isa.DefLoad, 0, 0)
	e.HasMem, e.MemBase, e.MemIndex, e.MemDisp = true, -1, -1, int64(slot)
	if link != regZero {
		d.write(e, link, isa.DefOther, 0, 0)
	}
	return true
}
