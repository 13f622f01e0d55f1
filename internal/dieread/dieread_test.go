package dieread

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// sectionsOf returns f's DWARF and the sections Reader decodes.
func sectionsOf(t testing.TB, f *elf.File) (*dwarf.Data, Sections) {
	t.Helper()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	sec := func(name string) []byte {
		if s := f.Section(name); s != nil {
			b, err := s.Data()
			if err == nil {
				return b
			}
		}
		return nil
	}
	return d, Sections{Info: sec(".debug_info"), Abbrev: sec(".debug_abbrev"), Str: sec(".debug_str"), LineStr: sec(".debug_line_str")}
}

// same says how e differs from want (""; the same), Full aside.
func same(e, want Entry) string {
	e.Full, want.Full = nil, nil
	if fmt.Sprint(e) != fmt.Sprint(want) {
		return fmt.Sprintf("\n got  %+v\n want %+v", e, want)
	}
	return ""
}

// compareWalk walks d's entries with Reader and with debug/dwarf's
// Reader side by side, skipping the children of every skip-th entry
// that has some in both, and reads each entry again by offset (At): the
// entries, their ends and the errors must agree. It returns the number
// of entries Reader decoded itself.
func compareWalk(t testing.TB, d *dwarf.Data, s Sections, skip int) (entries, decoded int) {
	t.Helper()
	r, dw, at := New(d, s), d.Reader(), d.Reader()
	for i := 0; i <= len(s.Info); i++ { // (see walkDWARF)
		want, werr := dw.Next()
		got, ok, gerr := r.Next()
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("entry %d: error %v, debug/dwarf's %v", i, gerr, werr)
		}
		if werr != nil {
			return entries, decoded
		}
		if want == nil {
			if ok {
				t.Fatalf("entry %d at %#x: debug/dwarf has no more", i, got.Offset)
			}
			return entries, decoded
		}
		if !ok {
			t.Fatalf("entry %d: none, debug/dwarf's at %#x", i, want.Offset)
		}
		if diff := same(got, FromDWARF(want)); diff != "" {
			t.Fatalf("entry %d:%s", i, diff)
		}
		entries++
		if got.Full == nil {
			decoded++
		}
		if want.Tag != 0 {
			at.Seek(want.Offset)
			w, err := at.Next()
			g, ok := r.At(want.Offset)
			if (err == nil && w != nil) != ok {
				t.Fatalf("At(%#x): %v, debug/dwarf's %v %v", want.Offset, ok, w, err)
			}
			if ok {
				if diff := same(g, FromDWARF(w)); diff != "" {
					t.Fatalf("At(%#x):%s", want.Offset, diff)
				}
			}
		}
		if skip > 0 && i%skip == 0 {
			dw.SkipChildren()
			r.SkipChildren()
		}
	}
	return entries, decoded
}

// TestSameAsDebugDWARFNode: node's DWARF (libuv: 111 units of DWARF 4).
func TestSameAsDebugDWARFNode(t *testing.T) {
	f := testutil.ELFWith(t, "/usr/bin/node", ".debug_info")
	d, s := sectionsOf(t, f)
	for _, skip := range []int{0, 1, 3} {
		n, own := compareWalk(t, d, s, skip)
		t.Logf("skipping every %d: %d entries, %d decoded here", skip, n, own)
		if skip != 1 && own < n*9/10 { // (1: the units' entries only, read by both)
			t.Errorf("only %d of %d entries decoded here", own, n)
		}
	}
}

// buildFixture compiles dwtypes' C fixture (internal/dwtypes/testdata/types.c)
// with gcc and flags.
func buildFixture(t testing.TB, flags ...string) *elf.File {
	t.Helper()
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("../dwtypes/testdata/types.c")
	out := filepath.Join(dir, "types")
	testutil.Run(t, dir, "gcc", append(append([]string{"-g", "-O2"}, flags...), "-o", out, src)...)
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSameAsDebugDWARFFixture: a C program built with gcc -g -O2, DWARF
// 4 and 5 (whose units' entries use line_strp and implicit_const), 32-
// and 64-bit DWARF.
func TestSameAsDebugDWARFFixture(t *testing.T) {
	for _, flags := range [][]string{{"-gdwarf-4"}, {"-gdwarf-5"}, {"-gdwarf-4", "-gdwarf64"}, {"-gdwarf-2", "-gstrict-dwarf"}, {"-xc++"}} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			f := buildFixture(t, flags...)
			d, s := sectionsOf(t, f)
			for _, skip := range []int{0, 1, 2} {
				n, own := compareWalk(t, d, s, skip)
				if skip != 1 && own < n*9/10 {
					t.Errorf("skipping every %d: only %d of %d entries decoded here", skip, own, n)
				}
			}
		})
	}
}

// FuzzReader: mutated .debug_info and .debug_abbrev (of the example
// firmware, DWARF 5, and of a gcc program, DWARF 4) read by Reader and
// by debug/dwarf must give the same entries and errors.
func FuzzReader(f *testing.F) {
	add := func(ef *elf.File) {
		_, s := sectionsOf(f, ef)
		f.Add(s.Info, s.Abbrev, s.Str, s.LineStr, 3)
	}
	if ef, err := elf.Open("../../examples/firmware/firmware.elf"); err == nil {
		add(ef)
		ef.Close()
	}
	if _, err := os.Stat("/usr/bin/gcc"); err == nil {
		add(buildFixture(f, "-gdwarf-4"))
	}
	f.Fuzz(func(t *testing.T, info, abbrev, str, lineStr []byte, skip int) {
		if len(info) > 1<<16 || len(abbrev) > 1<<14 {
			return
		}
		d, err := dwarf.New(abbrev, nil, nil, info, nil, nil, nil, str)
		if err != nil {
			return
		}
		if len(lineStr) > 0 {
			if d.AddSection(".debug_line_str", lineStr) != nil {
				return
			}
		}
		// debug/dwarf panics on some malformed input: such input is
		// not compared (a panic of Reader's own would show here too,
		// and be looked at).
		ends := false
		if panics(func() { ends = walkDWARF(d, skip%8, len(info)) }) || !ends {
			return
		}
		compareWalk(t, d, Sections{Info: info, Abbrev: abbrev, Str: str, LineStr: lineStr}, skip%8)
	})
}

func panics(fn func()) (p bool) {
	defer func() { p = recover() != nil }()
	fn()
	return false
}

// walkDWARF makes debug/dwarf's calls of compareWalk; false when it
// reads more entries than info has bytes (debug/dwarf reads a LEB128
// number cut short by the unit's end as a 0 and stays where it is: an
// endless list of ends of lists).
func walkDWARF(d *dwarf.Data, skip, infoLen int) bool {
	dw, at := d.Reader(), d.Reader()
	for i := 0; i <= infoLen; i++ {
		e, err := dw.Next()
		if err != nil || e == nil {
			return true
		}
		if e.Tag != 0 {
			at.Seek(e.Offset)
			at.Next()
		}
		if skip > 0 && i%skip == 0 {
			dw.SkipChildren()
		}
	}
	return false
}
