package arm64

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// Addressing modes of a load or store with an immediate.
const (
	modeOffset = iota // [xn, #imm]
	modePost          // [xn], #imm: xn += imm after
	modePre           // [xn, #imm]!: xn += imm before
)

// loadStore decodes the loads and stores (op0 = x1x0): the SP writeback,
// SP- and x29-relative accesses, and the registers written. A class this
// function does not know is an error, so that a frame with one is unknown
// rather than wrong.
func loadStore(e *isa.Effect, x uint32, pc uint64) string {
	rt, rn := x&31, x>>5&31
	v := x>>26&1 == 1
	use(e, rn)
	switch {
	case x>>27&7 == 5: // load/store pair
		return pair(e, x, rt, rn, v)
	case x>>27&7 == 7: // load/store register
		return single(e, x, rt, rn, v)
	case x>>27&7 == 3 && x>>24&3 == 0: // load register (literal)
		opc := x >> 30
		size := [4]uint8{4, 8, 4, 0}[opc]
		if v {
			size = [4]uint8{4, 8, 16, 0}[opc]
		}
		e.Literal, e.LiteralSize = pc+uint64(signExtend(x>>5&0x7FFFF, 19)*4), size
		if !v && opc != 3 {
			write(e, rt, isa.DefOther)
			if opc == 1 {
				e.DefKind, e.HasMem, e.MemBase, e.MemDisp = isa.DefLoad, true, -1, int64(e.Literal)
			}
		}
		if size == 0 {
			e.Literal = 0 // prfm: reads nothing
		}
		return ""
	case x>>24&0x3F == 0x08: // load/store exclusive, compare and swap
		exclusive(e, x, rt)
		return ""
	case x>>24&0x3F == 0x19 && x>>21&1 == 0 && x>>10&3 == 0: // ldapur/stlur
		if x>>22&3 != 0 {
			write(e, rt, isa.DefOther)
		}
		return ""
	case x>>24 == 0xD9 && x>>21&1 == 1: // memory tags (stg, ldg, ...)
		opc, op2 := x>>22&3, x>>10&3
		if op2 == 0 && (opc == 1 || opc == 3) { // ldg, ldgm
			write(e, rt, isa.DefOther)
		}
		if op2 == 1 || op2 == 3 { // post- or pre-index
			if rn == regSP {
				e.SP = isa.SPUnknown
			} else {
				also(e, rn)
			}
		}
		return ""
	case x>>31 == 0 && x>>23&0x7C == 0x18: // SIMD load/store structures
		if x>>23&1 == 1 { // post-index
			if rn == regSP {
				e.SP = isa.SPUnknown
			} else {
				also(e, rn)
			}
		}
		return ""
	}
	return fmt.Sprintf("load/store %#08x not modelled", x)
}

// pair is ldp/stp and their kin (ldnp, ldpsw, stgp, the SIMD forms).
func pair(e *isa.Effect, x, rt, rn uint32, v bool) string {
	opc, load := x>>30, x>>22&1 == 1
	var elem int64
	scale := uint(0)
	switch {
	case opc == 3:
		return fmt.Sprintf("unallocated load/store pair %#08x", x)
	case v:
		elem = 4 << opc
	case opc == 1 && !load: // stgp: two X registers, a 16-byte granule offset
		elem, scale = 8, 4
	case opc == 1: // ldpsw
		elem = 4
	default:
		elem = 4 << (opc >> 1)
	}
	if scale == 0 {
		scale = uint(trailing(elem))
	}
	imm := signExtend(x>>15&0x7F, 7) << scale
	mode := [4]int{modeOffset, modePost, modeOffset, modePre}[x>>23&3]
	if load && !v {
		write(e, rt, isa.DefOther)
		also(e, x>>10&31)
		if elem == 8 && opc == 2 {
			e.DefKind, e.HasMem, e.MemBase = isa.DefLoad, true, int8(rn)
			if mode != modePost {
				e.MemDisp = imm
			}
		}
	}
	addressing(e, rn, mode, imm, 2*elem)
	return ""
}

// single is ldr/str (immediate, unscaled, pre/post-index, unprivileged,
// register offset), the atomic memory operations and ldraa/ldrab.
func single(e *isa.Effect, x, rt, rn uint32, v bool) string {
	size, opc := x>>30, x>>22&3
	elem := int64(1) << size
	load := opc != 0
	prefetch := false
	if v {
		if opc&2 != 0 {
			if size != 0 {
				return fmt.Sprintf("unallocated SIMD load/store %#08x", x)
			}
			elem = 16
		}
		load = opc&1 == 1
	} else if opc == 2 && size == 3 {
		prefetch, load = true, false
	}
	writesRt := load && !v
	wide := !v && size == 3 && opc == 1 // ldr xt: a pointer-sized load
	switch {
	case x>>24&1 == 1: // unsigned offset
		imm := int64(x>>10&0xFFF) << uint(trailing(elem))
		loadDef(e, rt, rn, modeOffset, imm, writesRt, wide)
		if !prefetch {
			addressing(e, rn, modeOffset, imm, elem)
		}
	case x>>21&1 == 0: // imm9: unscaled, post-index, unprivileged, pre-index
		imm := signExtend(x>>12&0x1FF, 9)
		mode := [4]int{modeOffset, modePost, modeOffset, modePre}[x>>10&3]
		loadDef(e, rt, rn, mode, imm, writesRt, wide)
		if !prefetch {
			addressing(e, rn, mode, imm, elem)
		}
	case x>>10&3 == 2: // register offset
		if writesRt {
			write(e, rt, isa.DefOther)
			if wide && x>>13&7 == 3 { // lsl/uxtx: [xn, xm{, lsl #3}]
				e.DefKind, e.HasMem, e.MemBase, e.MemIndex, e.MemScale = isa.DefLoad, true, int8(rn), int8(x>>16&31), 1
				if x>>12&1 == 1 {
					e.MemScale = 8
				}
			}
		}
	case x>>10&1 == 1: // ldraa/ldrab
		if v || size != 3 {
			return fmt.Sprintf("unallocated load %#08x", x)
		}
		imm := signExtend(x>>22&1<<9|x>>12&0x1FF, 10) << 3
		write(e, rt, isa.DefOther)
		mode := modeOffset
		if x>>11&1 == 1 {
			mode = modePre
		}
		addressing(e, rn, mode, imm, 8)
	default: // atomic memory operations: the old value into Rt
		if !v {
			write(e, rt, isa.DefOther)
		}
	}
	return ""
}

// loadDef sets the def of a load's Rt.
func loadDef(e *isa.Effect, rt, rn uint32, mode int, imm int64, writesRt, wide bool) {
	if !writesRt {
		return
	}
	write(e, rt, isa.DefOther)
	if wide && rt != rn {
		e.DefKind, e.HasMem, e.MemBase = isa.DefLoad, true, int8(rn)
		if mode != modePost {
			e.MemDisp = imm
		}
	}
}

// addressing records what a load or store with an immediate does to SP
// (writeback) and which SP- or x29-relative bytes it touches.
func addressing(e *isa.Effect, rn uint32, mode int, imm, size int64) {
	if mode != modeOffset {
		if rn == regSP {
			e.SP, e.SPDelta = isa.SPAdd, imm
		} else {
			also(e, rn)
		}
		return
	}
	switch rn {
	case regSP:
		e.Access, e.AccessOff, e.AccessSize = isa.BaseSP, imm, size
	case regFP:
		e.Access, e.AccessOff, e.AccessSize = isa.BaseFP, imm, size
	}
}

// exclusive is the load/store exclusive class and compare-and-swap.
func exclusive(e *isa.Effect, x, rt uint32) {
	o2, load, o1, rs := x>>23&1, x>>22&1 == 1, x>>21&1, x>>16&31
	size := x >> 30
	switch {
	case o1 == 1 && (o2 == 1 || size < 2): // cas, casp
		write(e, rs, isa.DefOther)
		if o2 == 0 {
			also(e, rs+1)
		}
	case !load && o2 == 0: // stxr, stxp: the status register
		write(e, rs, isa.DefOther)
	case load:
		write(e, rt, isa.DefOther)
		if o1 == 1 && o2 == 0 { // ldxp
			also(e, x>>10&31)
		}
	}
}

// trailing is log2 of a power of two.
func trailing(v int64) int {
	n := 0
	for v > 1 {
		v >>= 1
		n++
	}
	return n
}
