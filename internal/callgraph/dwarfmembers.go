package callgraph

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zlib"
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
	r, err := os.Open(file.DebugSymbols)
	if err != nil {
		return false
	}
	defer r.Close()
	f, err := elf.NewFile(r)
	if err != nil {
		return false
	}
	d, sections, err := debugEntriesSectionsFrom(f, r)
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
	return debugEntriesSectionsFrom(f, nil)
}

// debugEntriesSectionsFrom is debugEntriesSections that reads the
// compressed sections' bytes from file, f's file (nil: with
// Section.Data; see sectionData).
func debugEntriesSectionsFrom(f *elf.File, file io.ReaderAt) (*dwarf.Data, map[string][]byte, error) {
	read := map[string][]byte{}
	var buf []byte // sectionData's
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
			b, err := sectionData(f, s, file, &buf)
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

// sectionData is s.Data(), of a section of f, which is read from file.
// A zlib-compressed section (SHF_COMPRESSED, and not SHF_ALLOC, which
// Data refuses) is inflated from its bytes read at once into *buf (kept
// from one section to the next), through an in-memory reader: Data reads
// them through a 4 KiB bufio.Reader over pread calls, which was a tenth
// of the inflation's time on libc's debug file. The same zlib reader
// inflates the same bytes into a buffer of the size the compression
// header gives, as Data does, and fails where it fails. The inflater is
// klauspost/compress's zlib (compress/zlib's reader and checks, with a
// deflate decoder specialized for an in-memory reader): libc's and
// ld.so's sections in 20-25% less CPU than compress/zlib's (libc's: 38.6
// -> 31.5 ms, median of 15). Anything else
// (file nil, another compression, a header or bytes that do not read)
// is Data's.
// maxDeflateRatio bounds how much larger than its compressed bytes a
// deflate stream inflates (1032 to 1 at most: RFC 1951's longest match,
// 258 bytes, in a code of at least 2 bits).
const maxDeflateRatio = 1032

func sectionData(f *elf.File, s *elf.Section, file io.ReaderAt, buf *[]byte) ([]byte, error) {
	if file == nil || s.Flags&elf.SHF_COMPRESSED == 0 || s.Flags&elf.SHF_ALLOC != 0 || s.Type == elf.SHT_NOBITS {
		return s.Data()
	}
	header := uint64(24) // Chdr64
	if f.Class == elf.ELFCLASS32 {
		header = 12
	}
	var typ [4]byte
	if s.FileSize < header || s.Size != uint64(int(s.Size)) || s.FileSize != uint64(int(s.FileSize)) ||
		int64(s.Offset) < 0 || int64(s.Offset+header) < 0 {
		return s.Data()
	}
	if _, err := file.ReadAt(typ[:], int64(s.Offset)); err != nil || elf.CompressionType(f.ByteOrder.Uint32(typ[:])) != elf.COMPRESS_ZLIB {
		return s.Data()
	}
	n := int(s.FileSize - header)
	if s.Size > uint64(n)*maxDeflateRatio+maxDeflateRatio {
		// A size no deflate stream of n bytes reaches (a corrupt or
		// hostile header): Data reads it in steps and fails without
		// allocating it first.
		return s.Data()
	}
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	compressed := (*buf)[:n]
	if _, err := file.ReadAt(compressed, int64(s.Offset+header)); err != nil {
		return s.Data()
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, err
	}
	out := make([]byte, s.Size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, err
	}
	return out, nil
}
