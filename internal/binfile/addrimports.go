package binfile

import "debug/elf"

// AddressImports returns the names of the symbols whose address the
// dynamic linker stores in a data word of f other than a PLT slot
// (x86-64 R_X86_64_GLOB_DAT and R_X86_64_64): an imported function whose
// address the file's code or data can hold as a pointer, not only call.
// Read once per call; nil for other architectures, whose callers must
// then assume any import's address may be taken.
func (f *File) AddressImports() (map[string]bool, bool) {
	if f.Arch != ArchX86_64 {
		return nil, false
	}
	dyn, _ := f.DynamicSymbols()
	out := map[string]bool{}
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		if typ != elf.R_X86_64_GLOB_DAT && typ != elf.R_X86_64_64 {
			return
		}
		// DynamicSymbols omits the null symbol at index 0.
		if sym >= 1 && sym-1 < len(dyn) {
			out[dyn[sym-1].Name] = true
		}
	})
	return out, true
}

// AddressImportSlots returns, for the symbols AddressImports names, the
// GOT words (R_X86_64_GLOB_DAT) the dynamic linker stores each one's
// address in, and the names an absolute relocation (R_X86_64_64) also
// stores: a word of data, whose uses no decode of the code can list.
// A caller that finds every use of a GOT word in the code can tell an
// address only called through from one that escapes. ok is false for
// other architectures.
func (f *File) AddressImportSlots() (slots map[string][]uint64, absolute map[string]bool, ok bool) {
	if f.Arch != ArchX86_64 {
		return nil, nil, false
	}
	dyn, _ := f.DynamicSymbols()
	slots, absolute = map[string][]uint64{}, map[string]bool{}
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		// DynamicSymbols omits the null symbol at index 0.
		if sym < 1 || sym-1 >= len(dyn) {
			return
		}
		name := dyn[sym-1].Name
		switch {
		case typ == elf.R_X86_64_GLOB_DAT && addend == 0:
			slots[name] = append(slots[name], off)
		case typ == elf.R_X86_64_GLOB_DAT || typ == elf.R_X86_64_64:
			absolute[name] = true
		}
	})
	return slots, absolute, true
}

// PointersTo says whether the file's data may hold, as a pointer the
// program uses, an address in [lo, hi): a pointer-sized word of an
// allocated, non-executable section of contents or pointer arrays
// (SHT_PROGBITS, the init and fini arrays), or a relocation that stores
// one (RELATIVE addend, a 64-bit or GLOB_DAT one to a symbol the file
// defines). Unlike DataRefersTo it does not read the tables the dynamic
// linker reads (relocations, symbols, hash tables, .dynamic), whose words
// name addresses of the file (a relocation's own target, a GOT word)
// without the program ever loading them.
func (f *File) PointersTo(lo, hi uint64) bool {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		switch s.Type {
		case elf.SHT_PROGBITS, elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY:
		default:
			continue
		}
		data, err := f.Code(s.Addr, s.Size)
		if err != nil {
			return true // not readable: it may
		}
		for i := 0; i+8 <= len(data); i += 8 {
			if v := f.ELF.ByteOrder.Uint64(data[i:]); v >= lo && v < hi {
				return true
			}
		}
	}
	if f.Arch != ArchX86_64 {
		return true
	}
	found := false
	f.eachRelocatedWord(func(_, v uint64) { found = found || v >= lo && v < hi })
	return found
}
