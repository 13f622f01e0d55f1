package emu

import (
	"encoding/binary"
	"fmt"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
)

// maxInjectFrames bounds an injection backtrace.
const maxInjectFrames = 16

// dwarfLR is LR's DWARF register number on ARM.
const dwarfLR = 14

// backtrace unwinds the stopped core with the image's call-frame
// information (.debug_frame): each frame's CFA from the rule at its PC,
// the return address from where the rule says LR was saved (or LR itself
// in the innermost frame). splice maps an SP that --at moved to the one
// it replaced, so the frames above the fired function are read where they
// are. It stops at code it has no rule for, an exception return, or a
// return address outside code, and says so in the last line.
func backtrace(m *Machine, f *binfile.File, res *analysis.Result, tab *cfi.Table, regs *Registers, splice map[uint64]uint64) []string {
	pc, sp, lr := uint64(regs.PC()), uint64(regs.SP()), uint64(regs.LR())
	out := []string{where(f, res, pc)}
	if tab == nil {
		return append(out, "(no call-frame information: not unwound)")
	}
	for i := 0; i < maxInjectFrames; i++ {
		off, ok := tab.CFAOffset(pc)
		if !ok {
			return append(out, fmt.Sprintf("(no frame rule at %#x: not unwound further)", pc))
		}
		cfa := sp + uint64(off)
		at, saved, ok := tab.SavedAt(pc, dwarfLR)
		if !ok {
			return out
		}
		ra := lr
		if saved {
			b, err := m.ReadMemory(cfa+uint64(at), 4)
			if err != nil {
				return append(out, fmt.Sprintf("(the return address at %#x cannot be read)", cfa+uint64(at)))
			}
			ra = uint64(binary.LittleEndian.Uint32(b))
		} else if i > 0 {
			return append(out, fmt.Sprintf("(%#x keeps its return address in LR: not unwound further)", pc))
		}
		if ra == 0xffffffff {
			return out // the reset handler's LR: the chain's end
		}
		if ra >= 0xffffff00 {
			return append(out, "(exception entry)")
		}
		if _, ok := f.Containing(ra &^ 1); !ok {
			return append(out, fmt.Sprintf("(return address %#x is not code)", ra))
		}
		// The return address is the instruction after the call: name
		// the call, 2 bytes before, for its source line.
		pc, sp = (ra&^1)-2, cfa
		if to, ok := splice[sp]; ok {
			sp = to
		}
		out = append(out, "called from "+where(f, res, pc))
	}
	return out
}
