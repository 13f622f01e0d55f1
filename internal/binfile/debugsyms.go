package binfile

import (
	"debug/elf"
	"encoding/hex"
	"path/filepath"
)

// DebugRoots are the directories searched for a stripped file's separate
// debug file by its GNU build ID (<root>/.build-id/xx/rest.debug), where
// Debian's -dbgsym and libc6-dbg packages put them. Tests may change it.
var DebugRoots = []string{"/usr/lib/debug"}

// debugSymbols returns the .symtab of the separate debug file of f, found by
// its build ID, when f has none of its own: a stripped libc.so.6 or ld.so
// names only its exported functions, and the analysis needs the others'
// names (__pthread_enable_asynccancel, _IO_new_file_overflow, _dl_fini) to
// model the runtime. The debug file is a copy of f's symbols and sections
// at the same addresses (its code sections are NOBITS), so its symbols
// apply to f as they are; one whose build ID differs is not used.
func (f *File) debugSymbols() ([]elf.Symbol, string) {
	id := f.BuildID()
	if id == "" {
		return nil, ""
	}
	for _, root := range DebugRoots {
		p := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
		df, err := elf.Open(p)
		if err != nil {
			continue
		}
		syms, err := df.Symbols()
		same := buildID(df) == id && df.Machine == f.ELF.Machine
		df.Close()
		if err == nil && same && hasFunctions(syms) {
			return syms, p
		}
	}
	return nil, ""
}

// BuildID is the file's GNU build ID in hex ("" without one).
func (f *File) BuildID() string { return buildID(f.ELF) }

// BuildIDOf is the GNU build ID of the ELF file at path, "" when it has
// none or is not ELF (a script): for naming a program in a run record
// without loading all of it.
func BuildIDOf(path string) string {
	ef, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer ef.Close()
	return buildID(ef)
}

func buildID(ef *elf.File) string {
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		for len(data) >= 12 {
			order := ef.ByteOrder
			nsz, dsz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
			name := (uint64(nsz) + 3) &^ 3
			desc := (uint64(dsz) + 3) &^ 3
			if 12+name+desc > uint64(len(data)) {
				break
			}
			const ntGNUBuildID = 3
			if typ == ntGNUBuildID && nsz == 4 && string(data[12:15]) == "GNU" && dsz > 1 {
				return hex.EncodeToString(data[12+name : 12+name+uint64(dsz)])
			}
			data = data[12+name+desc:]
		}
	}
	return ""
}
