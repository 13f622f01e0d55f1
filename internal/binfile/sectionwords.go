package binfile

import "debug/elf"

// SectionFunctions returns the functions whose addresses the pointer-sized
// words of the named section hold once the dynamic linker has relocated
// them (glibc's __libc_atexit hook section, __libc_IO_vtables). ok is false
// when the section is missing, or when a non-zero word is not a function
// of this file (another module's symbol, or not an entry): the caller
// then knows nothing of what the section's words call.
func (f *File) SectionFunctions(name string) (funcs []uint64, ok bool) {
	s := f.ELF.Section(name)
	if s == nil || f.Arch != ArchX86_64 {
		return nil, false
	}
	data, err := f.Code(s.Addr, s.Size)
	if err != nil {
		return nil, false
	}
	relocs := f.relocatedWords()
	for i := 0; i+8 <= len(data); i += 8 {
		at := s.Addr + uint64(i)
		v := f.ELF.ByteOrder.Uint64(data[i:])
		if r, has := relocs[at]; has {
			if r.kind != relocLocal {
				return nil, false
			}
			v = r.value
		}
		if v == 0 {
			continue
		}
		if !f.byAddr.has(v) {
			return nil, false
		}
		funcs = append(funcs, v)
	}
	return funcs, true
}

// SectionWords returns the pointer-sized words of the named section, by
// address, as the dynamic linker leaves them (relocated; a word another
// module's symbol fills is left out).
func (f *File) SectionWords(name string) map[uint64]uint64 {
	s := f.ELF.Section(name)
	if s == nil || f.Arch != ArchX86_64 {
		return nil
	}
	data, err := f.Code(s.Addr, s.Size)
	if err != nil {
		return nil
	}
	relocs := f.relocatedWords()
	out := map[uint64]uint64{}
	for i := 0; i+8 <= len(data); i += 8 {
		at := s.Addr + uint64(i)
		v := f.ELF.ByteOrder.Uint64(data[i:])
		if r, has := relocs[at]; has {
			if r.kind != relocLocal {
				continue
			}
			v = r.value
		}
		out[at] = v
	}
	return out
}

// WeakImport says whether .dynsym imports name as a weak undefined symbol
// (the dynamic linker leaves its slots 0 when no module defines it).
func (f *File) WeakImport(name string) bool {
	dyn, _ := f.DynamicSymbols()
	for _, s := range dyn {
		if s.Section == elf.SHN_UNDEF && s.Name == name && elf.ST_BIND(s.Info) == elf.STB_WEAK {
			return true
		}
	}
	return false
}
