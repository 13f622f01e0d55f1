package binfile

import (
	"debug/elf"
)

// Assembly routines of RISC-V firmware. GNU as gives a label no type
// unless the source says `.type sym, @function`, and much hand-written
// startup and RTOS port code does not: the reset code's _start, and every
// routine of FreeRTOS's portable/GCC/RISC-V/portASM.S (the trap handler,
// xPortStartFirstTask, pxPortInitialiseStack). Without a function for
// them, the ELF entry and the trap handler have no code to bound, and a
// call to xPortStartFirstTask is walked as part of its caller. So a global
// or weak symbol without a type that lies inside an executable section,
// at no function's start and inside no sized function, is a function
// (Source "asm-label"), running to the next function or its section's end
// like a symbol without .size. Local labels stay branch targets inside a
// routine. Only for RISC-V: on the other targets the toolchains' assembly
// (Cortex-M startup files, glibc) types its routines.

// asmLabels returns the global and weak untyped symbols of syms that lie
// inside an executable section (not at its end).
func (f *File) asmLabels(syms []elf.Symbol) []elf.Symbol {
	if !f.Arch.IsRISCV() {
		return nil
	}
	var out []elf.Symbol
	for _, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if elf.ST_TYPE(s.Info) != elf.STT_NOTYPE || (bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) ||
			s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(f.ELF.Sections) {
			continue
		}
		sec := f.ELF.Sections[s.Section]
		if sec.Flags&elf.SHF_EXECINSTR == 0 || s.Value < sec.Addr || s.Value >= sec.Addr+sec.Size || s.Name == "" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// addAsmLabels adds the labels asmLabels found as functions of size 0
// (sized later), those at no function's start and inside no sized
// function; f.Functions must be sorted by address, and stays so.
func (f *File) addAsmLabels(labels []elf.Symbol) {
	if len(labels) == 0 {
		return
	}
	named := append([]Function(nil), f.Functions...)
	added := map[uint64]bool{}
	for _, s := range labels {
		if added[s.Value] || startsOrCovered(named, s.Value) {
			continue
		}
		bind := elf.ST_BIND(s.Info)
		added[s.Value] = true
		f.Functions = append(f.Functions, Function{LinkName: s.Name, Addr: s.Value, Source: "asm-label",
			Global: true, weak: bind == elf.STB_WEAK})
	}
	sortByAddr(f.Functions)
}
