package threads

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// x86Reg maps an x86asm general-purpose register to its number (rax=0 ...
// r15=15); ok is false for anything else.
func x86Reg(r x86asm.Reg) (int8, bool) {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int8(r - x86asm.RAX), true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int8(r - x86asm.EAX), true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int8(r - x86asm.AX), true
	case r >= x86asm.AL && r <= x86asm.BL:
		return int8(r - x86asm.AL), true
	case r >= x86asm.AH && r <= x86asm.BH:
		return int8(r - x86asm.AH), true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int8(r-x86asm.SPB) + 4, true
	}
	return 0, false
}

// x86MemOp finds the stack moves and the register writes that isa.Effect
// does not describe: mov between a register or immediate and [reg+disp],
// push, and implicit or otherwise unmodelled register writes.
func x86MemOp(code []byte, def isa.DefKind) memOp {
	defKnown := def != isa.DefNone
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return memOp{wr: memWrite{any: true, base: -1}}
	}
	m := x86Moves(inst, defKnown)
	m.wr = x86Write(inst)
	switch def {
	case isa.DefNone, isa.DefOther, isa.DefLoad:
		m.spRead = x86ReadsSP(inst)
	}
	return m
}

// x86ReadsSP reports an instruction, whose register result isa.Effect
// does not describe, that computes it from rsp or rbp: lea with an index
// or a scaled base, add rax,rbp and the like. Its result may be a stack
// address.
func x86ReadsSP(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.PUSH, x86asm.POP, x86asm.CMP, x86asm.TEST, x86asm.CALL, x86asm.JMP, x86asm.LEAVE, x86asm.RET:
		return false
	}
	if _, ok := inst.Args[0].(x86asm.Reg); !ok {
		return false
	}
	for i, a := range inst.Args {
		switch a := a.(type) {
		case x86asm.Reg:
			if i > 0 && (a == x86asm.RSP || a == x86asm.RBP || a == x86asm.ESP || a == x86asm.EBP) {
				return true
			}
		case x86asm.Mem:
			if inst.Op == x86asm.LEA && isStackish(a) {
				return true
			}
		}
	}
	return false
}

func x86Moves(inst x86asm.Inst, defKnown bool) memOp {
	var m memOp
	a := inst.Args
	memBase := func(x x86asm.Mem) (int8, bool) {
		if x.Index != 0 || x.Segment != 0 {
			return 0, false
		}
		return x86Reg(x.Base)
	}
	switch inst.Op {
	case x86asm.MOV:
		if mem, ok := a[0].(x86asm.Mem); ok {
			if b, ok := memBase(mem); ok && inst.MemBytes >= 4 {
				m.store, m.base, m.disp = true, b, int64(int32(mem.Disp))
				switch s := a[1].(type) {
				case x86asm.Reg:
					r, ok := x86Reg(s)
					if !ok {
						m.store, m.unknownMem = false, true
					}
					m.reg = r
				case x86asm.Imm:
					v := int64(s)
					if inst.MemBytes == 4 {
						v = int64(uint32(v))
					}
					m.imm, m.useImm = constant(v), true
				}
			} else if ok2 := isStackish(mem); ok2 {
				m.unknownMem = true
			}
			return m
		}
		if dst, ok := a[0].(x86asm.Reg); ok {
			if mem, ok := a[1].(x86asm.Mem); ok {
				r, rok := x86Reg(dst)
				b, bok := memBase(mem)
				if rok && bok && inst.MemBytes >= 4 {
					m.load, m.reg, m.base, m.disp = true, r, b, int64(int32(mem.Disp))
				}
			}
		}
		return m
	case x86asm.PUSH:
		switch s := a[0].(type) {
		case x86asm.Reg:
			if r, ok := x86Reg(s); ok {
				m.push, m.reg = true, r
			}
		case x86asm.Imm:
			m.push, m.imm, m.useImm = true, constant(int64(s)), true
		default:
			m.push, m.imm, m.useImm = true, unknown, true
		}
		return m
	}
	add := func(regs ...x86asm.Reg) {
		for _, r := range regs {
			if n, ok := x86Reg(r); ok {
				m.clobbers = append(m.clobbers, n)
			}
		}
	}
	switch inst.Op {
	case x86asm.CWD, x86asm.CDQ, x86asm.CQO:
		add(x86asm.RDX)
	case x86asm.MUL, x86asm.DIV, x86asm.IDIV, x86asm.RDTSC, x86asm.RDTSCP:
		add(x86asm.RAX, x86asm.RDX, x86asm.RCX)
	case x86asm.IMUL:
		if a[1] == nil {
			add(x86asm.RAX, x86asm.RDX)
		}
	case x86asm.CPUID:
		add(x86asm.RAX, x86asm.RBX, x86asm.RCX, x86asm.RDX)
	case x86asm.SYSCALL:
		add(x86asm.RAX, x86asm.RCX, x86asm.R11)
	case x86asm.CMPXCHG:
		add(x86asm.RAX)
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW,
		x86asm.STOSD, x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ, x86asm.CMPSB, x86asm.CMPSW,
		x86asm.CMPSD, x86asm.CMPSQ:
		add(x86asm.RAX, x86asm.RCX, x86asm.RSI, x86asm.RDI)
		m.unknownMem = true
	case x86asm.XCHG, x86asm.XADD:
		if r, ok := a[1].(x86asm.Reg); ok {
			add(r)
		}
	}
	if !defKnown {
		switch inst.Op {
		case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH, x86asm.CALL, x86asm.JMP:
		default:
			if r, ok := a[0].(x86asm.Reg); ok {
				add(r)
			}
		}
	}
	if mem, ok := a[0].(x86asm.Mem); ok && isStackish(mem) && inst.Op != x86asm.CMP && inst.Op != x86asm.TEST && inst.Op != x86asm.LEA {
		m.unknownMem = true // some other write to a stack word (add [rsp+8], 1)
	}
	return m
}

// isStackish reports a memory operand based on rsp or rbp.
func isStackish(mem x86asm.Mem) bool {
	return mem.Base == x86asm.RSP || mem.Base == x86asm.RBP || mem.Index == x86asm.RSP
}

// x86Write classifies the memory an instruction writes: its memory
// operand, unless the instruction only reads it; string stores write at
// rdi (where, depends on rcx). Pushes and calls write below SP and are
// left out, as are reads.
func x86Write(inst x86asm.Inst) memWrite {
	w := memWrite{base: -1}
	switch inst.Op {
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		return memWrite{any: true, base: 7}
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.LEA, x86asm.NOP, x86asm.PUSH, x86asm.CALL, x86asm.JMP,
		x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHW,
		x86asm.COMISS, x86asm.COMISD, x86asm.UCOMISS, x86asm.UCOMISD, x86asm.PTEST, x86asm.CLFLUSH:
		return w
	}
	writesSecond := inst.Op == x86asm.XCHG || inst.Op == x86asm.XADD || inst.Op == x86asm.CMPXCHG
	for i, a := range inst.Args {
		mem, ok := a.(x86asm.Mem)
		if !ok || i > 0 && !writesSecond {
			continue
		}
		w.any = true
		if mem.Segment != 0 || mem.Index != 0 {
			return memWrite{any: true, base: -1}
		}
		if mem.Base == x86asm.RIP || mem.Base == 0 {
			return memWrite{any: true, base: -1, fixed: true} // a global
		}
		if r, ok := x86Reg(mem.Base); ok {
			w.base, w.disp, w.hasDisp, w.size = r, int64(int32(mem.Disp)), true, int64(inst.MemBytes)
		}
	}
	return w
}
