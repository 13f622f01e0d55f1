package binfile

import "debug/elf"

// DynamicWord says what the dynamic linker stores in the 8-byte word at
// addr (x86-64): relocated false when no dynamic relocation (of an
// allocated SHT_RELA section: not --emit-relocs' copies) writes there, so
// the file's bytes are what the program reads; otherwise value is known
// only for R_X86_64_RELATIVE (the load address plus the addend, here the
// file's address). Other architectures: every word is taken to be
// relocated, value unknown.
func (f *File) DynamicWord(addr uint64) (value uint64, relocated, known bool) {
	if f.Arch != ArchX86_64 {
		return 0, true, false
	}
	for _, s := range f.ELF.Sections {
		if s.Type != elf.SHT_RELA || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		data, err := s.Data()
		if err != nil {
			return 0, true, false
		}
		for i := 0; i+24 <= len(data); i += 24 {
			off := f.ELF.ByteOrder.Uint64(data[i:])
			if off+8 <= addr || off >= addr+8 {
				continue
			}
			typ := elf.R_X86_64(f.ELF.ByteOrder.Uint64(data[i+8:]) & 0xffffffff)
			if off != addr || typ != elf.R_X86_64_RELATIVE || relocated {
				return 0, true, false
			}
			value, relocated, known = f.ELF.ByteOrder.Uint64(data[i+16:]), true, true
		}
	}
	return value, relocated, known
}
