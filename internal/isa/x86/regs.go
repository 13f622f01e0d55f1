package x86

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// allRegs is MayWrite's answer for an instruction it cannot describe.
const allRegs = 0xFFFF

// MayWrite returns the general-purpose registers (bit n for register n,
// numbered as isa.Effect.DefReg) the instruction at pc may write: its
// written register operands, and the registers some instructions write
// without naming them (mul's rdx, cpuid's rbx, syscall's rcx and r11,
// the string instructions' rsi, rdi and rcx, ...). It errs towards more:
// a register operand of an instruction not known to only read it counts
// as written, and an instruction x86asm does not decode writes all. See
// isa.RegWriter.
func (Decoder) MayWrite(code []byte, pc uint64) uint32 {
	if m, ok := mayWriteHot(code); ok {
		return m
	}
	return mayWriteSlow(code)
}

// mayWriteHot is MayWrite for the instructions decodeHot takes, read
// from its Effect (about a fifth of x86asm's cost; the frame walk asks
// MayWrite at every instruction while a register holds a copy of SP):
// the register its Def names, rsp for what moves SP (push, pop, call,
// ret, leave, add and sub rsp), rbp for what sets or clobbers it, and
// rax and rdx for imul, which MayWrite counts for every form of it.
// decodeHot describes every register its forms write (Def), and checkHot
// compares this with mayWriteSlow wherever decodeHot takes an
// instruction. ok is false for the rest.
func mayWriteHot(code []byte) (mask uint32, ok bool) {
	var e isa.Effect
	if !decodeHot(code, 0, &e) || e.DefKind == isa.DefNone && hotWritesUndescribed(code) {
		return 0, false
	}
	if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 {
		mask |= 1 << uint(e.DefReg)
	}
	if e.SP != isa.SPNone || e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall || e.Flow == isa.FlowReturn {
		mask |= wRSP
	}
	if e.SetsFP || e.ClobbersFP {
		mask |= wRBP
	}
	op := code[0]
	if op&0xF0 == 0x40 {
		op = code[1] // (decodeHot took it: there is a byte after REX)
	}
	if op == 0x69 || op == 0x6B || op == 0x0F && hotIsImul0F(code) {
		mask |= wRAX | wRDX
	}
	return mask, true
}

// hotWritesUndescribed says whether code, an instruction decodeHot
// took, is one whose register write its Def leaves undescribed (setcc
// and mov r/m8, imm8 on a register), or int3, which x86asm does not
// decode (MayWrite: every register): mayWriteSlow answers for them.
func hotWritesUndescribed(code []byte) bool {
	p := 0
	if code[0]&0xF0 == 0x40 {
		p = 1
	}
	switch code[p] {
	case 0xCC, 0xC6:
		return true
	case 0x0F:
		return p+1 < len(code) && code[p+1]&0xF0 == 0x90
	}
	return false
}

// hotIsImul0F says whether code, a 0F xx instruction decodeHot took
// (after an optional REX), is imul r, r/m (0F AF).
func hotIsImul0F(code []byte) bool {
	p := 0
	if code[0]&0xF0 == 0x40 {
		p = 1
	}
	return p+1 < len(code) && code[p] == 0x0F && code[p+1] == 0xAF
}

// mayWriteSlow is MayWrite through x86asm's decoding.
func mayWriteSlow(code []byte) (mask uint32) {
	defer func() {
		if recover() != nil {
			mask = allRegs
		}
	}()
	if len(code) == 0 {
		return allRegs
	}
	inst, err := x86Decode(code, 64)
	if err != nil || inst.Op == 0 {
		if reservedNop(code) {
			return 0
		}
		return allRegs
	}
	for i, a := range inst.Args {
		if a == nil {
			break
		}
		r, ok := a.(x86asm.Reg)
		if !ok {
			continue
		}
		n, gp := gpNumber(r)
		if !gp {
			continue
		}
		switch {
		case i == 0 && !readOnlyFirst(inst.Op) && !(inst.Op == x86asm.IMUL && inst.Args[1] == nil),
			i == 1 && (writesSecond(inst.Op) || inst.Op == x86asm.CMPXCHG):
			mask |= 1 << n
		}
	}
	return mask | implicitWrites(inst.Op)
}

// reservedNop says whether code starts with an instruction of the
// reserved-NOP space (0F 0D, 0F 18-1F: endbr64, nop r/m, hints) that
// writes no register. rdssp (F3 0F 1E /1, register form) writes one and is
// left out.
func reservedNop(code []byte) bool {
	p := 0
	rep := false
	for p < len(code) && p < 14 {
		switch code[p] {
		case 0x66, 0x67, 0xF2, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65:
			p++
			continue
		case 0xF3:
			rep = true
			p++
			continue
		}
		break
	}
	if p < len(code) && code[p]&0xF0 == 0x40 {
		p++
	}
	if p+2 >= len(code) || code[p] != 0x0F {
		return false
	}
	op, modrm := code[p+1], code[p+2]
	if op == 0x1E && rep && modrm>>6 == 3 && (modrm>>3)&7 == 1 {
		return false
	}
	return op == 0x0D || op >= 0x18 && op <= 0x1F
}

// gpNumber is the number of the 64-bit register a general-purpose
// register operand of any size is part of.
func gpNumber(r x86asm.Reg) (uint, bool) {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return uint(r - x86asm.RAX), true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return uint(r - x86asm.EAX), true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return uint(r - x86asm.AX), true
	case r >= x86asm.AL && r <= x86asm.BL:
		return uint(r - x86asm.AL), true
	case r >= x86asm.AH && r <= x86asm.BH:
		return uint(r - x86asm.AH), true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return uint(r-x86asm.SPB) + 4, true
	}
	return 0, false
}

const (
	wRAX = 1 << 0
	wRCX = 1 << 1
	wRDX = 1 << 2
	wRBX = 1 << 3
	wRSP = 1 << 4
	wRBP = 1 << 5
	wRSI = 1 << 6
	wRDI = 1 << 7
	wR11 = 1 << 11
)

// implicitWrites are the registers an instruction writes without naming
// them as operands.
func implicitWrites(op x86asm.Op) uint32 {
	switch op {
	case x86asm.MUL, x86asm.IMUL, x86asm.DIV, x86asm.IDIV, x86asm.CWD, x86asm.CDQ, x86asm.CQO,
		x86asm.RDTSC, x86asm.RDMSR, x86asm.RDPMC, x86asm.XGETBV, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		return wRAX | wRDX
	case x86asm.RDTSCP:
		return wRAX | wRDX | wRCX
	case x86asm.CPUID:
		return wRAX | wRBX | wRCX | wRDX
	case x86asm.SYSCALL:
		return wRAX | wRCX | wR11
	case x86asm.CBW, x86asm.CWDE, x86asm.CDQE, x86asm.LAHF, x86asm.XLATB, x86asm.CMPXCHG,
		x86asm.IN, x86asm.INSB, x86asm.INSW, x86asm.INSD:
		return wRAX | wRDI | wRCX
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return wRCX
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return wRSI | wRDI | wRCX
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		return wRDI | wRCX
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		return wRAX | wRSI | wRCX
	case x86asm.ENTER, x86asm.LEAVE:
		return wRBP | wRSP
	case x86asm.PUSH, x86asm.POP, x86asm.PUSHF, x86asm.POPF, x86asm.PUSHFQ, x86asm.POPFQ, x86asm.CALL, x86asm.RET:
		return wRSP
	case x86asm.SYSENTER, x86asm.SYSEXIT, x86asm.SYSRET, x86asm.INT, x86asm.INTO, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.XRSTOR, x86asm.XRSTOR64, x86asm.XRSTORS, x86asm.XRSTORS64, x86asm.RSM:
		return allRegs
	}
	return 0
}
