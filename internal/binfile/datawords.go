package binfile

import (
	"debug/elf"
	"slices"
)

// DataWordsInto returns where the file's data may hold an address in [lo,
// hi): the addresses of the words DataRefersTo finds (a pointer-sized
// word of an allocated, non-executable section with contents, or the
// place a relocation that resolves there writes), sorted, without
// duplicates. A word a relocation writes to a section without contents
// (.bss) is among them too.
func (f *File) DataWordsInto(lo, hi uint64) []uint64 {
	var out []uint64
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
				out = append(out, s.Addr+uint64(i))
			}
		}
	}
	f.eachRelocatedWord(func(off, v uint64) {
		if v >= lo && v < hi {
			out = append(out, off)
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}
