package dieread

import (
	"fmt"
	"testing"
)

// TestUnitHeaders: the headers ReadUnitHeaders reads from gcc's DWARF 2,
// 4, 5 and 64-bit DWARF name the units debug/dwarf's Reader walks: their
// first entries, in order, and their address sizes; and every unit's
// abbreviation table reads whole with AbbrevCursor.
func TestUnitHeaders(t *testing.T) {
	for _, flags := range [][]string{{"-gdwarf-2", "-gstrict-dwarf"}, {"-gdwarf-4"}, {"-gdwarf-5"}, {"-gdwarf-4", "-gdwarf64"}} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			f := buildFixture(t, flags...)
			d, s := sectionsOf(t, f)
			headers, ok := ReadUnitHeaders(s.Info)
			if !ok || len(headers) == 0 {
				t.Fatalf("headers not read (%d)", len(headers))
			}
			r := d.Reader()
			for i, h := range headers {
				e, err := r.Next()
				if err != nil || e == nil {
					t.Fatalf("unit %d: debug/dwarf has none (%v)", i, err)
				}
				if int(e.Offset) != h.Start || r.AddressSize() != h.AddrSize {
					t.Errorf("unit %d: starts at %#x with %d-byte addresses, debug/dwarf's at %#x with %d", i, h.Start, h.AddrSize, e.Offset, r.AddressSize())
				}
				if want := flags[0][len("-gdwarf-")] - '0'; h.Version != int(want) || h.Is64 != (len(flags) > 1 && flags[1] == "-gdwarf64") {
					t.Errorf("unit %d: version %d, 64-bit %v; built with %v", i, h.Version, h.Is64, flags)
				}
				r.SkipChildren()
				if err := readTable(s.Abbrev, h.AbbrevOff); err != nil {
					t.Errorf("unit %d: %v", i, err)
				}
			}
			if e, _ := r.Next(); e != nil {
				t.Errorf("debug/dwarf has a unit past the last header, at %#x", e.Offset)
			}
		})
	}
}

// readTable reads the abbreviation table at off to its end.
func readTable(sec []byte, off uint64) error {
	c, ok := NewAbbrevCursor(sec, off)
	if !ok {
		return fmt.Errorf("table at %#x is past the section", off)
	}
	for n := 0; ; n++ {
		code, _, _, ok := c.Next()
		if !ok {
			return fmt.Errorf("abbreviation %d of the table at %#x does not read", n, off)
		}
		if code == 0 {
			if n == 0 {
				return fmt.Errorf("table at %#x is empty", off)
			}
			return nil
		}
		for {
			attr, form, _, ok := c.NextField()
			if !ok {
				return fmt.Errorf("abbreviation %d of the table at %#x: a field does not read", code, off)
			}
			if attr == 0 && form == 0 {
				break
			}
		}
	}
}
