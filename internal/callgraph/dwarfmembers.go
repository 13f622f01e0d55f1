package callgraph

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
)

// memberOffsets reads, from the DWARF d, the offsets of the named members
// of struct name: each member's offset where every definition of the
// struct (one per compile unit that uses it) agrees on it; a member whose
// definitions disagree, or whose offset is not a constant, is left out.
func memberOffsets(d *dwarf.Data, name string, members ...string) map[string]int64 {
	return memberOffsetsScanned(d, nil, name, members...)
}

// memberOffsetsScanned is memberOffsets, its walk passing by the entries
// that are not structs with the scanner sc of d (nil: none; diescan.go).
func memberOffsetsScanned(d *dwarf.Data, sc *dieScanner, name string, members ...string) map[string]int64 {
	a := newMemberAgreement(name, members...)
	walkTopLevelScanned(d, sc, nil, a) // (an error ends the walk: what was read stands)
	return a.offsets()
}

// withDebugDWARF runs use on the DWARF of file's debug file (libc6-dbg's
// for glibc), false when there is none or it does not read.
func withDebugDWARF(file *binfile.File, use func(*dwarf.Data)) bool {
	return withDebugDWARFScanned(file, func(d *dwarf.Data, _ *dieScanner) { use(d) })
}

// withDebugDWARFScanned is withDebugDWARF that also gives use the
// scanner of the entries' shapes (diescan.go; nil where the sections
// were left to f.DWARF()).
func withDebugDWARFScanned(file *binfile.File, use func(*dwarf.Data, *dieScanner)) bool {
	if file.DebugSymbols == "" {
		return false
	}
	f, err := elf.Open(file.DebugSymbols)
	if err != nil {
		return false
	}
	defer f.Close()
	d, sections, err := debugEntriesSections(f)
	if err != nil {
		return false
	}
	var sc *dieScanner
	if sections != nil {
		sc = newDIEScanner(sections[".debug_info"], sections[".debug_abbrev"], sections[".debug_str"], sections[".debug_line_str"])
	}
	use(d, sc)
	return true
}

// debugEntriesDWARF is f.DWARF() for the models' readers, which read the
// entries, their types and their code ranges, never the line table or a
// location list: it decompresses only the sections those need. (libc's
// debug file: .debug_line and .debug_loclists are a third of its
// compressed bytes, which f.DWARF() decompresses too; issue 19.) A file
// whose DWARF sections would take relocations, or in the old .zdebug
// form, is left to f.DWARF().
func debugEntriesDWARF(f *elf.File) (*dwarf.Data, error) {
	d, _, err := debugEntriesSections(f)
	return d, err
}

// debugEntriesSections is debugEntriesDWARF, and the sections it read
// (by name; nil when it left them to f.DWARF()).
func debugEntriesSections(f *elf.File) (*dwarf.Data, map[string][]byte, error) {
	read := map[string][]byte{}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".zdebug_") || (s.Type == elf.SHT_REL || s.Type == elf.SHT_RELA) && f.Type != elf.ET_EXEC &&
			int(s.Info) < len(f.Sections) && strings.HasPrefix(f.Sections[s.Info].Name, ".debug_") {
			d, err := f.DWARF()
			return d, nil, err
		}
	}
	var types []*elf.Section
	for _, s := range f.Sections {
		switch s.Name {
		case ".debug_abbrev", ".debug_info", ".debug_str", ".debug_ranges",
			".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists":
			b, err := s.Data()
			if err != nil && uint64(len(b)) < s.Size {
				return nil, nil, err
			}
			read[s.Name] = b
		case ".debug_types":
			types = append(types, s)
		}
	}
	d, err := dwarf.New(read[".debug_abbrev"], nil, nil, read[".debug_info"], nil, nil, read[".debug_ranges"], read[".debug_str"])
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists"} {
		if b, ok := read[name]; ok {
			if err := d.AddSection(name, b); err != nil {
				return nil, nil, err
			}
		}
	}
	for i, s := range types {
		b, err := s.Data()
		if err != nil && uint64(len(b)) < s.Size {
			return nil, nil, err
		}
		if err := d.AddTypes(fmt.Sprintf("types-%d", i), b); err != nil {
			return nil, nil, err
		}
	}
	return d, read, nil
}
