// Package cfi reads call-frame information (.eh_frame and .debug_frame) from
// an ELF file: the function ranges that FDEs describe, and the CFA rule at a
// given PC, used to cross-check frames computed from machine code and to
// find functions in stripped binaries.
//
// Parsing is delegated to github.com/go-delve/delve/pkg/dwarf/frame, a
// maintained CFI parser; this package only adapts it and makes it safe to
// call on corrupted input.
package cfi

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// Range is the address range one FDE covers.
type Range struct {
	Begin, End uint64
}

// Table holds the FDEs of one ELF file, sorted by address.
type Table struct {
	fdes  frame.FrameDescriptionEntries
	spReg uint64
	// order is the file's byte order, which delve gives the FDEs it
	// parses (cfaFast reads their advance_loc2/4 operands in it).
	order binary.ByteOrder
}

// DWARF register numbers of the stack pointer.
const (
	regSPx86_64 = 7
	regSPARM    = 13
	regSPARM64  = 31 // DWARF for the Arm 64-bit Architecture: sp is 31
	regSPRISCV  = 2
)

// Load parses .eh_frame and .debug_frame of f. A file with neither gives an
// empty table and no error. A section that cannot be parsed is an error that
// names it; the caller decides whether that matters.
func Load(f *elf.File) (*Table, error) {
	return LoadFrom(f, (*elf.Section).Data)
}

// LoadFrom is Load with each section's bytes given by data (s.Data()
// for Load). The table keeps pieces of them (the entries' instructions)
// for as long as it is used, so data's bytes must not change meanwhile.
func LoadFrom(f *elf.File, data func(*elf.Section) ([]byte, error)) (*Table, error) {
	t := &Table{order: f.ByteOrder}
	ptrSize := 8
	switch f.Machine {
	case elf.EM_X86_64:
		t.spReg = regSPx86_64
	case elf.EM_ARM:
		t.spReg = regSPARM
		ptrSize = 4
	case elf.EM_AARCH64:
		t.spReg = regSPARM64
	case elf.EM_RISCV:
		t.spReg = regSPRISCV
	default:
		return nil, fmt.Errorf("call-frame information for %v is not supported", f.Machine)
	}
	if f.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	var firstErr error
	for _, name := range []string{".eh_frame", ".debug_frame"} {
		s := f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		data, err := data(s)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %v", name, err)
			}
			continue
		}
		ehAddr := uint64(0)
		if name == ".eh_frame" {
			ehAddr = s.Addr
			if ehAddr == 0 {
				// delve uses a zero address to mean .debug_frame format;
				// an .eh_frame at address 0 only occurs in relocatable objects.
				continue
			}
		}
		fdes, err := parse(data, f.ByteOrder, ptrSize, ehAddr)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %v", name, err)
			}
			continue
		}
		t.fdes = t.fdes.Append(fdes)
	}
	sort.Slice(t.fdes, func(i, j int) bool { return t.fdes[i].Begin() < t.fdes[j].Begin() })
	return t, firstErr
}

// parse calls the delve parser, turning a panic on malformed input into an
// error: the parser was written for well-formed compiler output.
func parse(data []byte, order binary.ByteOrder, ptrSize int, ehAddr uint64) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if r := recover(); r != nil {
			fdes, err = nil, fmt.Errorf("malformed call-frame information: %v", r)
		}
	}()
	return frame.Parse(data, order, 0, ptrSize, ehAddr)
}

// Len is the number of FDEs.
func (t *Table) Len() int { return len(t.fdes) }

// Ranges returns the non-empty FDE ranges, sorted by address.
func (t *Table) Ranges() []Range {
	out := make([]Range, 0, len(t.fdes))
	for _, fde := range t.fdes {
		if fde.End() > fde.Begin() {
			out = append(out, Range{fde.Begin(), fde.End()})
		}
	}
	return out
}

// CFAOffset returns N when the CFA at pc is SP+N, that is, when the
// stack pointer is N bytes below the caller's stack pointer before its call
// (for x86-64, N includes the return address). ok is false when pc has no
// FDE or the CFA is computed from another register (a frame pointer).
func (t *Table) CFAOffset(pc uint64) (n int64, ok bool) {
	fde := t.find(pc)
	if fde == nil {
		return 0, false
	}
	if n, ok, sure := cfaFast(fde, pc, t.spReg, t.order); sure {
		return n, ok
	}
	return cfaAt(fde, pc, t.spReg)
}

func (t *Table) find(pc uint64) *frame.FrameDescriptionEntry {
	i := sort.Search(len(t.fdes), func(i int) bool { return t.fdes[i].End() > pc })
	for ; i < len(t.fdes) && t.fdes[i].Begin() <= pc; i++ {
		if t.fdes[i].Cover(pc) {
			return t.fdes[i]
		}
	}
	return nil
}

func cfaAt(fde *frame.FrameDescriptionEntry, pc uint64, spReg uint64) (n int64, ok bool) {
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	ctx, err := fde.EstablishFrame(pc)
	if err != nil || ctx == nil {
		return 0, false
	}
	if ctx.CFA.Rule != frame.RuleCFA || ctx.CFA.Reg != spReg {
		return 0, false
	}
	return ctx.CFA.Offset, true
}

// Unwind is how to find the caller's frame at one PC: the CFA is SP plus
// CFAOffset, and the return address is saved at CFA plus RAOffset when
// RASaved, else still in the return-address register (a leaf, or before
// the prologue saved it).
type Unwind struct {
	CFAOffset int64
	RAOffset  int64
	RASaved   bool
	// CFAReg is the register the CFA is computed from: SP, or on ARM the
	// Thumb frame pointer r7 (code built with -O0 or
	// -fno-omit-frame-pointer). FPOffset is where the caller's r7 was
	// saved (CFA plus it) when FPSaved.
	CFAReg   uint64
	FPOffset int64
	FPSaved  bool
}

// ARMFramePointer is the DWARF number of Thumb's frame pointer, r7.
const ARMFramePointer = 7

// UnwindAt returns the unwind rule at pc; ok is false when pc has no FDE,
// the CFA is not SP-relative (or r7-relative on ARM), or the return
// address is kept some other way (an expression, another register).
func (t *Table) UnwindAt(pc uint64) (u Unwind, ok bool) {
	fde := t.find(pc)
	if fde == nil {
		return u, false
	}
	defer func() {
		if recover() != nil {
			u, ok = Unwind{}, false
		}
	}()
	ctx, err := fde.EstablishFrame(pc)
	if err != nil || ctx == nil || ctx.CFA.Rule != frame.RuleCFA {
		return u, false
	}
	if ctx.CFA.Reg != t.spReg && (t.spReg != regSPARM || ctx.CFA.Reg != ARMFramePointer) {
		return u, false
	}
	u.CFAOffset, u.CFAReg = ctx.CFA.Offset, ctx.CFA.Reg
	if t.spReg == regSPARM {
		if r, found := ctx.Regs[ARMFramePointer]; found && r.Rule == frame.RuleOffset {
			u.FPOffset, u.FPSaved = r.Offset, true
		}
	}
	r, found := ctx.Regs[ctx.RetAddrReg]
	switch {
	case !found || r.Rule == frame.RuleUndefined || r.Rule == frame.RuleSameVal:
	case r.Rule == frame.RuleOffset:
		u.RAOffset, u.RASaved = r.Offset, true
	default:
		return u, false
	}
	return u, true
}
