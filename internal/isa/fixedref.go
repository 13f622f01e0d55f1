package isa

// FixedRef is what an instruction does with a memory operand at a fixed
// address (x86-64: [rip+d], [d32]): whether it may write the bytes
// [Addr, Addr+Size), or only computes the address (lea), which lets the
// address escape into a register.
type FixedRef struct {
	Addr     uint64
	Size     int64
	MayWrite bool
	Address  bool // lea: the address itself, no access
}

// FixedRefReader is implemented by a Decoder that can describe an
// instruction's fixed-address memory operand. ok is false when the bytes
// do not decode; has is false when the instruction has no such operand.
// A model that must know every write of a variable (callgraph's printf
// tables) scans a library's code with it.
type FixedRefReader interface {
	FixedRef(code []byte, pc uint64) (ref FixedRef, has, ok bool)
}
