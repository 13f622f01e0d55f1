// Package dieread reads the entries of a program's .debug_info as
// debug/dwarf's Reader does, but decodes of each only the attributes
// that stackscope's readers of the program's own DWARF use (dwtypes'
// prototypes and register variables, srcloc's declarations) into an
// Entry value: no allocation per entry. debug/dwarf allocates an Entry,
// its fields and a boxed value per attribute for each, which was most of
// what reading node's DWARF (88,000 entries of libuv) cost.
//
// It answers only where debug/dwarf's Reader would read the entry without
// an error and end it at the same place. Where it cannot tell (a form
// whose value is looked up in another section, such as strx, addrx or
// loclistx; a value that runs past its unit; a unit header or
// abbreviation table it does not read), debug/dwarf reads the entry, and
// the rest of that unit, and the answer is debug/dwarf's. A unit's own
// entry is always read by debug/dwarf too (Full), for its ranges and
// attributes. FuzzReader compares the two readings on mutated DWARF.
package dieread

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
)

// Entry is what Reader reads of an entry: for each attribute, the value
// of its first field, as debug/dwarf's Entry.Val gives it, when that value
// has the type named.
type Entry struct {
	Offset   dwarf.Offset
	Tag      dwarf.Tag // 0: the end of a list of siblings
	Children bool

	Lowpc    uint64 // DW_AT_low_pc, a uint64 (an address)
	HasLowpc bool
	// HasRanges: the entry has a DW_AT_ranges field (then Full gives
	// debug/dwarf's Ranges).
	HasRanges bool
	// Prototyped: DW_AT_prototyped is the bool true.
	Prototyped bool

	// DW_AT_type, DW_AT_abstract_origin, DW_AT_specification, each an
	// Offset.
	Type, Origin, Spec          dwarf.Offset
	HasType, HasOrigin, HasSpec bool

	// DW_AT_location as a []byte (an expression or block): LocExpr, not
	// nil. As a location list pointer (its field's class
	// ClassLocListPtr, its value an int64): LocList and HasLocList.
	LocExpr    []byte
	LocList    int64
	HasLocList bool

	// DW_AT_decl_file and DW_AT_decl_line, each an int64.
	DeclFile, DeclLine       int64
	HasDeclFile, HasDeclLine bool

	hasSibling bool // DW_AT_sibling is an Offset (what SkipChildren follows)
	sibling    dwarf.Offset

	// Full is debug/dwarf's Entry, when debug/dwarf read this one; nil
	// otherwise (see Reader.Full).
	Full *dwarf.Entry
}

// FromDWARF gives debug/dwarf's entry as an Entry.
func FromDWARF(e *dwarf.Entry) Entry {
	if e == nil {
		return Entry{}
	}
	out := Entry{Offset: e.Offset, Tag: e.Tag, Children: e.Children, Full: e}
	out.Lowpc, out.HasLowpc = e.Val(dwarf.AttrLowpc).(uint64)
	out.HasRanges = e.AttrField(dwarf.AttrRanges) != nil
	p, ok := e.Val(dwarf.AttrPrototyped).(bool)
	out.Prototyped = ok && p
	out.Type, out.HasType = e.Val(dwarf.AttrType).(dwarf.Offset)
	out.Origin, out.HasOrigin = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
	out.Spec, out.HasSpec = e.Val(dwarf.AttrSpecification).(dwarf.Offset)
	if f := e.AttrField(dwarf.AttrLocation); f != nil {
		out.LocExpr, _ = f.Val.([]byte)
		if f.Class == dwarf.ClassLocListPtr {
			out.LocList, out.HasLocList = f.Val.(int64)
		}
	}
	out.DeclFile, out.HasDeclFile = e.Val(dwarf.AttrDeclFile).(int64)
	out.DeclLine, out.HasDeclLine = e.Val(dwarf.AttrDeclLine).(int64)
	if e.Children {
		out.sibling, out.hasSibling = e.Val(dwarf.AttrSibling).(dwarf.Offset)
	}
	return out
}

// Sections are the raw sections Reader decodes (nil ones: none).
type Sections struct {
	Info, Abbrev, Str, LineStr []byte
}

// Reader reads entries in order, as debug/dwarf's Reader.
type Reader struct {
	d     *dwarf.Data
	info  []byte
	units []unit // nil: every entry is read by debug/dwarf
	// strEnd is .debug_str's last NUL + 1: a strp below it reads (a
	// string ends before the section does); lineStrEnd, the same.
	strEnd, lineStrEnd int
	hasLineStr         bool

	// Where the next entry is: units[u], at pos, or, when slow, where
	// debug/dwarf's Reader dw is.
	u    int
	pos  int
	slow bool
	dw   *dwarf.Reader
	// at reads an entry by offset (units' own entries, At's fallback).
	at *dwarf.Reader
	// Of the last entry read (SkipChildren's rule).
	lastChildren, lastUnit, lastHasSibling bool
	lastSibling                            dwarf.Offset
}

// unit is one unit of .debug_info.
type unit struct {
	base       int // the header's offset (references are relative to it)
	start, end int // its entries
	vers       int
	asize      int
	is64       bool
	abbrevs    []abbrev // by code; nil: debug/dwarf reads this unit
}

// abbrev is one abbreviation; ok false when Reader does not read its
// entries (a form it does not decode).
type abbrev struct {
	tag      dwarf.Tag
	children bool
	ok       bool
	fields   []field
}

// field is one attribute of an abbreviation (an abbreviation with an
// attribute or implicit constant too large for it is not read here).
type field struct {
	attr     uint16
	form     uint16
	implicit int32 // DW_FORM_implicit_const's value
}

// New returns a reader of d's entries from the first; s holds d's
// sections, which Reader decodes itself where it can.
func New(d *dwarf.Data, s Sections) *Reader {
	r := &Reader{d: d, info: s.Info, dw: d.Reader(), at: d.Reader(), hasLineStr: len(s.LineStr) > 0}
	r.strEnd = bytes.LastIndexByte(s.Str, 0) + 1
	r.lineStrEnd = bytes.LastIndexByte(s.LineStr, 0) + 1
	r.units = parseUnits(s.Info, s.Abbrev)
	if len(r.units) == 0 {
		r.slow = true
	} else {
		r.pos = r.units[0].start
	}
	return r
}

// parseUnits reads the unit headers of info as debug/dwarf's parseUnits
// does; nil when one does not read as expected (then debug/dwarf reads
// every entry).
func parseUnits(info, abbrevSec []byte) []unit {
	headers, ok := ReadUnitHeaders(info)
	if !ok {
		return nil
	}
	units := make([]unit, 0, len(headers))
	tables := map[uint64][]abbrev{}
	for _, h := range headers {
		u := unit{base: h.Base, start: h.Start, end: h.End, vers: h.Version, asize: h.AddrSize, is64: h.Is64}
		// Compile and partial units with 4- or 8-byte addresses; the
		// rest is read by debug/dwarf.
		if (h.Type == UnitCompile || h.Type == UnitPartial) && (u.asize == 4 || u.asize == 8) {
			t, seen := tables[h.AbbrevOff]
			if !seen {
				t = parseAbbrevs(abbrevSec, h.AbbrevOff)
				tables[h.AbbrevOff] = t
			}
			u.abbrevs = t
		}
		units = append(units, u)
	}
	return units
}

// maxCodes bounds the abbreviation codes read (a table indexed by code).
const maxCodes = 1 << 16

// parseAbbrevs reads the abbreviation table at off; nil when it does not
// read. It counts first, then fills arrays of exactly the size needed,
// the fields of all abbreviations in one (node's 111 tables: built by
// append, 2.6 MB were allocated per load).
func parseAbbrevs(sec []byte, off uint64) []abbrev {
	maxCode, fields, ok := countAbbrevs(sec, off)
	if !ok {
		return nil
	}
	out := make([]abbrev, maxCode+1)
	all := make([]field, 0, fields)
	c, _ := NewAbbrevCursor(sec, off)
	for {
		code, tag, children, _ := c.Next()
		if code == 0 {
			return out
		}
		a := abbrev{tag: tag, children: children, ok: true}
		start := len(all)
		for {
			at, form, implicit, _ := c.NextField()
			if at == 0 && form == 0 {
				break
			}
			f := field{attr: uint16(at), form: uint16(form)}
			if at > 0xffff || !known(form) {
				a.ok = false
			}
			if form == FormImplicitConst {
				f.implicit = int32(implicit)
				if int64(f.implicit) != implicit {
					a.ok = false
				}
			}
			all = append(all, f)
		}
		a.fields = all[start:len(all):len(all)]
		out[code] = a
	}
}

// countAbbrevs returns the largest code of the table at off and the
// number of its fields; false when it does not read.
func countAbbrevs(sec []byte, off uint64) (maxCode uint64, fields int, ok bool) {
	c, ok := NewAbbrevCursor(sec, off)
	if !ok {
		return 0, 0, false
	}
	for {
		code, _, _, ok := c.Next()
		if !ok || code >= maxCodes {
			return 0, 0, false
		}
		if code == 0 {
			return maxCode, fields, true
		}
		maxCode = max(maxCode, code)
		for {
			at, form, _, ok := c.NextField()
			if !ok {
				return 0, 0, false
			}
			if at == 0 && form == 0 {
				break
			}
			fields++
		}
	}
}

func known(form uint64) bool {
	switch form {
	case FormAddr, FormBlock2, FormBlock4, FormData2, FormData4, FormData8, FormString,
		FormBlock, FormBlock1, FormData1, FormFlag, FormSdata, FormStrp, FormUdata,
		FormRefAddr, FormRef1, FormRef2, FormRef4, FormRef8, FormRefUdata, FormSecOffset,
		FormExprloc, FormFlagPresent, FormData16, FormLineStrp, FormRefSig8, FormImplicitConst:
		return true
	}
	return false
}

// Next returns the next entry; ok false at the end of the entries.
func (r *Reader) Next() (e Entry, ok bool, err error) {
	if r.slow {
		return r.nextSlow()
	}
	for r.pos >= r.units[r.u].end && r.u+1 < len(r.units) {
		r.u++
		r.pos = r.units[r.u].start
	}
	if r.pos >= r.units[r.u].end {
		return Entry{}, false, nil
	}
	e, next, decoded := r.decode(r.u, r.pos)
	if decoded && r.pos == r.units[r.u].start {
		// A unit's own entry: debug/dwarf's too, for its ranges and
		// attributes, which must agree.
		decoded = r.withFull(&e)
	}
	if !decoded {
		r.slow = true
		r.dw.Seek(dwarf.Offset(r.pos))
		return r.nextSlow()
	}
	r.pos = next
	r.noteLast(e)
	return e, true, nil
}

// withFull reads e's entry with debug/dwarf into e.Full; false when that
// does not give the same entry.
func (r *Reader) withFull(e *Entry) bool {
	r.at.Seek(e.Offset)
	full, err := r.at.Next()
	if err != nil || full == nil || full.Offset != e.Offset || full.Tag != e.Tag || full.Children != e.Children {
		return false
	}
	e.Full = full
	return true
}

func (r *Reader) noteLast(e Entry) {
	r.lastChildren = e.Children
	r.lastHasSibling, r.lastSibling = e.hasSibling, e.sibling
	r.lastUnit = e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit
}

// nextSlow reads the next entry with debug/dwarf; at the first entry of
// a unit Reader decodes, it goes on with its own decoding.
func (r *Reader) nextSlow() (Entry, bool, error) {
	full, err := r.dw.Next()
	if err != nil {
		return Entry{}, false, err
	}
	if full == nil {
		return Entry{}, false, nil
	}
	e := FromDWARF(full)
	if i := r.unitStartingAt(int(full.Offset)); i >= 0 {
		if own, next, ok := r.decode(i, int(full.Offset)); ok && own.Tag == full.Tag && own.Children == full.Children {
			r.slow, r.u, r.pos = false, i, next
			r.noteLast(e)
			return e, true, nil
		}
	}
	return e, true, nil
}

// unitStartingAt returns the unit whose entries start at off (-1: none).
func (r *Reader) unitStartingAt(off int) int {
	lo, hi := 0, len(r.units)
	for lo < hi {
		m := (lo + hi) / 2
		if r.units[m].start < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r.units) && r.units[lo].start == off && r.units[lo].abbrevs != nil {
		return lo
	}
	return -1
}

// SkipChildren skips the children of the last entry Next returned, as
// debug/dwarf's Reader.SkipChildren: to its DW_AT_sibling when that is
// ahead, past the rest of the unit after a unit's entry, else entry by
// entry.
func (r *Reader) SkipChildren() {
	if r.slow {
		r.dw.SkipChildren()
		return
	}
	if !r.lastChildren {
		return
	}
	if r.lastHasSibling && int(r.lastSibling) >= r.pos {
		r.lastChildren = false
		if int(r.lastSibling) < r.units[r.u].end {
			r.pos = int(r.lastSibling)
			return
		}
		r.slow = true
		r.dw.Seek(r.lastSibling)
		return
	}
	if r.lastUnit && r.u+1 < len(r.units) {
		r.u++
		r.pos = r.units[r.u].start
		return
	}
	for {
		e, ok, err := r.Next()
		if err != nil || !ok || e.Tag == 0 {
			return
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// At reads the entry at off (an origin, a specification); false where
// debug/dwarf's Reader, put at off, reads none or an error.
func (r *Reader) At(off dwarf.Offset) (Entry, bool) {
	if i := r.unitOf(int(off)); i >= 0 {
		if e, _, ok := r.decode(i, int(off)); ok && (int(off) != r.units[i].start || r.withFull(&e)) {
			return e, true
		}
	}
	r.at.Seek(off)
	full, err := r.at.Next()
	if err != nil || full == nil {
		return Entry{}, false
	}
	return FromDWARF(full), true
}

// Full returns debug/dwarf's reading of e (for its ranges).
func (r *Reader) Full(e Entry) (*dwarf.Entry, error) {
	if e.Full != nil {
		return e.Full, nil
	}
	r.at.Seek(e.Offset)
	return r.at.Next()
}

// unitOf returns the unit Reader decodes whose entries hold off, -1: none.
func (r *Reader) unitOf(off int) int {
	lo, hi := 0, len(r.units)
	for lo < hi {
		m := (lo + hi) / 2
		if r.units[m].end <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r.units) && r.units[lo].start <= off && r.units[lo].abbrevs != nil {
		return lo
	}
	return -1
}

// decode reads the entry at off of unit ui; ok false where debug/dwarf
// must (see the package comment).
func (r *Reader) decode(ui int, off int) (e Entry, next int, ok bool) {
	u := &r.units[ui]
	if off < u.start || off >= u.end {
		return e, 0, false
	}
	b := r.info[off:u.end]
	code, ok := ULEB(&b)
	if !ok {
		return e, 0, false
	}
	if code == 0 {
		// debug/dwarf's Entry for the end of a list: all zero, its
		// Offset too.
		return e, u.end - len(b), true
	}
	e.Offset = dwarf.Offset(off)
	if code >= uint64(len(u.abbrevs)) || !u.abbrevs[code].ok {
		return e, 0, false
	}
	a := &u.abbrevs[code]
	e.Tag, e.Children = a.tag, a.children
	offSize := 4
	if u.is64 {
		offSize = 8
	}
	var seen seenAttrs
	for i := range a.fields {
		f := &a.fields[i]
		v, bs, kind, ok := r.value(u, &b, f, offSize)
		if !ok {
			return e, 0, false
		}
		attr := dwarf.Attr(f.attr)
		if !seen.first(attr) {
			continue
		}
		switch attr {
		case dwarf.AttrSibling:
			e.sibling, e.hasSibling = dwarf.Offset(v), kind == kindRef && e.Children
		case dwarf.AttrLowpc:
			e.Lowpc, e.HasLowpc = v, kind == kindAddr
		case dwarf.AttrRanges:
			e.HasRanges = true
		case dwarf.AttrPrototyped:
			e.Prototyped = kind == kindFlag && v == 1
		case dwarf.AttrType:
			e.Type, e.HasType = dwarf.Offset(v), kind == kindRef
		case dwarf.AttrAbstractOrigin:
			e.Origin, e.HasOrigin = dwarf.Offset(v), kind == kindRef
		case dwarf.AttrSpecification:
			e.Spec, e.HasSpec = dwarf.Offset(v), kind == kindRef
		case dwarf.AttrLocation:
			switch {
			case kind == kindBytes:
				e.LocExpr = bs
			case f.form == FormSecOffset || (kind == kindConst && u.vers < 4):
				// debug/dwarf's class: a location list pointer (in
				// DWARF 2 and 3 a constant is one).
				e.LocList, e.HasLocList = int64(v), true
			}
		case dwarf.AttrDeclFile:
			e.DeclFile, e.HasDeclFile = int64(v), kind == kindConst
		case dwarf.AttrDeclLine:
			e.DeclLine, e.HasDeclLine = int64(v), kind == kindConst
		}
	}
	if !e.hasSibling {
		e.sibling = 0
	}
	return e, u.end - len(b), true
}

// seenAttrs marks the attributes of decode's interest already met (the
// first field of each is the one Entry.Val reads).
type seenAttrs uint16

func (s *seenAttrs) first(a dwarf.Attr) bool {
	var bit seenAttrs
	switch a {
	case dwarf.AttrSibling:
		bit = 1 << 0
	case dwarf.AttrLowpc:
		bit = 1 << 1
	case dwarf.AttrRanges:
		bit = 1 << 2
	case dwarf.AttrPrototyped:
		bit = 1 << 3
	case dwarf.AttrType:
		bit = 1 << 4
	case dwarf.AttrAbstractOrigin:
		bit = 1 << 5
	case dwarf.AttrSpecification:
		bit = 1 << 6
	case dwarf.AttrLocation:
		bit = 1 << 7
	case dwarf.AttrDeclFile:
		bit = 1 << 8
	case dwarf.AttrDeclLine:
		bit = 1 << 9
	default:
		return false
	}
	if *s&bit != 0 {
		return false
	}
	*s |= bit
	return true
}

// The Go type debug/dwarf gives a field's value, by form.
type valueKind int

const (
	kindOther valueKind = iota
	kindAddr            // uint64
	kindConst           // int64 (a constant, or a section offset)
	kindFlag            // bool
	kindRef             // Offset
	kindBytes           // []byte
)

// value reads the value of field f from b: as a number (v), or bytes
// (bs); ok false where Reader does not decode it as debug/dwarf would.
func (r *Reader) value(u *unit, b *[]byte, f *field, offSize int) (v uint64, bs []byte, kind valueKind, ok bool) {
	fixed := func(n int) (uint64, bool) {
		if len(*b) < n {
			return 0, false
		}
		var x uint64
		switch n {
		case 1:
			x = uint64((*b)[0])
		case 2:
			x = uint64(binary.LittleEndian.Uint16(*b))
		case 4:
			x = uint64(binary.LittleEndian.Uint32(*b))
		case 8:
			x = binary.LittleEndian.Uint64(*b)
		}
		*b = (*b)[n:]
		return x, true
	}
	block := func(n uint64, ok bool) ([]byte, bool) {
		if !ok || n > uint64(len(*b)) || int(n) < 0 {
			return nil, false
		}
		out := (*b)[:n:n]
		*b = (*b)[n:]
		return out, true
	}
	switch f.form {
	case FormAddr:
		v, ok = fixed(u.asize)
		return v, nil, kindAddr, ok
	case FormData1:
		v, ok = fixed(1)
		return v, nil, kindConst, ok
	case FormData2:
		v, ok = fixed(2)
		return v, nil, kindConst, ok
	case FormData4:
		v, ok = fixed(4)
		return v, nil, kindConst, ok
	case FormData8:
		v, ok = fixed(8)
		return v, nil, kindConst, ok
	case FormSdata:
		s, ok := SLEB(b)
		return uint64(s), nil, kindConst, ok
	case FormUdata:
		v, ok = ULEB(b)
		return v, nil, kindConst, ok
	case FormImplicitConst:
		return uint64(f.implicit), nil, kindConst, true
	case FormSecOffset:
		v, ok = fixed(offSize)
		return v, nil, kindConst, ok
	case FormFlag:
		v, ok = fixed(1)
		return v, nil, kindFlag, ok
	case FormFlagPresent:
		return 1, nil, kindFlag, true
	case FormRef1:
		v, ok = fixed(1)
		return v + uint64(u.base), nil, kindRef, ok
	case FormRef2:
		v, ok = fixed(2)
		return v + uint64(u.base), nil, kindRef, ok
	case FormRef4:
		v, ok = fixed(4)
		return v + uint64(u.base), nil, kindRef, ok
	case FormRef8:
		v, ok = fixed(8)
		return v + uint64(u.base), nil, kindRef, ok
	case FormRefUdata:
		v, ok = ULEB(b)
		return v + uint64(u.base), nil, kindRef, ok
	case FormRefAddr:
		if u.vers == 2 {
			v, ok = fixed(u.asize)
		} else {
			v, ok = fixed(offSize)
		}
		return v, nil, kindRef, ok
	case FormRefSig8:
		_, ok = fixed(8)
		return 0, nil, kindOther, ok
	case FormBlock1:
		n, ok := fixed(1)
		bs, ok = block(n, ok)
		return 0, bs, kindBytes, ok
	case FormBlock2:
		n, ok := fixed(2)
		bs, ok = block(n, ok)
		return 0, bs, kindBytes, ok
	case FormBlock4:
		n, ok := fixed(4)
		bs, ok = block(n, ok)
		return 0, bs, kindBytes, ok
	case FormBlock, FormExprloc:
		n, ok := ULEB(b)
		bs, ok = block(n, ok)
		return 0, bs, kindBytes, ok
	case FormData16:
		bs, ok = block(16, true)
		return 0, bs, kindBytes, ok
	case FormString:
		i := bytes.IndexByte(*b, 0)
		if i < 0 {
			return 0, nil, kindOther, false
		}
		*b = (*b)[i+1:]
		return 0, nil, kindOther, true
	case FormStrp, FormLineStrp:
		o, ok := fixed(offSize)
		end := r.strEnd
		if f.form == FormLineStrp {
			end = r.lineStrEnd
			ok = ok && r.hasLineStr
		}
		return 0, nil, kindOther, ok && o < uint64(end)
	}
	return 0, nil, kindOther, false
}
