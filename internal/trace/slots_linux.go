//go:build linux && amd64

package trace

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// clobberedPointer explains a crash by a pointer variable of a frame on the
// backtrace that its own function only ever sets to addresses in its own
// stack frame (alloca, a VLA, a local array: GCC at -O0), yet that holds
// something else now. The function cannot have put it there: a write past
// a buffer on the stack did. This is how an overrun of an alloca'd buffer
// shows in a build with only the stack protector: the dynamic area lies
// just below the frame's fixed locals, a copy up out of it overwrites the
// pointers there (with zeros, say) and the program dies using one of them,
// long before any canary is reached (Juliet's CWE-121 int, int64_t,
// wchar_t and struct alloca cases).
//
// The slot is read at its DWARF location (DW_OP_fbreg with a CFA frame
// base), and the function's code is decoded to prove the claim:
//   - every instruction of the function that writes the slot stores a
//     register computed from RSP or RBP (by mov, lea, add, sub, and, shifts)
//     or loaded from another such slot, and none takes the slot's address;
//   - then the value is impossible when a store of an address computed from
//     RSP or RBP lies in the function's branch-free first block, before the
//     frame's PC (so it ran), and the value is not in the live stack
//     [SP-4096, top): every frame's own stack lies there; or when the value
//     keeps the stack's upper 32 bits but lies outside the whole stack
//     mapping (a pointer whose low bytes were overwritten: no address the
//     program ever computed, even a stale one, looks like that).
func (tr *tracer) clobberedPointer(as *addrSpace, c *Crash, sp, lo, top uint64) bool {
	if len(c.states) == 0 || top == 0 {
		return false
	}
	for k := 0; k+1 < len(c.states) && k < len(c.all); k++ {
		fr := c.all[k]
		if fr.Function == "" {
			continue
		}
		look := fr.PC
		if k > 0 {
			look-- // the call instruction
		}
		mod := as.moduleAt(look)
		if mod == nil {
			continue
		}
		slots := mod.file.PointerSlots(look - mod.bias)
		if len(slots) == 0 {
			continue
		}
		sym, ok := mod.file.Lookup(look - mod.bias)
		if !ok || sym.Size == 0 || sym.Size > 1<<16 {
			continue
		}
		start := sym.Value + mod.bias
		code := make([]byte, sym.Size)
		if !as.mem.read(start, code) {
			continue
		}
		only, ok := stackOnlySlots(start, code)
		if !ok {
			continue
		}
		cfa := c.states[k+1][dwRSP]
		for _, sl := range slots {
			// At -O0 the prologue is push rbp; mov rbp,rsp (checked by
			// stackOnlySlots), so RBP is the CFA less 16.
			si, isOnly := only[sl.Off+16]
			if !isOnly {
				continue
			}
			v, ok := as.mem.u64(uint64(int64(cfa) + sl.Off))
			if !ok {
				continue
			}
			ran := si.setBy != 0 && fr.PC > si.setBy
			live := v >= sp-4096 && v < top || v == 0 && si.mayBeNull
			partial := v>>32 == (top-1)>>32 && (v < lo || v >= top)
			if !(ran && !live) && !partial {
				continue
			}
			c.Class = ClassStackOverrun
			c.Function = fr.Function
			c.LocalArrays = tr.localArrays(as, c.all, k)
			sets := "an address in its own stack frame"
			if si.mayBeNull {
				sets += " or NULL"
			}
			how := "holds"
			if partial {
				how = "holds a stack address with its low bytes overwritten,"
			}
			c.Detail = fmt.Sprintf("crash (%s, %s) in %s; the pointer variable %s of %s, which its code only ever sets to %s, %s %#x: a write past a buffer of %s overran into it (inferred from the stack; no check fired)",
				c.Signal, c.Code, callerName(c.all, 0), sl.Name, fr.Function, sets, how, v, fr.Function)
			if len(c.LocalArrays) > 0 {
				c.Detail += "; its local arrays: " + strings.Join(c.LocalArrays, ", ")
			}
			return true
		}
	}
	return false
}

// slotUse is what a function's code does with one RBP-relative slot.
type slotUse struct {
	setBy     uint64 // the end of a store of a frame address in the branch-free first block; 0 if none
	mayBeNull bool   // the function may also set it to NULL
}

// stackOnlySlots decodes a whole function (GCC -O0 code with a frame
// pointer) and returns the RBP-relative slots that it only ever sets to
// addresses in its own frame (see clobberedPointer). ok is false when the
// code is not understood: no push rbp; mov rbp,rsp prologue, or an
// instruction that does not decode.
func stackOnlySlots(start uint64, code []byte) (slots map[int64]slotUse, ok bool) {
	type store struct {
		disp     int64
		frameReg bool   // the stored register holds a frame address
		from     int64  // or it was loaded from this slot (fromSlot)
		fromSlot bool   //
		end      uint64 // the address just past the store
		entry    bool   // in the branch-free first block
		direct   bool   // computed from RSP/RBP, not loaded from a slot
		null     bool   // an immediate 0 (p = NULL)
	}
	var insts []x86asm.Inst
	var addrs []uint64
	targets := map[uint64]bool{}
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			return nil, false
		}
		insts = append(insts, in)
		addrs = append(addrs, start+uint64(off))
		if rel, isRel := in.Args[0].(x86asm.Rel); isRel {
			targets[start+uint64(off+in.Len)+uint64(int64(rel))] = true
		}
		off += in.Len
	}
	if !framePrologue(insts) {
		return nil, false
	}

	// What each register holds, as far as this linear walk knows: a frame
	// address (computed from RSP/RBP), or the value loaded from a slot.
	type regVal struct {
		frame, direct bool
		slot          int64
		loaded        bool
	}
	regs := map[x86asm.Reg]regVal{}
	var stores []store
	bad := map[int64]bool{} // slots written otherwise, or whose address is taken
	entry := true
	for i, in := range insts {
		if targets[addrs[i]] {
			regs = map[x86asm.Reg]regVal{} // another path joins here
		}
		end := addrs[i] + uint64(in.Len)
		dst, dstIsReg := in.Args[0].(x86asm.Reg)
		dst, dst64 := full64(dst)
		frameMem := func(a x86asm.Arg) (int64, bool) {
			m, isMem := a.(x86asm.Mem)
			if !isMem || m.Base != x86asm.RBP || m.Index != 0 || m.Segment != 0 {
				return 0, false
			}
			return int64(int32(m.Disp)), true // x86asm leaves a disp32 zero-extended
		}
		// Writes to an RBP slot.
		if d, isMem := frameMem(in.Args[0]); isMem && writesFirstArg(in.Op) {
			src, srcIsReg := in.Args[1].(x86asm.Reg)
			imm, isImm := in.Args[1].(x86asm.Imm)
			if rv := regs[src]; in.Op == x86asm.MOV && in.MemBytes == 8 && srcIsReg && (rv.frame || rv.loaded) {
				stores = append(stores, store{disp: d, frameReg: rv.frame, from: rv.slot, fromSlot: rv.loaded,
					end: end, entry: entry, direct: rv.direct})
			} else if in.Op == x86asm.MOV && in.MemBytes == 8 && isImm && imm == 0 {
				stores = append(stores, store{disp: d, null: true, end: end})
			} else {
				for b := d - 7; b < d+int64(max(in.MemBytes, 1)); b++ {
					bad[b] = true // any slot this write touches
				}
			}
		}
		switch {
		case in.Op == x86asm.LEA && dstIsReg && dst64:
			m := in.Args[1].(x86asm.Mem)
			if d, isFrame := frameMem(m); isFrame {
				bad[d] = true // the slot's address is taken
			}
			base := regs[m.Base]
			if m.Index == 0 && (m.Base == x86asm.RSP || m.Base == x86asm.RBP || base.frame) {
				regs[dst] = regVal{frame: true, direct: m.Base == x86asm.RSP || m.Base == x86asm.RBP || base.direct}
			} else {
				delete(regs, dst)
			}
		case in.Op == x86asm.MOV && dstIsReg && dst64:
			switch s := in.Args[1].(type) {
			case x86asm.Reg:
				if s == x86asm.RSP || s == x86asm.RBP {
					regs[dst] = regVal{frame: true, direct: true}
				} else if rv, has := regs[s]; has {
					regs[dst] = rv
				} else {
					delete(regs, dst)
				}
			case x86asm.Mem:
				if d, isFrame := frameMem(s); isFrame && in.MemBytes == 8 {
					regs[dst] = regVal{slot: d, loaded: true}
				} else {
					delete(regs, dst)
				}
			default:
				delete(regs, dst)
			}
		case (in.Op == x86asm.ADD || in.Op == x86asm.SUB || in.Op == x86asm.AND ||
			in.Op == x86asm.SHR || in.Op == x86asm.SHL) && dstIsReg && dst64:
			if _, imm := in.Args[1].(x86asm.Imm); !imm || !regs[dst].frame {
				delete(regs, dst)
			}
		case writesNoRegister(in):
		case dstIsReg && dst64 && !implicitWrites(in.Op) && !(in.Op == x86asm.IMUL && in.Args[1] == nil):
			delete(regs, dst)
		default:
			regs = map[x86asm.Reg]regVal{}
		}
		switch in.Op {
		case x86asm.CALL:
			for _, r := range []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RSI, x86asm.RDI,
				x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11} {
				delete(regs, r)
			}
		case x86asm.JMP, x86asm.RET:
			entry = false
			regs = map[x86asm.Reg]regVal{}
		default:
			if isBranch(in.Op) {
				entry = false
			}
		}
	}

	// A slot is stack-only if every store to it is of a frame address or
	// NULL, directly or loaded from a stack-only slot: drop slots until
	// nothing changes. Then mark the ones that may hold NULL.
	only := map[int64]slotUse{}
	for _, s := range stores {
		if !bad[s.disp] {
			only[s.disp] = slotUse{}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range stores {
			if _, in := only[s.disp]; !in {
				continue
			}
			if s.fromSlot {
				if _, srcOnly := only[s.from]; !srcOnly {
					delete(only, s.disp)
					changed = true
				}
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range stores {
			u, in := only[s.disp]
			if !in || u.mayBeNull {
				continue
			}
			if s.null || (s.fromSlot && only[s.from].mayBeNull) {
				u.mayBeNull = true
				only[s.disp] = u
				changed = true
			}
		}
	}
	for _, s := range stores {
		u, in := only[s.disp]
		if in && s.entry && s.frameReg && s.direct && u.setBy == 0 {
			u.setBy = s.end
			only[s.disp] = u
		}
	}
	return only, true
}

// framePrologue: the function starts (after an optional endbr64) with
// push rbp; mov rbp,rsp.
func framePrologue(insts []x86asm.Inst) bool {
	// x86asm decodes endbr64 (f3 0f 1e fa) as a bare REP prefix and a
	// hint NOP.
	for len(insts) > 0 && (insts[0].Op == 0 || insts[0].Op == x86asm.NOP) {
		insts = insts[1:]
	}
	return len(insts) >= 2 &&
		insts[0].Op == x86asm.PUSH && insts[0].Args[0] == x86asm.RBP &&
		insts[1].Op == x86asm.MOV && insts[1].Args[0] == x86asm.RBP && insts[1].Args[1] == x86asm.RSP
}

// full64 maps a general-purpose register of any width to its 64-bit
// register; ok is false for other registers (and for none).
func full64(r x86asm.Reg) (x86asm.Reg, bool) {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return r, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return x86asm.RAX + (r - x86asm.EAX), true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return x86asm.RAX + (r - x86asm.AX), true
	case r >= x86asm.AL && r <= x86asm.BL:
		return x86asm.RAX + (r - x86asm.AL), true
	case r >= x86asm.AH && r <= x86asm.BH:
		return x86asm.RAX + (r - x86asm.AH), true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return x86asm.RSP + (r - x86asm.SPB), true
	}
	return r, false
}

// writesFirstArg: the instruction writes its first operand (when that is
// memory: a store).
func writesFirstArg(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.BT, x86asm.UCOMISS, x86asm.UCOMISD,
		x86asm.COMISS, x86asm.COMISD, x86asm.NOP, x86asm.PREFETCHT0, x86asm.PREFETCHNTA:
		return false
	}
	return true
}

// writesNoRegister: instructions that leave the general-purpose registers
// alone (apart from RSP and flags): stores, compares, branches, pushes.
func writesNoRegister(in x86asm.Inst) bool {
	if in.Prefix[0]&0xff == x86asm.PrefixREP || in.Prefix[0]&0xff == x86asm.PrefixREPN {
		return false
	}
	switch in.Op {
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.NOP, x86asm.LEAVE:
		return true
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.MOVSB, x86asm.MOVSW,
		x86asm.MOVSD, x86asm.MOVSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		return false
	}
	if isBranch(in.Op) || in.Op == x86asm.CALL || in.Op == x86asm.RET {
		return true // CALL's clobbers are handled by the caller
	}
	_, mem := in.Args[0].(x86asm.Mem)
	return mem && in.Op != x86asm.XCHG && in.Op != x86asm.XADD && in.Op != x86asm.CMPXCHG
}

// implicitWrites: instructions that write registers besides their first
// operand.
func implicitWrites(op x86asm.Op) bool {
	switch op {
	case x86asm.DIV, x86asm.IDIV, x86asm.MUL, x86asm.XCHG, x86asm.XADD, x86asm.CMPXCHG,
		x86asm.CPUID, x86asm.RDTSC, x86asm.RDTSCP, x86asm.SYSCALL, x86asm.CQO, x86asm.CDQ,
		x86asm.CWD, x86asm.POP, x86asm.LEAVE:
		return true
	}
	return false
}

// isBranch: a jump, conditional or not.
func isBranch(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JCXZ, x86asm.JE, x86asm.JECXZ,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JMP, x86asm.JNE, x86asm.JNO,
		x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JRCXZ, x86asm.JS,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}
