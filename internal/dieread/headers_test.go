package dieread

import (
	"debug/dwarf"
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

// TestFormKeptIn32Bits: an abbreviation whose form is implicit_const
// with a bit set above 32 (debug/dwarf keeps forms in 32 bits: an
// implicit constant, whose value follows in the table) reads as
// debug/dwarf reads it, and so does the abbreviation after it, both
// decoded here. (Read in 64 bits, as dieread did before it shared
// AbbrevCursor, the form was an unknown one and its value was taken for
// the next attribute: here the table then did not read, and every entry
// was left to debug/dwarf.)
func TestFormKeptIn32Bits(t *testing.T) {
	abbrev := []byte{
		1, 0x11, 1, // 1: compile_unit, with children
		0x0b, 0xa1, 0x80, 0x80, 0x80, 0x10, 5, // byte_size, form 1<<32|implicit_const, value 5
		0x13, 0x0b, // language, data1
		0, 0,
		2, 0x24, 0, // 2: base_type
		0x0b, 0x0b, // byte_size, data1
		0, 0,
		0,
	}
	info := []byte{
		13, 0, 0, 0, // unit length
		5, 0, 1, 8, // DWARF 5, compile unit, 8-byte addresses
		0, 0, 0, 0, // abbreviations at 0
		1, 0x0c, // compile_unit, C99
		2, 4, // base_type, 4 bytes
		0,
	}
	d, err := dwarf.New(abbrev, nil, nil, info, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, own := compareWalk(t, d, Sections{Info: info, Abbrev: abbrev}, 0)
	// (a unit's own entry is debug/dwarf's: the other two are decoded here)
	if n != 3 || own != 2 {
		t.Errorf("%d entries, %d decoded here; want 3 and 2", n, own)
	}
}
