package x86

import (
	"golang.org/x/arch/x86/x86asm"
)

// Operands says where one instruction's values come from and go, as far
// as a data flow that follows values through the stack frame needs it
// (callgraph's stack slots): which general-purpose registers it reads as
// values, the register its result goes to, and its memory operand.
// Registers are numbered as isa.Effect.DefReg.
type Operands struct {
	// Reads are the registers read as values (bit n for register n):
	// explicit register operands that are read (the first one unless the
	// instruction only writes it), and lea's base and index, whose sum is
	// the value it computes. A memory operand's base and index used to
	// address memory are not in Reads. Implicit operands (push's rsp,
	// the string instructions' rsi and rdi) are not either.
	Reads uint32
	// Dest is the register the result is written to (the first operand,
	// when it is a register and the instruction writes it), -1 for none
	// (a store, a compare, a push).
	Dest int8
	// Safe says the values read reach only Dest and the flags: mov, lea,
	// add, sub, and, cmp, test. Anything else (xchg, xadd, push of a
	// register, cmpxchg, an instruction not listed) may put a value read
	// somewhere else.
	Safe bool
	// HasMem: the instruction has a memory operand [MemBase +
	// MemIndex*scale + MemDisp] that it reads or writes (not lea's, not a
	// hint's); MemBase and MemIndex are -1 for none (rip-relative: -1).
	HasMem   bool
	MemBase  int8
	MemIndex int8
	MemDisp  int64
	// MemWrite: the instruction may write its memory operand; MemSize is
	// the number of bytes it reads or writes there (0: not known).
	MemWrite bool
	MemSize  int64
	// Enter is set for enter, which pushes rbp and copies rsp into it
	// without naming either.
	Enter bool
}

// DecodeOperands decodes the instruction at the start of code. ok is
// false when x86asm cannot decode it (the caller then knows nothing of
// what it reads or writes).
func DecodeOperands(code []byte) (ops Operands, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	inst, err := x86Decode(code, 64)
	if err != nil || inst.Op == 0 {
		return Operands{}, false
	}
	ops = Operands{Dest: -1, MemBase: -1, MemIndex: -1, Enter: inst.Op == x86asm.ENTER}
	switch inst.Op {
	case x86asm.MOV, x86asm.LEA, x86asm.ADD, x86asm.SUB, x86asm.AND, x86asm.CMP, x86asm.TEST:
		ops.Safe = true
	}
	writeOnlyFirst := false
	switch inst.Op {
	case x86asm.MOV, x86asm.LEA, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.POP, x86asm.MOVQ, x86asm.MOVD:
		writeOnlyFirst = true
	}
	for i, a := range inst.Args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			n, gp := gpNumber(a)
			if !gp {
				continue
			}
			writes := i == 0 && !readOnlyFirst(inst.Op) || i == 1 && (writesSecond(inst.Op) || inst.Op == x86asm.CMPXCHG)
			if i == 0 && writes {
				ops.Dest = int8(n)
			}
			if !(i == 0 && writeOnlyFirst) {
				ops.Reads |= 1 << n
			}
		case x86asm.Mem:
			base, index := int8(-1), int8(-1)
			if n, gp := gpNumber(a.Base); gp {
				base = int8(n)
			}
			if n, gp := gpNumber(a.Index); gp {
				index = int8(n)
			}
			if inst.Op == x86asm.LEA {
				for _, r := range []int8{base, index} {
					if r >= 0 {
						ops.Reads |= 1 << uint(r)
					}
				}
				continue
			}
			if noAccess(inst.Op) {
				continue
			}
			ops.HasMem = true
			ops.MemBase, ops.MemIndex, ops.MemDisp = base, index, a.Disp
			if base >= 0 || index >= 0 {
				// x86asm gives a disp32 unsigned; the CPU adds it
				// sign-extended.
				ops.MemDisp = sext32(a.Disp)
			}
			ops.MemSize = memSize(&inst)
			// The first operand is the destination (Intel order), and
			// xchg and xadd write their second too; cmp, test and bt
			// only read theirs.
			ops.MemWrite = i == 0 && !readOnlyFirst(inst.Op) || i == 1 && writesSecond(inst.Op)
		}
	}
	return ops, true
}

// MayWriteMemory says whether the instruction at the start of code may
// write its memory operand: x86asm's operands, and true when x86asm
// cannot decode it or sees no memory operand (see isa.MemWriter).
func (Decoder) MayWriteMemory(code []byte, pc uint64) bool {
	ops, ok := DecodeOperands(code)
	return !ok || !ops.HasMem || ops.MemWrite
}
