package callgraph

import (
	"slices"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// Values kept in the function's own stack frame. GCC spills a callback
// it needs after a call to a slot of its frame and reloads it before the
// indirect call (__tsearch keeps its comparator at 0x18(%rsp) across the
// loop's calls), so the data flow of argcallback.go follows values
// through the frame's 8-byte slots too: a slot written with a register
// the flow knows (`mov [rsp+k], r`, push r) holds that value until
// something may write it, and a load of the slot (`mov r, [rsp+k]`) gives
// the value back. What may write a slot, and how that is kept a proof:
//   - nothing outside the function can name the frame: no address in it
//     leaves rsp and the frame pointer (rbp, when set from rsp). An
//     instruction that reads either as a value other than to move the
//     stack (lea r,[rsp+k], mov r,rsp, push rbp while it holds a frame
//     address, enter, xchg, a store of either) makes the function's
//     slots unknown altogether;
//   - in the function, any instruction whose memory operand is based on
//     (or indexed by) a register that may hold a frame address may write
//     what it covers; where its address is not known, every slot;
//   - a call may write below the SP it is made with (the return address,
//     the callee's frame) and its stack arguments, which the callee owns:
//     the run of words from that SP up that the function writes anywhere
//     (a stack argument is one of them; a compiler keeps no value there
//     across a call);
//   - a signal handler may write below the red zone (128 bytes under SP),
//     and a slot is forgotten there; an SP the flow cannot follow (and
//     rsp,-32; alloca) forgets every slot.
// Offsets are from the SP at the function's entry (valStack values).

// valStack is a regVal kind: the SP at the function's entry plus c (as
// int64), an address in the frame.
const valStack uint8 = 100

const (
	regSP = 4
	regFP = 5
	// redZone is what the x86-64 System V ABI keeps below SP from signal
	// handlers.
	redZone = 128
)

// slotVal is what an 8-byte slot of the frame at off (from the entry SP)
// holds.
type slotVal struct {
	off int64
	v   regVal
}

// slotSet is a set of slots with known values, sorted by offset.
type slotSet []slotVal

func (s slotSet) get(off int64) (regVal, bool) {
	for _, sv := range s {
		if sv.off == off {
			return sv.v, true
		}
	}
	return regVal{}, false
}

// without returns s less the slots that overlap [lo, hi).
func (s slotSet) without(lo, hi int64) slotSet {
	if !slices.ContainsFunc(s, func(sv slotVal) bool { return sv.off < hi && sv.off+8 > lo }) {
		return s
	}
	out := make(slotSet, 0, len(s))
	for _, sv := range s {
		if sv.off < hi && sv.off+8 > lo {
			continue
		}
		out = append(out, sv)
	}
	return out
}

// with returns s with the slot at off holding v (a value the flow does
// not know is no entry).
func (s slotSet) with(off int64, v regVal) slotSet {
	out := s.without(off, off+8)
	if v.kind != valConst && v.kind != valEntry {
		return out
	}
	out = slices.Clone(out)
	i, _ := slices.BinarySearchFunc(out, off, func(sv slotVal, off int64) int {
		switch {
		case sv.off < off:
			return -1
		case sv.off > off:
			return 1
		}
		return 0
	})
	return slices.Insert(out, i, slotVal{off, v})
}

// meet keeps the slots a and b agree on.
func (a slotSet) meet(b slotSet) (slotSet, bool) {
	var out slotSet
	for _, sv := range a {
		if v, ok := b.get(sv.off); ok && v == sv.v {
			out = append(out, sv)
		}
	}
	return out, len(out) != len(a)
}

// frameScan is what the slot flow knows of one function's instructions.
type frameScan struct {
	ops []x86.Operands // by instruction
	// fp: some instruction sets rbp from rsp (a frame pointer).
	fp bool
	// words are the 8-byte words of the frame (offset/8) the function
	// writes at an address the flow resolves; blind says it writes the
	// frame somewhere it does not resolve (a call then forgets every
	// slot).
	words map[int64]bool
	blind bool
}

// scanFrame decodes the operands of insts (a function's code from its
// start) and says whether following its slots can tell anything: a load
// from the frame into a register and a store of a register to it.
func scanFrame(insts []linearInst, code []byte, start uint64) (*frameScan, bool) {
	load, store := false, false
	for _, in := range insts {
		e := in.e
		if e.DefKind == isa.DefLoad && e.HasMem && (e.MemBase == regSP || e.MemBase == regFP) {
			load = true
		}
		if e.HasStore {
			store = true
		}
	}
	if !load || !store {
		return nil, false
	}
	fs := &frameScan{ops: make([]x86.Operands, len(insts)), words: map[int64]bool{}}
	for i, in := range insts {
		ops, ok := x86.DecodeOperands(code[in.addr-start:])
		if !ok {
			return nil, false
		}
		fs.ops[i] = ops
		if ops.Reads&(1<<regSP) != 0 && ops.Dest == regFP {
			fs.fp = true
		}
	}
	return fs, true
}

// mayHoldFrame says whether register r may hold an address in the frame
// before an instruction whose register values are in: rsp always; rbp
// when the function sets it from rsp, unless the flow knows it holds
// something else there (the caller's rbp, a constant).
func (fs *frameScan) mayHoldFrame(in *regState, r int8) bool {
	switch {
	case r == regSP:
		return true
	case r == regFP && fs.fp:
		v := in[regFP]
		return !(v.kind == valConst || v.kind == valEntry && v.reg != regSP)
	}
	return false
}

// leaks says whether instruction i, with register values in, lets an
// address in the frame out of rsp and rbp.
func (fs *frameScan) leaks(i int, in *regState) bool {
	ops := fs.ops[i]
	if ops.Enter {
		return true
	}
	for _, r := range []int8{regSP, regFP} {
		if ops.Reads&(1<<r) == 0 || !fs.mayHoldFrame(in, r) {
			continue
		}
		if !ops.Safe || ops.HasMem && ops.MemWrite || ops.Dest != -1 && ops.Dest != regSP && ops.Dest != regFP {
			return true
		}
	}
	return false
}

// memAddr returns the frame address of instruction i's memory operand:
// frame says the operand may be in the frame, known that its offset is
// known (off).
func (fs *frameScan) memAddr(i int, in *regState) (off int64, frame, known bool) {
	ops := fs.ops[i]
	if !ops.HasMem {
		return 0, false, false
	}
	baseFrame := ops.MemBase >= 0 && fs.mayHoldFrame(in, ops.MemBase)
	indexFrame := ops.MemIndex >= 0 && fs.mayHoldFrame(in, ops.MemIndex)
	if !baseFrame && !indexFrame {
		return 0, false, false
	}
	if indexFrame || ops.MemIndex >= 0 || in[ops.MemBase].kind != valStack {
		return 0, true, false
	}
	return int64(in[ops.MemBase].c) + ops.MemDisp, true, true
}

// record notes, after the register flow, the frame words instruction i
// writes (words, blind), and reports whether it leaks a frame address.
func (fs *frameScan) record(i int, in *regState) (leak bool) {
	if fs.leaks(i, in) {
		return true
	}
	ops := fs.ops[i]
	if off, frame, known := fs.memAddr(i, in); frame && ops.MemWrite {
		if !known || ops.MemSize <= 0 {
			fs.blind = true
			return false
		}
		for w := floorDiv(off, 8); w <= floorDiv(off+ops.MemSize-1, 8); w++ {
			fs.words[w] = true
		}
	}
	return false
}

// movesOnly says whether instruction i only computes SP (sub, add, lea
// or and into rsp, no memory operand): when it moves SP down it writes
// nothing there, unlike a push.
func (fs *frameScan) movesOnly(i int) bool {
	ops := fs.ops[i]
	return ops.Safe && ops.Dest == regSP && !ops.HasMem
}

// recordPush notes the word a push (an SP moved down by a non-call
// instruction) writes, from SP old to new.
func (fs *frameScan) recordPush(old, new regVal) {
	if old.kind != valStack || new.kind != valStack {
		fs.blind = true
		return
	}
	for w := floorDiv(int64(new.c), 8); w <= floorDiv(int64(old.c)-1, 8); w++ {
		fs.words[w] = true
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// spAfter is SP's value after instruction e, from the values before it.
func spAfter(e *isa.Effect, in *regState) regVal {
	sp := in[regSP]
	switch e.SP {
	case isa.SPNone:
		return sp
	case isa.SPAdd:
		if sp.kind == valStack {
			return regVal{kind: valStack, c: uint64(int64(sp.c) + e.SPDelta)}
		}
	case isa.SPFromFP:
		if fp := in[regFP]; fp.kind == valStack && !e.HasSPReg {
			return regVal{kind: valStack, c: uint64(int64(fp.c) + e.SPDelta)}
		}
	}
	return regVal{}
}

// step applies instruction i (effect e) to the frame: in are the
// registers before it, out after it (the register flow's own effects
// applied; step sets SP, a frame pointer moved with it, and a register
// loaded from a slot), slots the slots before it. It returns the slots
// after it.
func (fs *frameScan) step(i int, e *isa.Effect, in, out *regState, slots slotSet) slotSet {
	ops := fs.ops[i]
	sp := spAfter(e, in)
	out[regSP] = sp
	if e.DefKind == isa.DefAddImm && e.DefReg == regFP && e.DefSrc >= 0 && e.DefSrc < 16 && in[e.DefSrc].kind == valStack {
		out[regFP] = regVal{kind: valStack, c: uint64(int64(in[e.DefSrc].c) + e.DefValue)}
	}
	off, frame, known := fs.memAddr(i, in)
	switch {
	case frame && ops.MemWrite:
		switch {
		case !known || ops.MemSize <= 0:
			slots = nil
		case e.HasStore && ops.MemSize == 8 && off < 0:
			slots = slots.with(off, in[e.StoreSrc&15])
		default:
			slots = slots.without(off, off+ops.MemSize)
		}
	case frame && e.DefKind == isa.DefLoad && e.HasMem && ops.MemSize == 8 && ops.Dest == e.DefReg:
		out[e.DefReg&15] = regVal{}
		if known {
			if v, ok := slots.get(off); ok {
				out[e.DefReg&15] = v
			}
		}
	}
	old := in[regSP]
	switch {
	case e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall:
		if old.kind != valStack || fs.blind {
			return nil
		}
		// Below the SP of the call, and the stack arguments: the run of
		// words the function writes from it up.
		top := floorDiv(int64(old.c), 8)
		for fs.words[top] {
			top++
		}
		slots = slots.without(-1<<62, top*8)
	case sp.kind == valStack && old.kind == valStack && int64(sp.c) < int64(old.c) && !fs.movesOnly(i):
		// A push: the words it covers, and the register it stores.
		slots = slots.without(int64(sp.c), int64(old.c))
		if e.HasStore && !ops.HasMem && int64(old.c)-int64(sp.c) == 8 && int64(sp.c) < 0 {
			slots = slots.with(int64(sp.c), in[e.StoreSrc&15])
		}
	}
	if sp.kind != valStack {
		return nil
	}
	return slots.without(-1<<62, int64(sp.c)-redZone)
}

// frameSlotLoad says whether v, an indirect call's target as the frame
// walk reads it, is a word loaded from the frame ([rsp+k], [rbp-k]): a
// value the code may have kept there.
func frameSlotLoad(v *frame.Value) bool {
	a := v.Addr
	return v.Kind == frame.ValueLoad && a != nil && a.Kind == frame.ValueReg && !a.Indexed && (a.Reg == regSP || a.Reg == regFP)
}
