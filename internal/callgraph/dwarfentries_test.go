package callgraph

import (
	"debug/dwarf"
	"debug/elf"
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
