package emu

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
)

// backtrace is an injection's backtrace of the stopped core as lines a
// person reads ("f+0x12 (app.c:30)", "called from main+0x8 (...)"): the
// ratchet's unwinder (CFI from .debug_frame, exception frames followed),
// with splice mapping an SP that --at moved to the one it replaced.
func backtrace(m *Machine, f *binfile.File, res *analysis.Result, tab *cfi.Table, regs *Registers, splice map[uint64]uint64) []string {
	if tab == nil {
		return []string{where(f, res, uint64(regs.PC())), "(no call-frame information: not unwound)"}
	}
	u := &unwinder{f: f, cfi: tab, lines: res.Lines, splice: splice}
	var out []string
	for i, fr := range u.backtrace(m, uint32(regs.PC()), uint32(regs.SP()), uint32(regs.LR()), regs.R[7], true) {
		switch {
		case fr.Exception:
			out = append(out, "(exception entry)")
		case i == 0:
			out = append(out, where(f, res, fr.PC))
		default:
			out = append(out, "called from "+where(f, res, fr.PC))
		}
	}
	return out
}
