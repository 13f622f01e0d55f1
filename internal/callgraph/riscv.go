package callgraph

import (
	"debug/elf"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
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

// setRISCVNoReturn tells the walks of a RISC-V file's functions which
// calls never return (abort, luaG_runerror...), as for x86-64: GCC puts
// other code right after such a call, and a walk that went on into it
// would take ra for changed (jal wrote it) where the code never returns.
func (g *Graph) setRISCVNoReturn(f *binfile.File, in *frame.Input) {
	if !f.Arch.IsRISCV() {
		return
	}
	c := g.callsOf(f)
	in.NoReturn = func(addr uint64) bool { return c.never(g, f, addr, noReturnLevels) }
}

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

// riscvStackTops holds, per firmware file, the stack top its entry sets
// (0: none found).
var riscvStackTops sync.Map // *binfile.File -> uint64

// maxEntryScan bounds the instructions read from a RISC-V firmware's entry
// before its first write of SP.
const maxEntryScan = 16

// setRISCVStack gives the walks of a RISC-V firmware's functions the top
// of its main stack: the constant the ELF entry's first instructions set
// SP to (la sp, __stack), as word 0 of the vector table is on Cortex-M.
// Code that sets SP to that value starts the stack afresh (frame.Reset).
func setRISCVStack(f *binfile.File, in *frame.Input) {
	if !f.Arch.IsRISCV() || f.Type != elf.ET_EXEC || f.ELF.Section(".interp") != nil {
		return
	}
	v, ok := riscvStackTops.Load(f)
	if !ok {
		v, _ = riscvStackTops.LoadOrStore(f, entryStackTop(f, in.Decoder))
	}
	if top := v.(uint64); top != 0 {
		in.MainStackTop, in.HasMainStack = top, true
	}
}

// entryStackTop is the constant the straight-line code at the ELF entry
// first writes to SP, 0 when its first write of SP is not a constant.
func entryStackTop(f *binfile.File, dec isa.Decoder) uint64 {
	pc := f.Entry
	for range maxEntryScan {
		code, err := f.Code(pc, 16)
		if err != nil {
			return 0
		}
		e, err := dec.Decode(code, pc)
		if err != nil {
			return 0
		}
		if e.SP != isa.SPNone || (e.DefKind != isa.DefNone && e.DefReg == riscvSP) {
			if e.SP == isa.SPUnknown && e.DefReg == riscvSP && (e.DefKind == isa.DefAddr || e.DefKind == isa.DefConst) {
				return uint64(e.DefValue)
			}
			return 0
		}
		if e.Flow != isa.FlowNext {
			return 0
		}
		pc += uint64(e.Len)
	}
	return 0
}

// riscvSP is sp (x2).
const riscvSP = 2
