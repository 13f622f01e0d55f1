package callgraph

import (
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// riscvLinkT0 is t0 (x5), the link register of -msave-restore's
// `jal t0, __riscv_save_N`.
const riscvLinkT0 = 5

// maxMillicodeBytes bounds the code read for one save or restore routine
// (libgcc's longest, __riscv_save_12, is about 50 bytes).
const maxMillicodeBytes = 256

// millicodeKey names one routine of one file.
type millicodeKey struct {
	f    *binfile.File
	addr uint64
}

type millicodeResult struct {
	m  frame.Millicode
	ok bool
}

// millicodeCache holds what AnalyzeMillicode found per routine: hundreds
// of functions call the same few, from the parallel frame walks.
var millicodeCache sync.Map // millicodeKey -> millicodeResult

// setMillicode lets the walks of a RISC-V file's functions follow calls
// to, and jumps to, libgcc's -msave-restore routines, from their code.
func setMillicode(f *binfile.File, in *frame.Input) {
	if !f.Arch.IsRISCV() {
		return
	}
	dec := in.Decoder
	in.Millicode = func(target uint64) (frame.Millicode, bool) {
		k := millicodeKey{f, target}
		if r, ok := millicodeCache.Load(k); ok {
			r := r.(millicodeResult)
			return r.m, r.ok
		}
		code := func(addr uint64) []byte {
			if !f.IsExecutable(addr) {
				return nil
			}
			b, err := f.Code(addr, maxMillicodeBytes)
			if err != nil {
				return nil
			}
			return b
		}
		m, ok := frame.AnalyzeMillicode(dec, code, target, riscvLinkT0)
		millicodeCache.Store(k, millicodeResult{m, ok})
		return m, ok
	}
}
