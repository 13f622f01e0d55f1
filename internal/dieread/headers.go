package dieread

import (
	"debug/dwarf"
	"encoding/binary"
)

// The byte-level reading of units' headers and abbreviation tables, shared
// by this package's Reader and callgraph's entry scanner (diescan.go).
// Each builds its own tables from what these read, with its own rules on
// what it leaves to debug/dwarf; what is read here is read as debug/dwarf's
// parseUnits and parseAbbrev read it.

// UnitHeader is one unit's header in .debug_info.
type UnitHeader struct {
	Base       int // the header's offset (references are relative to it)
	Start, End int // its entries
	Version    int
	Type       byte // DW_UT_*; DW_UT_compile (1) before DWARF 5
	AddrSize   int
	Is64       bool   // the 64-bit DWARF format
	AbbrevOff  uint64 // its abbreviation table's offset in .debug_abbrev
}

// DWARF 5 unit types (7.5.1).
const (
	UnitCompile      = 0x01
	UnitType         = 0x02
	UnitPartial      = 0x03
	UnitSkeleton     = 0x04
	UnitSplitCompile = 0x05
	UnitSplitType    = 0x06
)

// ReadUnitHeaders reads the header of every unit of info, in order; false
// when one does not read whole, or is one debug/dwarf rejects (a length of
// 0 or past 32 bits, a reserved length, a version outside 2-5).
func ReadUnitHeaders(info []byte) ([]UnitHeader, bool) {
	var units []UnitHeader
	for off := 0; off < len(info); {
		u, ok := readUnitHeader(info, off)
		if !ok {
			return nil, false
		}
		units = append(units, u)
		off = u.End
	}
	return units, true
}

func readUnitHeader(info []byte, off int) (u UnitHeader, ok bool) {
	u.Base = off
	if off+4 > len(info) {
		return u, false
	}
	n := uint64(binary.LittleEndian.Uint32(info[off:]))
	p := off + 4
	if n == 0xffffffff {
		if p+8 > len(info) {
			return u, false
		}
		n = binary.LittleEndian.Uint64(info[p:])
		p += 8
		u.Is64 = true
	} else if n >= 0xfffffff0 {
		return u, false
	}
	if n == 0 || n != uint64(uint32(n)) || n > uint64(len(info)-p) {
		return u, false
	}
	u.End = p + int(n)
	offSize := 4
	if u.Is64 {
		offSize = 8
	}
	if p+2 > u.End {
		return u, false
	}
	u.Version = int(binary.LittleEndian.Uint16(info[p:]))
	p += 2
	if u.Version < 2 || u.Version > 5 {
		return u, false
	}
	u.Type = UnitCompile
	if u.Version >= 5 {
		if p+2 > u.End {
			return u, false
		}
		u.Type, u.AddrSize = info[p], int(info[p+1])
		p += 2
	}
	if p+offSize > u.End {
		return u, false
	}
	if u.Is64 {
		u.AbbrevOff = binary.LittleEndian.Uint64(info[p:])
	} else {
		u.AbbrevOff = uint64(binary.LittleEndian.Uint32(info[p:]))
	}
	p += offSize
	if u.Version < 5 {
		if p+1 > u.End {
			return u, false
		}
		u.AddrSize = int(info[p])
		p++
	}
	switch u.Type {
	case UnitSkeleton, UnitSplitCompile: // the unit ID
		p += 8
	case UnitType, UnitSplitType: // the signature, the type's offset
		p += 8 + offSize
	}
	if p > u.End {
		return u, false
	}
	u.Start = p
	return u, true
}

// AbbrevCursor reads one abbreviation table in order without allocating:
// Next gives each abbreviation, then NextField each of its attributes.
type AbbrevCursor struct {
	b []byte
}

// NewAbbrevCursor starts at the table at off in sec (.debug_abbrev); false
// when off is past the section.
func NewAbbrevCursor(sec []byte, off uint64) (AbbrevCursor, bool) {
	if off >= uint64(len(sec)) {
		return AbbrevCursor{}, false
	}
	return AbbrevCursor{b: sec[off:]}, true
}

// Next reads the next abbreviation's code, tag and children flag; code 0
// is the table's end. false: it does not read.
func (c *AbbrevCursor) Next() (code uint64, tag dwarf.Tag, children, ok bool) {
	code, ok = ULEB(&c.b)
	if !ok || code == 0 {
		return 0, 0, false, ok
	}
	t, ok := ULEB(&c.b)
	if !ok || t != uint64(uint32(t)) || len(c.b) < 1 {
		return 0, 0, false, false
	}
	children = c.b[0] != 0
	c.b = c.b[1:]
	return code, dwarf.Tag(t), children, true
}

// NextField reads the abbreviation's next attribute, its form and, for
// DW_FORM_implicit_const, its value; attr and form 0: the abbreviation's
// end. false: it does not read. Attribute and form are kept in 32 bits,
// as debug/dwarf keeps them (a form that is implicit_const in 32 bits is
// one, whatever its higher bits).
func (c *AbbrevCursor) NextField() (attr, form uint64, implicit int64, ok bool) {
	attr, ok1 := ULEB(&c.b)
	form, ok2 := ULEB(&c.b)
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	attr, form = uint64(uint32(attr)), uint64(uint32(form))
	if form == FormImplicitConst {
		if implicit, ok = SLEB(&c.b); !ok {
			return 0, 0, 0, false
		}
	}
	return attr, form, implicit, true
}

// ULEB reads an unsigned LEB128 number from *b as debug/dwarf reads it
// (the bits past 64 dropped); false when it does not end within *b
// (debug/dwarf then reads 0 without moving: not followed here).
func ULEB(b *[]byte) (uint64, bool) {
	var v uint64
	var shift uint
	for i, c := range *b {
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			*b = (*b)[i+1:]
			return v, true
		}
	}
	return 0, false
}

// SLEB reads a signed LEB128 number from *b as debug/dwarf reads it (the
// sign taken from the last byte's bit 6 while under 64 bits, the bits
// past 64 dropped); false when it does not end within *b.
func SLEB(b *[]byte) (int64, bool) {
	var c uint64
	var bits uint
	for i, v := range *b {
		c |= uint64(v&0x7f) << bits
		bits += 7
		if v&0x80 == 0 {
			*b = (*b)[i+1:]
			x := int64(c)
			if x&(1<<(bits-1)) != 0 {
				x |= -1 << bits
			}
			return x, true
		}
	}
	return 0, false
}
