package threads

import (
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// The constant propagation that finds task stack sizes also serves the
// Cortex-M priority model (analysis): which constants a function stores to
// which fixed addresses. Scan is that view of it.

// WordKind says what the propagation knows of a 32-bit value.
type WordKind uint8

const (
	WordUnknown WordKind = iota
	// WordConst: the constant Value.
	WordConst
	// WordLoaded: the Size-byte value read from address From, except the
	// bits in Mask, which are those of Bits (a read-modify-write); no call
	// and no store that could write From came between the read and here.
	WordLoaded
	// WordNear: an address of the System Control Space (Value) plus an
	// offset that is not known.
	WordNear
)

// Word is what the propagation knows of a register or a stored value.
type Word struct {
	Kind       WordKind
	Value      uint32
	From       uint64
	Size       int
	Mask, Bits uint32
}

// Const is the known constant v.
func Const(v uint32) Word { return Word{Kind: WordConst, Value: v} }

// Store is one store instruction to an address outside the stack: a
// constant (WordConst) or near one (WordNear). Size is 1, 2 or 4 bytes, or
// 0 for a store of several registers (stm, strd), whose values are unknown.
type Store struct {
	At   uint64
	Size int
	Addr Word
	Val  Word
}

// Call is one call (or tail call) in the function, with its argument
// registers r0-r3.
type Call struct {
	At     uint64
	Callee int
	Args   [4]Word
}

// Scan runs the propagation over node id of the main module (Thumb only),
// with the argument registers args at its entry (nil or WordUnknown: not
// known), and returns its stores to fixed addresses and its calls.
func Scan(g *callgraph.Graph, id int, args []Word) ([]Store, []Call) {
	if g == nil || id < 0 || id >= len(g.Nodes) || g.Arch != binfile.ArchThumb {
		return nil, nil
	}
	n := g.Nodes[id]
	if n.Module != g.Modules[0] || n.Func == nil || n.Hub {
		return nil, nil
	}
	f := n.Module.File
	code, err := f.Code(n.Func.Addr, n.Func.Size)
	if err != nil || len(code) == 0 {
		return nil, nil
	}
	ai := thumbInfo
	insts := decodeAll(g.Decoder, f, n.Func.Addr, code, ai, n.Frame.CaseTables)
	byAddr := map[uint64]memOp{}
	want := map[uint64]bool{}
	for _, in := range insts {
		if in.m.store || in.m.multi {
			want[in.addr], byAddr[in.addr] = true, in.m
		}
	}
	callee := map[uint64]int{}
	for _, e := range n.Edges {
		want[e.Site] = true
		if _, seen := callee[e.Site]; seen {
			callee[e.Site] = -1 // several targets: not one known callee
		} else {
			callee[e.Site] = e.To
		}
	}
	var stores []Store
	var calls []Call
	at := func(addr uint64, s *state) {
		if c, ok := callee[addr]; ok {
			call := Call{At: addr, Callee: c}
			for i, r := range ai.args {
				call.Args[i] = toWord(s.regs[r])
			}
			calls = append(calls, call)
		}
		m, ok := byAddr[addr]
		if !ok {
			return
		}
		where := s.address(m)
		if where.k != vConst && !(where.k == vNear && inSCS(where.v)) {
			return
		}
		st := Store{At: addr, Size: int(max(m.width, 4)), Addr: toWord(where)}
		if m.width != 0 {
			st.Size = int(m.width)
		}
		switch {
		case m.multi, m.pair:
			st.Size = 0
		case m.useImm:
			st.Val = toWord(m.imm)
		default:
			st.Val = toWord(s.regs[m.reg])
		}
		stores = append(stores, st)
	}
	h := hooks{want: want, at: at, orphanLoops: true}
	sweep(ai, insts, h, func(s *state) {
		for i, a := range args {
			if i < len(ai.args) {
				s.regs[ai.args[i]] = fromWord(a)
			}
		}
	})
	return stores, calls
}

func toWord(v value) Word {
	switch v.k {
	case vConst:
		return Const(uint32(v.v))
	case vNear:
		return Word{Kind: WordNear, Value: uint32(v.v)}
	case vMem:
		if v.sh != 0 {
			return Word{} // its unchanged bits are not in place
		}
		return Word{Kind: WordLoaded, From: uint64(uint32(v.v)), Size: int(v.n), Mask: v.mask, Bits: v.bits}
	}
	return Word{}
}

func fromWord(w Word) value {
	switch w.Kind {
	case WordConst:
		return constant(int64(w.Value))
	case WordNear:
		return value{k: vNear, v: int64(w.Value)}
	}
	return unknown
}
