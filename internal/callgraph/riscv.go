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
	if top := EntryStackTop(f, in.Decoder); top != 0 {
		in.MainStackTop, in.HasMainStack = top, true
	}
	setRISCVSwitches(f, in)
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

// riscvSwitchFacts holds, per firmware file, what its stack switches are
// checked against (see setRISCVSwitches).
var riscvSwitchFacts sync.Map // *binfile.File -> *switchFacts

type switchFacts struct {
	taskPointer uint64 // FreeRTOS's pxCurrentTCB (0: none)
}

// freertosCurrentTCB is FreeRTOS's pointer to the running task's TCB,
// whose first member is the task's saved SP (tasks.c: pxTopOfStack "MUST
// BE THE FIRST MEMBER OF THE TCB STRUCT").
const freertosCurrentTCB = "pxCurrentTCB"

// setRISCVSwitches lets the walks of a RISC-V firmware's functions follow
// the loads of SP an RTOS port makes (frame/stackswitch.go): from a word
// of read-only data (the interrupt stack's top), and from the TCB
// FreeRTOS's pxCurrentTCB points to.
func setRISCVSwitches(f *binfile.File, in *frame.Input) {
	v, ok := riscvSwitchFacts.Load(f)
	if !ok {
		sf := &switchFacts{}
		for _, s := range f.Symbols() {
			if s.Name == freertosCurrentTCB && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Section != elf.SHN_UNDEF {
				sf.taskPointer = s.Value
			}
		}
		v, _ = riscvSwitchFacts.LoadOrStore(f, sf)
	}
	sf := v.(*switchFacts)
	size := 4
	if f.Arch == binfile.ArchRISCV64 {
		size = 8
	}
	in.ReadWord = func(addr uint64) (uint64, bool) { return readOnlyWord(f, addr, size) }
	if sf.taskPointer != 0 {
		in.TaskPointer = func(addr uint64) (string, bool) {
			return freertosCurrentTCB, addr == sf.taskPointer
		}
	}
}

// readOnlyWord reads the little-endian word of size bytes at addr when it
// lies in an allocated section with contents that is not writable.
func readOnlyWord(f *binfile.File, addr uint64, size int) (uint64, bool) {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_WRITE != 0 || s.Type != elf.SHT_PROGBITS ||
			addr < s.Addr || addr+uint64(size) > s.Addr+s.Size {
			continue
		}
		buf := make([]byte, size)
		if _, err := s.ReadAt(buf, int64(addr-s.Addr)); err != nil {
			return 0, false
		}
		var v uint64
		for i := size - 1; i >= 0; i-- {
			v = v<<8 | uint64(buf[i])
		}
		return v, true
	}
	return 0, false
}

// EntryStackTop is the top of the main stack a RISC-V firmware's entry
// sets (the constant of its first write of SP: la sp, __stack), 0 when
// f is not RISC-V firmware or its entry does not set SP to a constant.
// Layout reads the main stack from it, as from word 0 of a Cortex-M
// vector table.
func EntryStackTop(f *binfile.File, dec isa.Decoder) uint64 {
	if !f.Arch.IsRISCV() || f.Type != elf.ET_EXEC || f.ELF.Section(".interp") != nil {
		return 0
	}
	v, ok := riscvStackTops.Load(f)
	if !ok {
		v, _ = riscvStackTops.LoadOrStore(f, entryStackTop(f, dec))
	}
	return v.(uint64)
}
