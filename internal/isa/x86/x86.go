// Package x86 decodes x86-64 machine code into the stack and control-flow
// effects the analysis needs (isa.Effect).
//
// The common general-purpose instructions (about 90% of compiled code) are
// decoded by a small hand-written fast path (fast.go) that neither allocates
// nor goes through x86asm's table interpreter. Everything else is decoded by
// golang.org/x/arch/x86/x86asm in 64-bit mode and classified here, and the
// few encodings x86asm rejects but compilers, linkers and OpenSSL's assembly
// emit (endbr64, addr32 call, VEX after a 67/3E prefix, adcx/adox, rdseed,
// XOP, ...) are handled by extra.go. The fast path reports exactly what the
// x86asm path would; the tests check that at every byte offset of libc.
package x86

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// Decoder is the x86-64 isa.Decoder. Its zero value is ready to use and it is
// safe for concurrent use (it has no state).
type Decoder struct{}

var _ isa.Decoder = Decoder{}

// ReturnAddressSize is 8: a near call pushes the 8-byte return address.
func (Decoder) ReturnAddressSize() int64 { return 8 }

// Name is "x86-64".
func (Decoder) Name() string { return "x86-64" }

// x86Decode is x86asm.Decode; a variable so that a test can make it panic.
var x86Decode = x86asm.Decode

// Register families: which x86asm registers alias rsp and rbp.
func isSPReg(r x86asm.Reg) bool {
	return r == x86asm.RSP || r == x86asm.ESP || r == x86asm.SP || r == x86asm.SPB
}

func isFPReg(r x86asm.Reg) bool {
	return r == x86asm.RBP || r == x86asm.EBP || r == x86asm.BP || r == x86asm.BPB
}

// Decode decodes the instruction at pc (code[0] is its first byte) and
// reports its length, its effect on rsp and rbp, its stack memory access and
// its control flow. See isa.Effect.
//
// Conventions beyond isa.Effect's documentation:
//   - AccessOff is relative to the value the base register had before the
//     instruction (for pop [rsp+d] the CPU computes the address after the
//     increment, so AccessOff is d plus the pop size).
//   - The implicit stack slot written by push/call and read by pop/ret is not
//     an Access; push/pop are described by SPAdd alone.
//   - Ref is set for lea r,[rip+X] and for mov r,imm with imm >= 0x10000
//     (a function address in a non-PIE executable, or just a number: the
//     consumer keeps only the values that are function entries).
//   - SavesSPLimit is reported for lea r64,[rsp-N] (N > 0) only: a lea with a
//     non-negative displacement is taking the address of a local, not setting
//     a probe-loop limit.
func (d Decoder) Decode(code []byte, pc uint64) (isa.Effect, error) {
	var eff isa.Effect
	err := d.DecodeInto(code, pc, &eff)
	return eff, err
}

// DecodeInto is Decode writing the Effect to *eff (isa.IntoDecoder): the
// frame walk decodes straight into its table of instructions.
func (Decoder) DecodeInto(code []byte, pc uint64, eff *isa.Effect) error {
	// (A call small enough to inline: an interface holding a Decoder
	// calls the generated pointer wrapper (*Decoder).DecodeInto, which
	// then calls decodeInto itself instead of a second wrapper level.)
	return decodeInto(code, pc, eff)
}

// IntoFunc returns decodeInto (isa.IntoFuncDecoder).
func (Decoder) IntoFunc() isa.IntoFunc { return decodeInto }

// decodeInto is DecodeInto.
func decodeInto(code []byte, pc uint64, eff *isa.Effect) error {
	*eff = isa.Effect{}
	if decodeHot(code, pc, eff) {
		return nil // (no nop among them)
	}
	if decodeFastParse(code, pc, eff, true) {
		if mayBeNop(code[0]) { // (most instructions start otherwise)
			eff.Nop = isNop(code[:eff.Len])
		}
		return nil
	}
	var err error
	*eff, err = decodeSlow(code, pc)
	if err == nil {
		eff.Nop = isNop(code[:eff.Len])
		setDef(code, pc, eff)
	}
	return err
}

// DecodeSweep is DecodeInto without setDef and isNop
// (isa.SweepDecoder): neither changes the length, flow, target, slot or
// reference, nor the error. (decodeHot, which sets them, costs less
// than decodeFast without them.)
func (Decoder) DecodeSweep(code []byte, pc uint64, eff *isa.Effect) error {
	*eff = isa.Effect{}
	if decodeHot(code, pc, eff) || decodeFast(code, pc, eff) {
		return nil
	}
	var err error
	*eff, err = decodeSlow(code, pc)
	return err
}

// mayBeNop says whether an instruction that starts with byte b can be one
// isNop recognises (asked first: most instructions start otherwise).
func mayBeNop(b byte) bool {
	return nopStarts[b]
}

// nopStarts marks the bytes a nop can start with: 90, 0F and the
// prefixes isNop skips (a table: five compares for every instruction).
var nopStarts = [256]bool{0x90: true, 0x0F: true, 0x66: true, 0x2E: true, 0x3E: true}

// isNop recognises the no-operation forms compilers pad with: 90 and
// 0F 1F /0, behind any number of 66, 2E and 3E prefixes.
func isNop(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == 0x66 || b[i] == 0x2E || b[i] == 0x3E) {
		i++
	}
	if i < len(b) && b[i] == 0x90 {
		return i+1 == len(b)
	}
	return i+2 < len(b) && b[i] == 0x0F && b[i+1] == 0x1F && (b[i+2]>>3)&7 == 0
}

// decodeSlow decodes with x86asm (plus decodeExtra for what it rejects).
func decodeSlow(code []byte, pc uint64) (eff isa.Effect, err error) {
	// x86asm is a table-driven decoder that has been known to index out of
	// range on malformed input (the fuzz test exercises it). The Decoder
	// contract says Decode never panics, so a panic inside x86asm becomes a
	// DecodeError for this instruction only.
	defer func() {
		if r := recover(); r != nil {
			eff = isa.Effect{}
			err = &isa.DecodeError{PC: pc, Reason: "x86asm panicked on this encoding"}
		}
	}()
	if len(code) == 0 {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "no bytes"}
	}
	inst, derr := x86Decode(code, 64)
	if derr != nil || inst.Op == 0 {
		// x86asm reports a prefix followed by something it cannot decode as
		// a one-byte instruction with Op 0; for us that is a failure too,
		// unless it is one of the encodings handled by decodeExtra.
		if e, ok := decodeExtra(code, pc); ok {
			return e, nil
		}
		reason := "unrecognized instruction"
		if derr != nil {
			reason = derr.Error()
		}
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: reason}
	}
	if inst.Op == x86asm.RDRAND {
		// x86asm decodes rdrand without its register operand.
		if e, ok := decodeExtra(code, pc); ok {
			return e, nil
		}
	}
	if inst.Op == x86asm.VZEROUPPER || inst.Op == x86asm.VZEROALL {
		// x86asm v0.32.0 decodes every VEX instruction as if it had a ModRM
		// byte; vzeroupper/vzeroall (VEX 0F 77) have none.
		if !fixVZero(&inst, code) {
			return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "malformed vzeroupper"}
		}
	}
	if inst.Len < 1 || inst.Len > 15 || inst.Len > len(code) {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "bad instruction length"}
	}
	classify(&inst, pc, &eff)
	return eff, nil
}

// sext32 sign-extends a 32-bit displacement. x86asm stores disp32 zero-extended
// in Mem.Disp (disp8 is sign-extended); in 64-bit mode every displacement is at
// most 32 bits except the moffs64 of mov al/ax/eax/rax (A0-A3), which has no
// base and no index and is never interpreted here.
func sext32(d int64) int64 { return int64(int32(d)) }

// popSize is the number of bytes a push or pop moves rsp by: 2 with a 0x66
// operand-size prefix, else 8 (x86asm reports DataSize 32 for the default).
func popSize(inst *x86asm.Inst) int64 {
	if inst.DataSize == 16 {
		return 2
	}
	return 8
}

// relTarget is the absolute target of a relative branch.
func relTarget(inst *x86asm.Inst, pc uint64, rel x86asm.Rel) uint64 {
	return pc + uint64(inst.Len) + uint64(int64(rel))
}

// slotOf returns the absolute address of a memory operand that does not depend
// on any register but rip: [rip+d] and [d32]. Segment-overridden operands
// (fs:, gs:) are not fixed addresses.
func slotOf(inst *x86asm.Inst, pc uint64, m x86asm.Mem) (uint64, bool) {
	if m.Index != 0 || m.Segment == x86asm.FS || m.Segment == x86asm.GS {
		return 0, false
	}
	next := pc + uint64(inst.Len)
	switch m.Base {
	case x86asm.RIP:
		return next + uint64(sext32(m.Disp)), true
	case x86asm.EIP:
		return uint64(uint32(next + uint64(sext32(m.Disp)))), true
	case 0:
		return uint64(sext32(m.Disp)), true
	}
	return 0, false
}

// branchFlow fills Flow, Target and Slot for call/jmp with operand a.
func branchFlow(inst *x86asm.Inst, pc uint64, a x86asm.Arg, direct, indirect isa.Flow, eff *isa.Effect) {
	switch a := a.(type) {
	case x86asm.Rel:
		eff.Flow = direct
		eff.Target = relTarget(inst, pc, a)
		eff.HasTarget = true
	case x86asm.Mem:
		eff.Flow = indirect
		eff.Slot, eff.HasSlot = slotOf(inst, pc, a)
	default:
		eff.Flow = indirect
	}
}

// readOnlyFirst lists the instructions whose first operand, when it is a
// register, is only read. Everything else with rsp/rbp as first operand is
// taken to write it (a conservative default: a wrong guess gives SPUnknown or
// ClobbersFP, never a missed write).
func readOnlyFirst(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH, x86asm.CALL, x86asm.JMP,
		x86asm.LCALL, x86asm.LJMP, x86asm.WRFSBASE, x86asm.WRGSBASE,
		x86asm.VERR, x86asm.VERW, x86asm.LLDT, x86asm.LTR, x86asm.LMSW,
		x86asm.INVPCID, x86asm.OUT,
		x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD,
		x86asm.MUL, x86asm.DIV, x86asm.IDIV: // implicit rax/rdx destination
		return true
	}
	return false
}

// writesSecond lists the instructions that also write their second operand.
func writesSecond(op x86asm.Op) bool {
	switch op {
	case x86asm.XCHG, x86asm.XADD, x86asm.MULX:
		return true
	}
	return false
}

// noAccess lists instructions with a memory operand that reads or writes no
// data there (address computation, hints).
func noAccess(op x86asm.Op) bool {
	switch op {
	case x86asm.LEA, x86asm.NOP, x86asm.PREFETCHNTA, x86asm.PREFETCHT0,
		x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHW, x86asm.CLFLUSH,
		x86asm.INVLPG:
		return true
	}
	return false
}

// memSize is the size in bytes of an instruction's memory operand. x86asm
// leaves MemBytes 0 for the operands that are not a plain integer or vector
// (x87 80-bit and environment forms, fxsave/xsave areas, descriptor tables).
func memSize(inst *x86asm.Inst) int64 {
	if inst.MemBytes > 0 {
		return int64(inst.MemBytes)
	}
	switch inst.Op {
	case x86asm.FLD, x86asm.FSTP, x86asm.FBLD, x86asm.FBSTP, x86asm.SGDT, x86asm.SIDT,
		x86asm.LGDT, x86asm.LIDT:
		return 10 // m80 (the descriptor-table forms are 10 bytes in 64-bit mode)
	case x86asm.FLDENV, x86asm.FNSTENV:
		return 28
	case x86asm.FNSAVE, x86asm.FRSTOR:
		return 108
	case x86asm.FLDCW, x86asm.FNSTCW, x86asm.FNSTSW:
		return 2
	case x86asm.CMPXCHG16B:
		return 16
	case x86asm.CMPXCHG8B:
		return 8
	case x86asm.FXSAVE, x86asm.FXSAVE64, x86asm.FXRSTOR, x86asm.FXRSTOR64:
		return 512
	case x86asm.XSAVE, x86asm.XSAVE64, x86asm.XSAVEC, x86asm.XSAVEC64,
		x86asm.XSAVEOPT, x86asm.XSAVEOPT64, x86asm.XSAVES, x86asm.XSAVES64,
		x86asm.XRSTOR, x86asm.XRSTOR64, x86asm.XRSTORS, x86asm.XRSTORS64:
		// The legacy region and the XSAVE header; the extended components
		// that follow depend on the CPU's enabled features (a lower bound).
		return 576
	case x86asm.LFS, x86asm.LGS, x86asm.LSS, x86asm.LJMP, x86asm.LCALL:
		return int64(inst.DataSize/8) + 2 // m16:16/32/64
	}
	return int64(inst.DataSize / 8)
}

func classify(inst *x86asm.Inst, pc uint64, eff *isa.Effect) {
	eff.Len = inst.Len
	args := &inst.Args

	// Registers and memory operands, scanned once.
	var (
		spArg, fpArg = -1, -1 // first operand index naming rsp / rbp as a register
		mem          x86asm.Mem
		hasMem       bool
	)
	for i, a := range args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			if isSPReg(a) {
				if spArg < 0 || i == 1 && writesSecond(inst.Op) {
					spArg = i
				}
			} else if isFPReg(a) {
				if fpArg < 0 || i == 1 && writesSecond(inst.Op) {
					fpArg = i
				}
				eff.UsesFP = true
			}
		case x86asm.Mem:
			mem, hasMem = a, true
			if isFPReg(a.Base) || isFPReg(a.Index) {
				eff.UsesFP = true
			}
		}
	}
	readOnly := readOnlyFirst(inst.Op) || inst.Op == x86asm.IMUL && args[1] == nil // imul r/m: rdx:rax
	writesSP := spArg == 0 && !readOnly || spArg == 1 && writesSecond(inst.Op)
	writesFP := fpArg == 0 && !readOnly || fpArg == 1 && writesSecond(inst.Op)

	// Memory access relative to rsp/rbp: the displacement is the lowest
	// byte touched (with an index register, for a non-negative index, as
	// C array indexing gives: [rsp+rdx-0x78] is an array in the red zone).
	if hasMem && mem.Segment != x86asm.FS && mem.Segment != x86asm.GS && !noAccess(inst.Op) {
		var base isa.Base
		switch mem.Base {
		case x86asm.RSP:
			base = isa.BaseSP
		case x86asm.RBP:
			base = isa.BaseFP
		}
		if base != isa.BaseNone {
			eff.Access = base
			eff.AccessOff = sext32(mem.Disp)
			eff.AccessSize = memSize(inst)
			if inst.Op == x86asm.POP && base == isa.BaseSP {
				// pop [rsp+d] computes its address after incrementing rsp.
				eff.AccessOff += popSize(inst)
			}
		}
	}

	switch inst.Op {
	// ---- control flow ----
	case x86asm.CALL:
		branchFlow(inst, pc, args[0], isa.FlowCall, isa.FlowIndirectCall, eff)
		return
	case x86asm.JMP:
		branchFlow(inst, pc, args[0], isa.FlowJump, isa.FlowIndirectJump, eff)
		return
	case x86asm.LCALL:
		// A far call pushes cs as well as the return address; the analysis
		// cannot account for that, so the stack is unknown after it.
		eff.Flow = isa.FlowIndirectCall
		eff.SP = isa.SPUnknown
		return
	case x86asm.LJMP:
		eff.Flow = isa.FlowIndirectJump
		return
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG,
		x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP,
		x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS,
		x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.XBEGIN:
		eff.Flow = isa.FlowCondJump
		if rel, ok := args[0].(x86asm.Rel); ok {
			eff.Target = relTarget(inst, pc, rel)
			eff.HasTarget = true
		}
		return
	case x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.SYSRET, x86asm.SYSEXIT:
		eff.Flow = isa.FlowReturn
		return
	case x86asm.UD0, x86asm.UD1, x86asm.UD2, x86asm.HLT:
		eff.Flow = isa.FlowStop
		return
	case x86asm.INT:
		// int3 (0xCC, also CD 03) traps; GCC pads after noreturn calls with
		// it. Other int n are system calls and fall through.
		if imm, ok := args[0].(x86asm.Imm); ok && imm == 3 {
			eff.Flow = isa.FlowStop
		}
		return

	// ---- stack pointer ----
	case x86asm.PUSH:
		eff.SP, eff.SPDelta = isa.SPAdd, -popSize(inst)
		return
	case x86asm.PUSHF, x86asm.PUSHFD, x86asm.PUSHFQ:
		eff.SP, eff.SPDelta = isa.SPAdd, -popSize(inst)
		return
	case x86asm.POPF, x86asm.POPFD, x86asm.POPFQ:
		eff.SP, eff.SPDelta = isa.SPAdd, popSize(inst)
		return
	case x86asm.POP:
		if spArg == 0 {
			eff.SP = isa.SPUnknown // pop rsp
			return
		}
		eff.SP, eff.SPDelta = isa.SPAdd, popSize(inst)
		eff.ClobbersFP = fpArg == 0
		return
	case x86asm.LEAVE:
		eff.UsesFP = true
		eff.ClobbersFP = true
		if inst.DataSize == 16 {
			eff.SP = isa.SPUnknown // mov sp,bp; pop bp
			return
		}
		eff.SP, eff.SPDelta = isa.SPFromFP, 8
		return
	case x86asm.ENTER:
		eff.UsesFP = true
		size, _ := args[0].(x86asm.Imm)
		level, _ := args[1].(x86asm.Imm)
		if inst.DataSize == 16 {
			eff.SP = isa.SPUnknown
			eff.ClobbersFP = true
			return
		}
		// push rbp; then level-1 copies of outer frame pointers and the new
		// frame pointer itself when level > 0; rbp = rsp after the first
		// push; rsp -= size.
		n, l := int64(uint16(size)), int64(level&31)
		extra := int64(0)
		if l > 0 {
			extra = 8 * l
		}
		eff.SP, eff.SPDelta = isa.SPAdd, -(8 + extra + n)
		eff.SetsFP, eff.FPOffset = true, n+extra
		return
	}

	if writesSP {
		classifySPWrite(inst, spArg, eff)
	}
	if writesFP {
		classifyFPWrite(inst, fpArg, eff)
	}
	// Constant addresses: lea r,[rip+X] always; mov r,imm for values that
	// can be addresses in a non-PIE executable (above 64 KiB).
	switch inst.Op {
	case x86asm.LEA:
		if hasMem && (mem.Base == x86asm.RIP || mem.Base == x86asm.EIP) {
			eff.Ref, eff.HasRef = slotOf(inst, pc, mem)
		}
	case x86asm.MOV:
		if _, ok := args[0].(x86asm.Reg); ok {
			if imm, ok := args[1].(x86asm.Imm); ok && imm >= 0x10000 {
				eff.Ref, eff.HasRef = uint64(imm), true
			}
		}
	}
	// Stack-clash probe limit: lea r64,[rsp-N].
	if inst.Op == x86asm.LEA && !writesSP && !writesFP {
		if dst, ok := args[0].(x86asm.Reg); ok && dst >= x86asm.RAX && dst <= x86asm.R15 &&
			hasMem && mem.Base == x86asm.RSP && mem.Index == 0 && sext32(mem.Disp) < 0 {
			eff.SavesSPLimit = true
			eff.SPLimitOffset = sext32(mem.Disp)
		}
	}
}

// classifySPWrite handles an instruction that writes rsp/esp/sp/spl through
// operand spArg (other than push/pop/enter/leave/call/ret, handled earlier).
func classifySPWrite(inst *x86asm.Inst, spArg int, eff *isa.Effect) {
	eff.SP = isa.SPUnknown
	if spArg != 0 || inst.Args[0] != x86asm.RSP {
		return // esp/sp/spl or a second operand (xchg): not modelled
	}
	src := inst.Args[1]
	switch inst.Op {
	case x86asm.ADD, x86asm.SUB:
		switch s := src.(type) {
		case x86asm.Imm:
			d := int64(s)
			if inst.Op == x86asm.SUB {
				d = -d
			}
			eff.SP, eff.SPDelta = isa.SPAdd, d
		case x86asm.Reg:
			if !isSPReg(s) {
				eff.SP = isa.SPDynamic
			}
		case x86asm.Mem:
			eff.SP = isa.SPDynamic
		}
	case x86asm.AND:
		if s, ok := src.(x86asm.Imm); ok && s < 0 {
			a := -int64(s)
			if a&(a-1) == 0 {
				eff.SP, eff.SPAlignment = isa.SPAlign, a
			}
		}
	case x86asm.LEA:
		m, _ := src.(x86asm.Mem)
		if m.Segment != 0 {
			return
		}
		switch {
		case m.Base == x86asm.RSP && m.Index == 0:
			eff.SP, eff.SPDelta = isa.SPAdd, sext32(m.Disp)
		case m.Base == x86asm.RBP && m.Index == 0:
			eff.SP, eff.SPDelta = isa.SPFromFP, sext32(m.Disp)
		case m.Base == x86asm.RSP || m.Index == x86asm.RSP:
			eff.SP = isa.SPDynamic // lea rsp,[rsp+reg*s+d]
		}
	case x86asm.MOV:
		if src == x86asm.RBP {
			eff.SP, eff.SPDelta = isa.SPFromFP, 0
		}
	}
}

// classifyFPWrite handles an instruction that writes rbp/ebp/bp/bpl.
func classifyFPWrite(inst *x86asm.Inst, fpArg int, eff *isa.Effect) {
	if fpArg == 0 && inst.Args[0] == x86asm.RBP {
		switch inst.Op {
		case x86asm.MOV:
			if inst.Args[1] == x86asm.RSP {
				eff.SetsFP, eff.FPOffset = true, 0
				return
			}
		case x86asm.LEA:
			if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RSP && m.Index == 0 && m.Segment == 0 {
				eff.SetsFP, eff.FPOffset = true, sext32(m.Disp)
				return
			}
		}
	}
	eff.ClobbersFP = true
}
