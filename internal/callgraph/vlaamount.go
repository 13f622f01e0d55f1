package callgraph

import (
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// The largest amount an x86-64 function's `sub %reg,%rsp` (a VLA or an
// alloca) lowers SP by, when the amount is computed from a count whose
// largest value the caller knows: a forward data-flow pass over the whole
// function that gives each register an upper bound, or a shape, or
// nothing. It proves, for ld.so's _dl_fini, that the amount of
// `struct link_map *maps[nloaded]` is round16(8*nloaded+15) with nloaded
// read from GL(dl_ns)[ns]._ns_nloaded, and for _dl_sort_maps that its
// arrays are sized by its nmaps argument (ldnloaded.go says where the
// counts' bounds come from).
//
// The frame walker's own slicer follows straight-line code only, and has
// no arithmetic: _dl_fini spills the count to its frame across a call
// and _dl_sort_maps computes it on a path joined by a branch, so this is
// a pass of its own. It is sound in the way the frame walk needs: every
// register write the pass does not model makes the register unknown; an
// instruction whose writes it does not know makes every register and
// every frame slot unknown; a jump it cannot follow (an indirect jump, a
// jump out of the function into code that is not a function) gives no
// result at all.

// absKind is what a register or frame slot is known to hold.
type absKind uint8

const (
	absTop  absKind = iota // anything
	absBnd                 // an unsigned value at most n (its low bits bits, the rest unknown, when bits < 64)
	absMult                // a multiple of n (any multiple)
	absNS                  // &namespaces[k] + off for some k (off in [0, stride))
)

type absVal struct {
	k    absKind
	n    uint64
	bits uint8
	off  int64
}

var top = absVal{}

func bnd(n uint64) absVal { return absVal{k: absBnd, n: n, bits: 64} }

// countSources say where the counts come from: registers at the entry
// (an argument, bounded in its low bits), and a 32-bit field of an
// array of structs (ld.so's namespaces: base, element size, field).
type countSources struct {
	entry    map[int]absVal // register family -> value at the entry
	nsBase   uint64         // the array's address (0: none)
	nsStride int64
	nsField  int64
	nsMax    uint64
	// subNoWrap: a 32-bit `sub %r,%r2` of a value at most 1 from a
	// bounded value is taken not to wrap (the premise says why).
	subNoWrap bool
}

type absState struct {
	ok    bool
	regs  [16]absVal
	slots map[int64]absVal // rbp-relative frame slots
	rbpOK bool             // rbp holds the entry's frame pointer (mov %rsp,%rbp)
	// subAssumed: the value came through a sub taken not to wrap.
	subAssumed bool
}

func (s absState) clone() absState {
	c := s
	c.slots = make(map[int64]absVal, len(s.slots))
	for k, v := range s.slots {
		c.slots[k] = v
	}
	return c
}

// regFamily maps an x86asm register to its 64-bit family (0 rax ... 15
// r15) and its width in bits; ok false for other registers.
func regFamily(r x86asm.Reg) (int, int, bool) {
	switch {
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL), 8, true
	case r >= x86asm.AH && r <= x86asm.BH:
		return int(r - x86asm.AH), 8, true // (high byte: a partial write)
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4, 8, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX), 16, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX), 32, true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX), 64, true
	}
	return 0, 0, false
}

const (
	famRAX = 0
	famRSP = 4
	famRBP = 5
)

// callerSaved are the registers a call may change (System V x86-64).
var sysvCallerSaved = []int{0, 1, 2, 6, 7, 8, 9, 10, 11}

func join(a, b absVal) absVal {
	switch {
	case a == b:
		return a
	case a.k == absBnd && b.k == absBnd:
		return absVal{k: absBnd, n: max(a.n, b.n), bits: min(a.bits, b.bits)}
	case a.k == absMult && b.k == absMult:
		return absVal{k: absMult, n: gcd(a.n, b.n)}
	}
	return top
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func joinState(a, b absState) absState {
	if !a.ok {
		return b.clone()
	}
	c := a.clone()
	for i := range c.regs {
		c.regs[i] = join(a.regs[i], b.regs[i])
	}
	for k, v := range c.slots {
		if w, ok := b.slots[k]; ok {
			c.slots[k] = join(v, w)
		} else {
			delete(c.slots, k)
		}
	}
	c.rbpOK = a.rbpOK && b.rbpOK
	c.subAssumed = a.subAssumed || b.subAssumed
	return c
}

func sameState(a, b absState) bool {
	if a.ok != b.ok || a.regs != b.regs || a.rbpOK != b.rbpOK || len(a.slots) != len(b.slots) || a.subAssumed != b.subAssumed {
		return false
	}
	for k, v := range a.slots {
		if w, ok := b.slots[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// vlaAmount is a proved bound of one SP move by a register.
type vlaAmount struct {
	Bytes int64
	// SubAssumed: the count went through a subtraction taken not to
	// wrap (countSources.subNoWrap).
	SubAssumed bool
}

// vlaAmounts runs the pass over code (at addr) and returns, for each
// `sub %reg64,%rsp` it reaches whose register has a bound, that bound.
// isFunction says whether a jump target outside the code starts a
// function (a tail call, which does not come back).
func vlaAmounts(code []byte, addr uint64, src countSources, isFunction func(uint64) bool) (map[uint64]vlaAmount, error) {
	insts, err := decodeFlow(code, addr, isFunction)
	if err != nil {
		return nil, err
	}
	escaped := false
	for i := range insts {
		in := insts[i].in
		if in.Op == x86asm.LEA {
			if m, ok := in.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RBP {
				if r, ok := in.Args[0].(x86asm.Reg); !ok || r != x86asm.RSP {
					escaped = true // a frame slot's address is taken
				}
			}
		}
	}
	if len(insts) == 0 {
		return nil, fmt.Errorf("no code")
	}
	states := make([]absState, len(insts))
	visits := make([]int, len(insts))
	entry := absState{ok: true, slots: map[int64]absVal{}}
	for f, v := range src.entry {
		entry.regs[f] = v
	}
	states[0] = entry
	work := []int{0}
	out := map[uint64]vlaAmount{}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		st := states[i].clone()
		in := insts[i].in
		if in.Op == x86asm.SUB {
			if d, ok := in.Args[0].(x86asm.Reg); ok && d == x86asm.RSP {
				if r, ok := in.Args[1].(x86asm.Reg); ok {
					if f, w, ok := regFamily(r); ok && w == 64 {
						if v := st.regs[f]; v.k == absBnd && v.bits == 64 && v.n < 1<<40 {
							out[insts[i].pc] = vlaAmount{Bytes: int64(v.n), SubAssumed: st.subAssumed}
						} else {
							delete(out, insts[i].pc)
						}
					}
				}
			}
		}
		step(&st, in, insts[i].pc+uint64(in.Len), src, escaped)
		for _, j := range insts[i].next {
			old := states[j]
			nw := joinState(old, st)
			if old.ok && sameState(old, nw) {
				continue
			}
			visits[j]++
			if visits[j] > 32 {
				// Widening: what still changes is unknown.
				for r := range nw.regs {
					if nw.regs[r] != old.regs[r] {
						nw.regs[r] = top
					}
				}
				for k, v := range nw.slots {
					if ov, ok := old.slots[k]; !ok || ov != v {
						nw.slots[k] = top
					}
				}
				if visits[j] > 64 {
					return nil, fmt.Errorf("the pass did not settle at %#x", insts[j].pc)
				}
			}
			states[j] = nw
			work = append(work, j)
		}
	}
	return out, nil
}

// flowInst is one instruction of a function and where it goes next:
// next are its successors in the function (a jump's target first), jumpTo
// the index of a jump's target in the function (-1: none).
type flowInst struct {
	pc     uint64
	in     x86asm.Inst
	next   []int
	jumpTo int
}

// decodeFlow decodes code (at addr) into instructions and their
// successors. A jump out of the function to a function (isFunction) is a
// tail call and has no successor; any other jump out, an indirect jump,
// or a jump into the middle of an instruction is an error.
func decodeFlow(code []byte, addr uint64, isFunction func(uint64) bool) ([]flowInst, error) {
	var insts []flowInst
	index := map[uint64]int{}
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			return nil, fmt.Errorf("instruction at %#x not decoded: %v", addr+uint64(off), err)
		}
		index[addr+uint64(off)] = len(insts)
		insts = append(insts, flowInst{pc: addr + uint64(off), in: in, jumpTo: -1})
		off += in.Len
	}
	for i := range insts {
		in := insts[i].in
		end := insts[i].pc + uint64(in.Len)
		target := func() error {
			rel, ok := in.Args[0].(x86asm.Rel)
			if !ok {
				return fmt.Errorf("indirect jump at %#x", insts[i].pc)
			}
			t := uint64(int64(end) + int64(rel))
			if j, ok := index[t]; ok {
				insts[i].next = append(insts[i].next, j)
				insts[i].jumpTo = j
				return nil
			}
			if t >= addr && t < addr+uint64(len(code)) {
				return fmt.Errorf("jump at %#x into the middle of an instruction", insts[i].pc)
			}
			if isFunction == nil || !isFunction(t) {
				return fmt.Errorf("jump at %#x out of the function to %#x", insts[i].pc, t)
			}
			return nil
		}
		fall := true
		switch {
		case in.Op == x86asm.JMP:
			fall = false
			if err := target(); err != nil {
				return nil, err
			}
		case in.Op >= x86asm.JA && in.Op <= x86asm.JS && in.Op != x86asm.JMP, in.Op == x86asm.JRCXZ, in.Op == x86asm.JECXZ:
			if err := target(); err != nil {
				return nil, err
			}
		case in.Op == x86asm.RET, in.Op == x86asm.UD2, in.Op == x86asm.HLT:
			fall = false
		}
		if fall && i+1 < len(insts) {
			insts[i].next = append(insts[i].next, i+1)
		}
	}
	return insts, nil
}

// readReg is the value of register r read at its width: a bounded value
// read narrower than it is known is the read quantity's bound.
func readReg(st *absState, r x86asm.Reg) absVal {
	f, w, ok := regFamily(r)
	if !ok {
		return top
	}
	v := st.regs[f]
	if v.k != absBnd {
		if w == 64 {
			return v
		}
		return top
	}
	if w > int(v.bits) {
		return top // (only its low bits are known)
	}
	n := v.n
	if w < 64 && n > 1<<uint(w)-1 {
		n = 1<<uint(w) - 1
	}
	return absVal{k: absBnd, n: n, bits: uint8(w)}
}

func (v absVal) withBits(b uint8) absVal { v.bits = b; return v }

// writeReg sets register r: a 32-bit write clears the upper half, an 8-
// or 16-bit one keeps it (the register is then unknown).
func writeReg(st *absState, r x86asm.Reg, v absVal) {
	f, w, ok := regFamily(r)
	if !ok {
		return
	}
	if f == famRBP {
		st.rbpOK = false
		st.slots = map[int64]absVal{}
	}
	switch w {
	case 64:
	case 32:
		if v.k == absBnd && v.n <= 0xffffffff {
			v.bits = 64 // zero-extended
		} else {
			v = top
		}
	default:
		v = top
	}
	st.regs[f] = v
}

// step applies one instruction to st.
func step(st *absState, in x86asm.Inst, next uint64, src countSources, escaped bool) {
	dst, dstIsReg := in.Args[0].(x86asm.Reg)
	dmem, dstIsMem := in.Args[0].(x86asm.Mem)
	imm := func(i int) (int64, bool) {
		v, ok := in.Args[i].(x86asm.Imm)
		return int64(v), ok
	}
	if dstIsMem {
		// A store (or read-modify-write) into memory.
		switch {
		case dmem.Base == x86asm.RBP && st.rbpOK && dmem.Index == 0:
			v := top
			if in.Op == x86asm.MOV && in.MemBytes >= 4 {
				if r, ok := in.Args[1].(x86asm.Reg); ok {
					v = readReg(st, r)
					if v.k == absBnd {
						v.bits = uint8(8 * in.MemBytes)
					} else if in.MemBytes != 8 {
						v = top
					}
				}
			}
			for k := range st.slots {
				if k < memDisp(dmem)+8 && memDisp(dmem) < k+8 {
					delete(st.slots, k)
				}
			}
			if v.k != absTop {
				st.slots[memDisp(dmem)] = v
			}
		case dmem.Base == x86asm.RSP || dmem.Index != 0 || escaped:
			st.slots = map[int64]absVal{}
		}
	}
	switch in.Op {
	case x86asm.CMP, x86asm.TEST, x86asm.NOP, x86asm.JMP, x86asm.RET, x86asm.PUSH, x86asm.BT,
		x86asm.UD2, x86asm.HLT, x86asm.PREFETCHT0, x86asm.PAUSE:
		return
	case x86asm.CALL:
		for _, f := range sysvCallerSaved {
			st.regs[f] = top
		}
		if escaped {
			st.slots = map[int64]absVal{}
		}
		return
	}
	if in.Op >= x86asm.JA && in.Op <= x86asm.JS {
		return
	}
	if dstIsMem {
		switch in.Op {
		case x86asm.MOV, x86asm.ADD, x86asm.SUB, x86asm.AND, x86asm.OR, x86asm.XOR, x86asm.INC, x86asm.DEC:
			return
		}
	}
	if !dstIsReg {
		clobberAll(st)
		return
	}
	if f, _, ok := regFamily(dst); ok && f == famRSP {
		return // SP is the frame walker's
	}
	if _, _, ok := regFamily(dst); !ok {
		// A vector register: no general register written.
		switch in.Op {
		case x86asm.MOVAPS, x86asm.MOVUPS, x86asm.MOVDQA, x86asm.MOVDQU, x86asm.PXOR, x86asm.MOVQ, x86asm.MOVD, x86asm.PUNPCKLQDQ, x86asm.MOVHPS:
			return
		}
		clobberAll(st)
		return
	}
	a1 := in.Args[1]
	switch in.Op {
	case x86asm.MOV:
		switch s := a1.(type) {
		case x86asm.Reg:
			if d, _, _ := regFamily(dst); d == famRBP && s == x86asm.RSP {
				st.regs[famRBP] = top
				st.rbpOK = true
				st.slots = map[int64]absVal{}
				return
			}
			writeReg(st, dst, readReg(st, s))
		case x86asm.Imm:
			if int64(s) >= 0 {
				writeReg(st, dst, bnd(uint64(s)))
			} else {
				writeReg(st, dst, top)
			}
		case x86asm.Mem:
			writeReg(st, dst, load(st, s, in.MemBytes, next, src))
		default:
			writeReg(st, dst, top)
		}
	case x86asm.MOVZX:
		v := top
		switch s := a1.(type) {
		case x86asm.Reg:
			_, w, _ := regFamily(s)
			v = readReg(st, s)
			if v.k != absBnd || int(v.bits) > w {
				v = bnd(1<<uint(w) - 1)
			}
		case x86asm.Mem:
			v = bnd(1<<uint(8*in.MemBytes) - 1)
		}
		writeReg(st, dst, v.withBits(64))
	case x86asm.LEA:
		m, _ := a1.(x86asm.Mem)
		writeReg(st, dst, lea(st, m, next, src))
	case x86asm.ADD:
		d := readReg(st, dst)
		var v absVal
		if c, ok := imm(1); ok {
			switch {
			case d.k == absBnd && c >= 0 && d.n < 1<<40:
				v = bnd(d.n + uint64(c))
			case d.k == absNS:
				v = nsAt(d.off+c, src)
			}
		} else if r, ok := a1.(x86asm.Reg); ok {
			v = add(d, readReg(st, r), src)
		}
		writeReg(st, dst, v)
	case x86asm.SUB:
		d := readReg(st, dst)
		var v absVal
		if c, ok := imm(1); ok {
			if d.k == absNS {
				v = nsAt(d.off-c, src)
			}
		} else if r, ok := a1.(x86asm.Reg); ok && src.subNoWrap && r != dst {
			if s := readReg(st, r); d.k == absBnd && s.k == absBnd && s.n <= 1 {
				v = bnd(d.n)
				st.subAssumed = true
			}
		}
		writeReg(st, dst, v)
	case x86asm.SHL:
		d := readReg(st, dst)
		c, ok := imm(1)
		v := top
		if ok && c >= 0 && c < 32 {
			switch {
			case d.k == absBnd && d.n < 1<<(40-uint(c)):
				v = bnd(d.n << uint(c))
			case d.k == absMult:
				v = absVal{k: absMult, n: d.n << uint(c)}
			case d.k == absTop || d.k == absBnd:
				v = absVal{k: absMult, n: 1 << uint(c)}
			}
		}
		writeReg(st, dst, v)
	case x86asm.SHR:
		d := readReg(st, dst)
		v := top
		if c, ok := imm(1); ok && c >= 0 && c < 64 && d.k == absBnd {
			v = bnd(d.n >> uint(c))
		}
		writeReg(st, dst, v)
	case x86asm.AND:
		d := readReg(st, dst)
		v := top
		if c, ok := imm(1); ok {
			switch {
			case c < 0 && d.k == absBnd:
				v = bnd(d.n &^ uint64(^c))
			case c >= 0:
				v = bnd(uint64(c))
				if d.k == absBnd {
					v = bnd(min(d.n, uint64(c)))
				}
			}
		}
		writeReg(st, dst, v)
	case x86asm.XOR:
		if r, ok := a1.(x86asm.Reg); ok && r == dst {
			writeReg(st, dst, bnd(0))
			return
		}
		writeReg(st, dst, top)
	case x86asm.CMOVA, x86asm.CMOVAE, x86asm.CMOVB, x86asm.CMOVBE, x86asm.CMOVE, x86asm.CMOVG, x86asm.CMOVGE, x86asm.CMOVL,
		x86asm.CMOVLE, x86asm.CMOVNE, x86asm.CMOVNO, x86asm.CMOVNP, x86asm.CMOVNS, x86asm.CMOVO, x86asm.CMOVP, x86asm.CMOVS:
		v := top
		if r, ok := a1.(x86asm.Reg); ok {
			v = join(readReg(st, dst), readReg(st, r))
		}
		writeReg(st, dst, v)
	case x86asm.OR, x86asm.SAR, x86asm.ROL, x86asm.ROR, x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT,
		x86asm.SETA, x86asm.SETAE, x86asm.SETB, x86asm.SETBE, x86asm.SETE, x86asm.SETG, x86asm.SETGE, x86asm.SETL,
		x86asm.SETLE, x86asm.SETNE, x86asm.SETNO, x86asm.SETNP, x86asm.SETNS, x86asm.SETO, x86asm.SETP, x86asm.SETS,
		x86asm.MOVSX, x86asm.MOVSXD, x86asm.BSF, x86asm.BSR, x86asm.POPCNT, x86asm.TZCNT, x86asm.LZCNT, x86asm.ADC, x86asm.SBB,
		x86asm.POP, x86asm.MOVD, x86asm.MOVQ, x86asm.BSWAP:
		writeReg(st, dst, top)
	case x86asm.IMUL:
		if in.Args[1] != nil {
			writeReg(st, dst, top)
			return
		}
		clobberAll(st)
	default:
		clobberAll(st)
	}
}

// clobberAll forgets everything: an instruction whose writes the pass
// does not know.
func clobberAll(st *absState) {
	for i := range st.regs {
		st.regs[i] = top
	}
	st.slots = map[int64]absVal{}
	st.rbpOK = false
}

// nsAt is a pointer into the namespaces array off bytes from an element's
// start (off taken modulo the element size).
func nsAt(off int64, src countSources) absVal {
	if src.nsStride <= 0 {
		return top
	}
	off %= src.nsStride
	if off < 0 {
		off += src.nsStride
	}
	return absVal{k: absNS, off: off}
}

func add(a, b absVal, src countSources) absVal {
	switch {
	case a.k == absBnd && b.k == absBnd && a.n < 1<<40 && b.n < 1<<40:
		return bnd(a.n + b.n)
	case a.k == absNS && b.k == absMult && src.nsStride > 0 && int64(b.n)%src.nsStride == 0:
		return a
	case b.k == absNS && a.k == absMult && src.nsStride > 0 && int64(a.n)%src.nsStride == 0:
		return b
	}
	return top
}

// lea computes the address of m.
func lea(st *absState, m x86asm.Mem, next uint64, src countSources) absVal {
	if m.Segment != 0 {
		return top
	}
	if m.Base == x86asm.RIP {
		if m.Index != 0 {
			return top
		}
		a := uint64(int64(next) + memDisp(m))
		if src.nsBase != 0 && a >= src.nsBase && int64(a-src.nsBase) < src.nsStride {
			return nsAt(int64(a-src.nsBase), src)
		}
		return top
	}
	v := absVal{k: absBnd, bits: 64}
	if m.Base != 0 {
		v = readReg(st, m.Base)
	}
	if m.Index != 0 {
		x := readReg(st, m.Index)
		s := uint64(m.Scale)
		var ix absVal
		switch {
		case x.k == absBnd && x.n < 1<<36:
			ix = bnd(x.n * s)
		case x.k == absMult:
			ix = absVal{k: absMult, n: x.n * s}
		case s > 1 && m.Base != m.Index:
			ix = absVal{k: absMult, n: s}
		}
		if m.Base == m.Index && x.k != absBnd {
			// (x + x*s): a multiple of s+1 times what x is a multiple of.
			mult := uint64(1)
			if x.k == absMult {
				mult = x.n
			}
			v = absVal{k: absMult, n: mult * (s + 1)}
		} else {
			v = add(v, ix, src)
		}
	}
	switch {
	case v.k == absNS:
		return nsAt(v.off+memDisp(m), src)
	case v.k == absBnd && memDisp(m) >= 0 && v.n < 1<<40:
		return bnd(v.n + uint64(memDisp(m)))
	case v.k == absMult && memDisp(m) == 0:
		return v
	}
	return top
}

// load reads width bytes at m.
func load(st *absState, m x86asm.Mem, width int, next uint64, src countSources) absVal {
	if m.Segment != 0 {
		return top
	}
	if m.Base == x86asm.RBP && st.rbpOK && m.Index == 0 {
		v, ok := st.slots[memDisp(m)]
		switch {
		case !ok:
			return top
		case v.k == absBnd && 8*width <= int(v.bits):
			n := v.n
			if width < 8 && n > 1<<uint(8*width)-1 {
				n = 1<<uint(8*width) - 1
			}
			return absVal{k: absBnd, n: n, bits: uint8(8 * width)}
		case v.k != absBnd && width == 8:
			return v
		}
		return top
	}
	// The count field of a namespace: its address, base and index as
	// lea computes them (a RIP-relative one included).
	if a := lea(st, m, next, src); a.k == absNS && width == 4 && src.nsStride > 0 && a.off == src.nsField {
		return bnd(src.nsMax)
	}
	return top
}

// memDisp is m's displacement: x86asm keeps a 32-bit one unextended.
func memDisp(m x86asm.Mem) int64 { return int64(int32(m.Disp)) }
