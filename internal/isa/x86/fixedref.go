package x86

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/isa"
)

// FixedRef describes the instruction's memory operand at a fixed address
// (see isa.FixedRefReader). It errs towards writing: a memory first
// operand is written unless the instruction only reads its first operand
// (cmp, test, push, call, jmp, bt), a memory second operand is written by
// xchg, xadd and cmpxchg, and an operand x86asm gives no size counts as 64
// bytes (xsave areas are larger; they are not kept at fixed addresses).
func (Decoder) FixedRef(code []byte, pc uint64) (ref isa.FixedRef, has, ok bool) {
	defer func() {
		if recover() != nil {
			ref, has, ok = isa.FixedRef{}, false, false
		}
	}()
	inst, err := x86Decode(code, 64)
	if err != nil || inst.Op == 0 {
		return isa.FixedRef{}, false, reservedNop(code)
	}
	for i, a := range inst.Args {
		if a == nil {
			break
		}
		m, isMem := a.(x86asm.Mem)
		if !isMem {
			continue
		}
		addr, fixed := slotOf(&inst, pc, m)
		if !fixed {
			continue
		}
		size := memSize(&inst)
		if size <= 0 {
			size = 64
		}
		ref = isa.FixedRef{Addr: addr, Size: size}
		switch {
		case inst.Op == x86asm.LEA:
			ref.Address = true
		case noAccess(inst.Op):
		case i == 0:
			ref.MayWrite = !readOnlyFirst(inst.Op) // (mul [m] and kin: a source)
		default:
			ref.MayWrite = writesSecond(inst.Op) || inst.Op == x86asm.CMPXCHG
		}
		return ref, true, true
	}
	return isa.FixedRef{}, false, true
}
