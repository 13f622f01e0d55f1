package binfile

import "debug/elf"

// DataRefersTo says whether the file's data may hold an address in [lo,
// hi): a pointer-sized word of an allocated, non-executable section with
// contents, or a relocation (x86-64: RELATIVE addend, or a 64-bit or
// GLOB_DAT one to a symbol the file defines) that resolves there. A
// variable whose address no data holds and no code computes is reached
// only by the code that names it.
func (f *File) DataRefersTo(lo, hi uint64) bool {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		data, err := f.Code(s.Addr, s.Size)
		if err != nil {
			continue
		}
		for i := 0; i+8 <= len(data); i += 8 {
			if v := f.ELF.ByteOrder.Uint64(data[i:]); v >= lo && v < hi {
				return true
			}
		}
	}
	found := false
	f.eachRelocatedWord(func(_, v uint64) { found = found || v >= lo && v < hi })
	return found
}

// eachRelocatedWord calls fn with the place and the value of every word a
// relocation stores that resolves to an address of the file (x86-64: a
// RELATIVE addend, or a 64-bit or GLOB_DAT one to a symbol the file
// defines); nothing on other architectures.
func (f *File) eachRelocatedWord(fn func(off, value uint64)) {
	if f.Arch != ArchX86_64 {
		return
	}
	dyn, _ := f.DynamicSymbols()
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		var v uint64
		switch typ {
		case elf.R_X86_64_RELATIVE:
			v = addend
		case elf.R_X86_64_64, elf.R_X86_64_GLOB_DAT:
			if sym-1 < 0 || sym-1 >= len(dyn) || dyn[sym-1].Section == elf.SHN_UNDEF {
				return
			}
			v = dyn[sym-1].Value + addend
		default:
			return
		}
		fn(off, v)
	})
}
