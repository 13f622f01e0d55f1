package binfile

import (
	"debug/elf"
	"os"
	"strings"
	"unsafe"
)

// symtabSymbols is f.ELF.Symbols(), the same symbols, read from the
// mapped file where it can be: debug/elf copies .symtab and .strtab out of
// the file (pread), then copies each name into a string of its own after
// a byte-by-byte search for its end. On /usr/bin/node (110,000 symbols,
// a 5 MB string table of long C++ names) that was the largest part of
// opening it on the critical path (38 ms of the 60 ms the symbol table
// took before the walk could start, its other core reading .dynsym). Here
// the names are pieces of one copy of the string table. Any file this
// reader does not take as it is (not ELF64, a section not mapped, or one
// debug/elf would decompress or fail to read) is read by debug/elf.
//
// versioned[i] says whether syms[i]'s name has an '@' (baseName): seen
// while the name is in the cache, a search of every function's name
// later was 9 ms of node's opening. nil when debug/elf read the symbols.
func (f *File) symtabSymbols() (syms []elf.Symbol, versioned []bool, err error) {
	if syms, versioned, ok := f.readMappedSymbols(elf.SHT_SYMTAB, true); ok {
		return syms, versioned, nil
	}
	syms, err = f.ELF.Symbols()
	return syms, nil, err
}

// mappedSymbols reads the first section of type typ as debug/elf's
// getSymbols64 does (the null symbol at index 0 left out), from the
// mapped file. ok is false when it cannot give what debug/elf gives
// without an error.
func (f *File) mappedSymbols(typ elf.SectionType) (syms []elf.Symbol, ok bool) {
	syms, _, ok = f.readMappedSymbols(typ, false)
	return syms, ok
}

// readMappedSymbols is mappedSymbols, and, if asked for, which names
// have an '@'.
func (f *File) readMappedSymbols(typ elf.SectionType, atSigns bool) (syms []elf.Symbol, versioned []bool, ok bool) {
	if f.ELF.Class != elf.ELFCLASS64 {
		return nil, nil, false
	}
	sec := f.ELF.SectionByType(typ)
	if sec == nil {
		return nil, nil, false
	}
	data, ok := f.mappedSection(sec)
	if !ok || len(data) == 0 || len(data)%elf.Sym64Size != 0 {
		return nil, nil, false
	}
	if sec.Link == 0 || sec.Link >= uint32(len(f.ELF.Sections)) {
		return nil, nil, false
	}
	strsec := f.ELF.Sections[sec.Link]
	strdata, ok := f.mappedSection(strsec)
	if !ok {
		return nil, nil, false
	}
	strs := f.stringTable(strsec, strdata)
	order := f.ELF.ByteOrder
	data = data[elf.Sym64Size:] // the null symbol
	syms = make([]elf.Symbol, len(data)/elf.Sym64Size)
	if atSigns {
		versioned = make([]bool, len(syms))
	}
	for i := range syms {
		e := data[i*elf.Sym64Size : (i+1)*elf.Sym64Size]
		name := stringAt(strs, order.Uint32(e[0:4]))
		syms[i] = elf.Symbol{
			Name:    name,
			Info:    e[4],
			Other:   e[5],
			Section: elf.SectionIndex(order.Uint16(e[6:8])),
			Value:   order.Uint64(e[8:16]),
			Size:    order.Uint64(e[16:24]),
		}
		if atSigns {
			versioned[i] = strings.IndexByte(name, '@') >= 0
		}
	}
	return syms, versioned, true
}

// stringTable is the string table s (its bytes strdata in f.mapped) as
// one string whose pieces are the symbols' names: in a mapping that
// Close leaves (lastingSection), or else one copy. The names live as long
// as the File's functions, past Close: node's .strtab and .dynstr, 13.5
// MB, were copied onto the heap and kept to the end of the run, a
// twentieth of its live heap when the collector last ran (profile,
// issue 19); mapped, their pages come from the page cache.
func (f *File) stringTable(s *elf.Section, strdata []byte) string {
	if b, ok := f.lastingSection(s); ok && len(b) == len(strdata) && len(b) > 0 {
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return string(strdata)
}

// lastingSection is the bytes of s in a mapping of their own that Close
// leaves (mapLasting), when s is one mappedSection reads as debug/elf's
// s.Data() would; ok is false otherwise.
func (f *File) lastingSection(s *elf.Section) ([]byte, bool) {
	r, isFile := f.r.(*os.File)
	if _, ok := f.mappedSection(s); !ok || !isFile {
		return nil, false
	}
	b := mapLasting(r, int64(s.Offset), int64(s.Size))
	return b, b != nil
}

// lastingData is s.Data(), in a mapping that Close leaves where it can
// be (lastingSection): for what keeps pieces of a section to the end
// of the run (the CFI table's entries).
func (f *File) lastingData(s *elf.Section) ([]byte, error) {
	if b, ok := f.lastingSection(s); ok {
		return b, nil
	}
	return s.Data()
}

// stringAt is the NUL-terminated string at offset start of a string
// table, "" when start is outside it or the string has no end (as
// debug/elf reads it).
func stringAt(table string, start uint32) string {
	if uint64(start) >= uint64(len(table)) {
		return ""
	}
	rest := table[start:]
	end := strings.IndexByte(rest, 0)
	if end < 0 {
		return ""
	}
	return rest[:end]
}

// mappedSection is the bytes of s in the mapped file, when debug/elf's
// s.Data() would read exactly them: s is stored as it is (not NOBITS,
// not compressed, no ".zdebug" name that debug/elf may inflate) and its
// Size bytes are in the file.
func (f *File) mappedSection(s *elf.Section) ([]byte, bool) {
	if f.mapped == nil || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug") {
		return nil, false
	}
	end := s.Offset + s.Size
	if s.Size > s.FileSize || end < s.Offset || end > uint64(len(f.mapped)) {
		return nil, false
	}
	return f.mapped[s.Offset:end], true
}
