package emu

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
	"github.com/stackscope/stackscope/internal/srcloc"
)

// Frame is one frame of a measured backtrace: where the code was and the
// stack pointer there. Size is the frame's bytes (the caller's SP minus
// this SP), 0 when the next frame up was not found.
type Frame struct {
	PC       uint64 `json:"pc"`
	Function string `json:"function"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	SP       uint64 `json:"sp"`
	Size     int64  `json:"size"`
	// Exception marks a frame the core pushed on an exception entry (the
	// frame below it is the handler's).
	Exception bool `json:"exception,omitempty"`
}

// unwinder walks a halted core's stack with the image's call-frame
// information (.debug_frame): each frame's CFA rule and where its return
// address was saved. Exception frames on the same stack are followed
// through EXC_RETURN.
type unwinder struct {
	f     *binfile.File
	cfi   *cfi.Table
	lines *srcloc.Table
	// splice maps an SP that inject's --at moved to the SP it replaced,
	// so that the frames above the fired function are read where they are.
	splice map[uint64]uint64
}

// maxFrames bounds a walk (a corrupt stack must end it).
const maxFrames = 64

// excReturn reports whether v is an EXC_RETURN value.
func excReturn(v uint32) bool { return v >= 0xffffff00 }

// backtrace walks from pc, sp, lr (lr meaningful only in the first frame
// of a run of frames: at a stop or after an exception frame). Where it
// stops: no CFI for a PC, a return to the process stack (which the GDB
// stub of QEMU 7.2 does not expose), a zero or non-code return address.
// r7 is Thumb's frame pointer in code built with -O0, which makes the CFA
// r7-relative: r7Valid says its value is known (at a stop; then wherever a
// callee saved it).
func (u *unwinder) backtrace(m *Machine, pc, sp, lr, r7 uint32, r7Valid bool) []Frame {
	var out []Frame
	lrValid := true
	for len(out) < maxFrames {
		fr := u.frame(uint64(pc), uint64(sp))
		if u.cfi == nil {
			out = append(out, fr)
			break
		}
		rule, ok := u.cfi.UnwindAt(uint64(pc &^ 1))
		if !ok {
			out = append(out, fr)
			break
		}
		cfa := sp + uint32(rule.CFAOffset)
		if rule.CFAReg == cfi.ARMFramePointer {
			if !r7Valid {
				out = append(out, fr)
				break
			}
			cfa = r7 + uint32(rule.CFAOffset)
		}
		if cfa < sp {
			out = append(out, fr)
			break
		}
		fr.Size = int64(cfa - sp)
		out = append(out, fr)
		if rule.FPSaved {
			b, err := m.ReadMemory(uint64(int64(cfa)+rule.FPOffset), 4)
			if err != nil {
				return out
			}
			r7, r7Valid = binary.LittleEndian.Uint32(b), true
		}
		var ra uint32
		switch {
		case rule.RASaved:
			b, err := m.ReadMemory(uint64(int64(cfa)+rule.RAOffset), 4)
			if err != nil {
				return out
			}
			ra = binary.LittleEndian.Uint32(b)
		case lrValid:
			ra = lr
		default:
			return out
		}
		lrValid = false
		if excReturn(ra) {
			// The core pushed r0-r3, r12, lr, pc, xPSR (and the FP
			// registers when EXC_RETURN bit 4 is clear) at cfa on entry.
			const toPSP, basicFrame = 1 << 2, 1 << 4
			if ra&toPSP != 0 {
				return out
			}
			b, err := m.ReadMemory(uint64(cfa), 32)
			if err != nil {
				return out
			}
			size := uint32(32)
			if ra&basicFrame == 0 {
				size = 0x68
			}
			xpsr := binary.LittleEndian.Uint32(b[28:])
			if xpsr&(1<<9) != 0 {
				size += 4 // the core aligned SP to 8 bytes
			}
			out = append(out, Frame{PC: uint64(cfa), Function: "(exception frame)", SP: uint64(cfa), Size: int64(size), Exception: true})
			pc, lr, sp = binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint32(b[20:]), cfa+size
			lrValid = true
			// r7 is not stacked, but a handler saves and restores it like
			// any callee: the value the walk holds is the interrupted one.
			continue
		}
		if ra <= 1 {
			return out
		}
		if _, ok := u.f.Containing(uint64(ra &^ 1)); !ok {
			return out
		}
		// The return address is the instruction after the call: look up
		// the call itself (ra-2 is inside it for 16- and 32-bit calls).
		pc, sp = (ra&^1)-2, cfa
		if to, ok := u.splice[uint64(sp)]; ok {
			sp = uint32(to)
		}
	}
	return out
}

func (u *unwinder) frame(pc, sp uint64) Frame {
	fr := Frame{PC: pc &^ 1, SP: sp, Function: "?"}
	if fn, ok := u.f.Containing(pc &^ 1); ok {
		fr.Function = fn.Name()
	}
	if u.lines != nil {
		if loc, ok := u.lines.At(pc &^ 1); ok {
			fr.File, fr.Line = loc.File, loc.Line
		}
	}
	return fr
}
