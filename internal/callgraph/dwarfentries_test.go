package callgraph

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"os"
	"reflect"
	"testing"
)

// TestDebugEntriesDWARFMatchesDWARF: libc's debug file read through
// debugEntriesDWARF (its line table and location lists not decompressed)
// gives every entry elf's DWARF gives (offset, tag, attributes with their
// values, strings included), and the same code ranges for each entry
// that has some.
func TestDebugEntriesDWARFMatchesDWARF(t *testing.T) {
	_, libc := libcGraph(t, true)
	f, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	got, err := debugEntriesDWARF(f)
	if err != nil {
		t.Fatalf("%s: %v", libc.File.DebugSymbols, err)
	}
	wr, gr := want.Reader(), got.Reader()
	entries, ranged := 0, 0
	for {
		we, werr := wr.Next()
		ge, gerr := gr.Next()
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(we, ge) {
			t.Fatalf("entry %d: %+v (error %v), elf's DWARF %+v (error %v)", entries, ge, gerr, we, werr)
		}
		if we == nil || werr != nil {
			break
		}
		entries++
		if we.Tag == dwarf.TagSubprogram || we.Tag == dwarf.TagCompileUnit {
			wrs, werr := want.Ranges(we)
			grs, gerr := got.Ranges(ge)
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(wrs, grs) {
				t.Fatalf("entry at %#x: ranges %v (error %v), elf's DWARF %v (error %v)", we.Offset, grs, gerr, wrs, werr)
			}
			if len(wrs) > 0 {
				ranged++
			}
		}
	}
	if entries < 10000 || ranged < 1000 {
		t.Errorf("only %d entries, %d with code ranges, in %s", entries, ranged, libc.File.DebugSymbols)
	}
}

// TestSectionDataMatchesData: every compressed section of libc's debug
// file, inflated by sectionData from the file's bytes, is what
// Section.Data gives; and with bytes of .debug_abbrev's compressed
// stream changed (its header, its deflate blocks, its checksum) both
// fail or give the same bytes.
func TestSectionDataMatchesData(t *testing.T) {
	_, libc := libcGraph(t, true)
	raw, err := os.ReadFile(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	check := func(raw []byte) (compressed int, abbrev *elf.Section) {
		f, err := elf.NewFile(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_COMPRESSED == 0 {
				continue
			}
			compressed++
			if s.Name == ".debug_abbrev" {
				abbrev = s
			}
			want, werr := s.Data()
			got, gerr := sectionData(f, s, bytes.NewReader(raw), &buf)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(want, got) {
				t.Fatalf("%s: %d bytes (error %v), Data %d bytes (error %v)", s.Name, len(got), gerr, len(want), werr)
			}
		}
		return compressed, abbrev
	}
	n, abbrev := check(raw)
	if n < 3 || abbrev == nil {
		t.Fatalf("%d compressed sections in %s", n, libc.File.DebugSymbols)
	}
	start, end := int(abbrev.Offset)+24, int(abbrev.Offset+abbrev.FileSize)
	for _, at := range []int{start, start + 1, start + 2, start + 100, (start + end) / 2, end - 5, end - 1} {
		changed := bytes.Clone(raw)
		changed[at] ^= 0x5a
		check(changed)
	}
	// A compression header that claims more than a deflate stream of
	// that size can give (1 TiB): no allocation of it, the error Data's.
	huge := bytes.Clone(raw)
	binary.LittleEndian.PutUint64(huge[abbrev.Offset+8:], 1<<40)
	check(huge)
}
