package binfile

import "debug/elf"

// DynamicWord says what the dynamic linker stores in the 8-byte word at
// addr (x86-64): relocated false when no dynamic relocation (of an
// allocated SHT_RELA section: not --emit-relocs' copies) writes there, so
// the file's bytes are what the program reads; otherwise value is known
// only for R_X86_64_RELATIVE (the load address plus the addend, here the
// file's address) and for a word of the packed relative relocations
// (DT_RELR, SHT_RELR: ld.so's own pointers; the addend is the word in the
// file). Other architectures: every word is taken to be relocated, value
// unknown.
func (f *File) DynamicWord(addr uint64) (value uint64, relocated, known bool) {
	if f.Arch != ArchX86_64 {
		return 0, true, false
	}
	if inRelr, ok := f.relrHas(addr); !ok {
		return 0, true, false
	} else if inRelr {
		data, err := f.Code(addr, 8)
		if err != nil || len(data) < 8 {
			return 0, true, false
		}
		value, relocated, known = f.ELF.ByteOrder.Uint64(data), true, true
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
				// (a RELA entry on a word RELR relocates too: not a
				// value one can name)
				return 0, true, false
			}
			value, relocated, known = f.ELF.ByteOrder.Uint64(data[i+16:]), true, true
		}
	}
	return value, relocated, known
}

// shtRelr is SHT_RELR (the gABI's packed relative relocations), which
// debug/elf does not name.
const shtRelr elf.SectionType = 19

// relrHas says whether a packed relative relocation (an allocated
// SHT_RELR section) relocates the 8-byte word at addr; ok is false when
// such a section cannot be read or is malformed, or a relocated word
// overlaps addr's without being it. The format (gABI): a
// word with its low bit clear is the address of a relocated word, and the
// next address to describe is 8 bytes on; a word with its low bit set is
// a bitmap whose bit i (1 to 63) relocates the word 8*(i-1) bytes after
// that next address, which then moves on by 63 words.
func (f *File) relrHas(addr uint64) (found, ok bool) {
	for _, s := range f.ELF.Sections {
		if s.Type != shtRelr || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		data, err := s.Data()
		if err != nil || len(data)%8 != 0 {
			return false, false
		}
		var next uint64
		started := false
		for i := 0; i < len(data); i += 8 {
			w := f.ELF.ByteOrder.Uint64(data[i:])
			if w&1 == 0 {
				if w < addr+8 && w+8 > addr {
					return true, w == addr // a word astride addr: no value
				}
				next, started = w+8, true
				continue
			}
			if !started {
				return false, false // a bitmap before any address
			}
			for bit := uint64(1); bit < 64; bit++ {
				if at := next + 8*(bit-1); w>>bit&1 != 0 && at < addr+8 && at+8 > addr {
					return true, at == addr
				}
			}
			next += 63 * 8
		}
	}
	return false, true
}
