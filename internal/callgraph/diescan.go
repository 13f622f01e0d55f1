package callgraph

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/stackscope/stackscope/internal/dieread"
)

// The shape of a DWARF entry without debug/dwarf's decoding of it. The
// prefetch's walk of libc's top-level entries (walkTopLevelUsers) reads
// 260,000 of them, and debug/dwarf allocates an Entry, its fields and a
// boxed value per attribute for each; 210,000 of them (pointer, const and
// restrict types, typedefs, base, array, subroutine, union and enum
// types) no reader looks at beyond their tag and where the next one
// starts. dieScanner reads just that (tag, children, DW_AT_sibling, the
// entry's end) from the abbreviations, so the walk skips those entries
// without building them. debug/dwarf has no such reader (its abbreviation
// tables and units are private), so this is our own, kept to what the
// walk needs.
//
// It answers only where debug/dwarf's Reader.Next, put at the same offset,
// would read the entry without an error and end it at the same place: a
// form whose value is looked up elsewhere (strx, addrx, rnglistx) or one
// it does not know, a value that runs past its unit, an abbreviation
// table that does not read, and it says it does not know, and the walk
// reads that entry with debug/dwarf. FuzzDIEScanner checks the answers
// against debug/dwarf's on mutated DWARF.

// dieScanner reads entries' shapes from a .debug_info section.
type dieScanner struct {
	info           []byte
	units          []scanUnit // by offset
	last           int        // the unit of the last shape asked (entries are asked in order)
	str, lineStr   []byte     // .debug_str, .debug_line_str
	strEnd         int        // .debug_str's last NUL + 1 (0: none): a strp below it reads
	lineStrEnd     int        // the same for .debug_line_str
	abbrevsByTable map[uint64]scanAbbrevTable
	// parseScanAbbrevs' buffers, kept from one table to the next
	scratchAbbrevs []scanAbbrev
	scratchForms   []uint32
}

// scanAbbrevTable is one abbreviation table: its abbreviations by code,
// and their forms (scanAbbrev.formStart and formEnd index them).
type scanAbbrevTable struct {
	byCode []scanAbbrev // nil: the table did not read as expected
	forms  []uint32
}

// scanUnit is one unit of .debug_info, as debug/dwarf's parseUnits reads
// its header.
type scanUnit struct {
	base       dwarf.Offset // the header's offset (references are relative to it)
	start, end dwarf.Offset // its entries
	vers       int
	asize      int
	is64       bool
	abbrevs    []scanAbbrev // by code (known false: none read here); nil: the table did not read as expected
	forms      []uint32     // the abbreviations' forms
}

// scanAbbrev is one abbreviation (known: read; else the scanner cannot
// read an entry of it).
type scanAbbrev struct {
	tag          dwarf.Tag
	children     bool
	known, twice bool // twice: its code was given twice (parseScanAbbrevs)
	// Its forms: its unit's forms[formStart:formEnd].
	formStart, formEnd uint32
	// The index among its forms of the first DW_AT_sibling, DW_AT_type,
	// DW_AT_abstract_origin and DW_AT_name (what Entry.Val finds), -1:
	// none.
	sibling, typ, origin, name int32
	// The same for DW_AT_low_pc and DW_AT_high_pc; hasRanges: it has
	// DW_AT_ranges (dieShape.pcKnown).
	lowpc, highpc int32
	hasRanges     bool
	memberLoc     int32 // the same for DW_AT_data_member_location
	// noReturnAttr: the abbreviation has DW_AT_noreturn (in 32 bits, as
	// debug/dwarf reads it).
	noReturnAttr bool
}

// dieShape is what dieScanner reads of an entry.
type dieShape struct {
	tag        dwarf.Tag
	children   bool
	hasSibling bool         // DW_AT_sibling, first of the entry's, is a reference (what Reader.SkipChildren follows)
	sibling    dwarf.Offset // its value
	// DW_AT_type and DW_AT_abstract_origin, the same (the step's users
	// read them: usersBeside.bodyScanned).
	hasType, hasOrigin bool
	typ, origin        dwarf.Offset
	// typeOther: its first DW_AT_type is not a reference (a type unit's
	// signature: Entry.Val gives another type than dwarf.Offset).
	typeOther bool
	// DW_AT_name, the first, when it is a string (a string, strp or
	// line_strp form): nameKnown, and hasName and name. nameKnown too
	// when the entry has none; not when it is in another form.
	nameKnown, hasName bool
	name               []byte
	end                dwarf.Offset // where the entry's attributes end: its first child, or the next entry
	unit               *scanUnit
	noReturnAttr       bool // its abbreviation has DW_AT_noreturn
	// pcKnown: what debug/dwarf's Data.Ranges gives for the entry is
	// known: none, or pc (hasPC), from DW_AT_low_pc and DW_AT_high_pc
	// (an address, or a constant added to low_pc) where it has no
	// DW_AT_ranges and both are in those forms.
	pcKnown, hasPC bool
	pc             [2]uint64
	// memberLocKnown: what Entry.Val(DW_AT_data_member_location) gives
	// is known: none, a value that is not an int64 (a block, an
	// expression), or, hasMemberLoc, the int64 memberLoc (a constant in
	// data1-8, udata or sdata).
	memberLocKnown, hasMemberLoc bool
	memberLoc                    int64
}

// newDIEScanner reads the units' headers of info and the abbreviation
// tables they name; nil when the units do not read as debug/dwarf reads
// them (the walk then uses debug/dwarf alone).
func newDIEScanner(info, abbrev, str, lineStr []byte) *dieScanner {
	s := &dieScanner{info: info, str: str, lineStr: lineStr, abbrevsByTable: map[uint64]scanAbbrevTable{}}
	if i := bytes.LastIndexByte(str, 0); i >= 0 {
		s.strEnd = i + 1
	}
	if i := bytes.LastIndexByte(lineStr, 0); i >= 0 {
		s.lineStrEnd = i + 1
	}
	headers, ok := dieread.ReadUnitHeaders(info)
	if !ok {
		return nil
	}
	s.units = make([]scanUnit, 0, len(headers))
	for _, h := range headers {
		if h.Type != dieread.UnitCompile && h.Type != dieread.UnitPartial {
			return nil // type, skeleton and split units: not read here
		}
		u := scanUnit{base: dwarf.Offset(h.Base), start: dwarf.Offset(h.Start), end: dwarf.Offset(h.End), vers: h.Version, asize: h.AddrSize, is64: h.Is64}
		t, ok := s.abbrevsByTable[h.AbbrevOff]
		if !ok {
			t = s.parseScanAbbrevs(abbrev, h.AbbrevOff)
			s.abbrevsByTable[h.AbbrevOff] = t
		}
		u.abbrevs, u.forms = t.byCode, t.forms
		s.units = append(s.units, u)
	}
	return s
}

// parseScanAbbrevs reads the abbreviation table at off: its
// abbreviations by code, and their forms; nil when it does not read
// whole (its entries are then left to debug/dwarf). An abbreviation
// code given twice, or over 1<<16 (GCC numbers them from 1), is left out
// (known false): its entries are debug/dwarf's.
//
// The table is flat: its abbreviations in one slice indexed by code,
// their forms in one slice, each made once at its size from the scratch
// buffers the scanner keeps from one table to the next. (One allocation
// per abbreviation and a map per table were 320,000 objects and 0.02 s
// of CPU per run for libc's 1 MB of abbreviations.)
func (s *dieScanner) parseScanAbbrevs(abbrev []byte, off uint64) scanAbbrevTable {
	c, ok := dieread.NewAbbrevCursor(abbrev, off)
	if !ok {
		return scanAbbrevTable{}
	}
	byCode := append(s.scratchAbbrevs[:0], scanAbbrev{})
	forms := s.scratchForms[:0]
	defer func() { s.scratchAbbrevs, s.scratchForms = byCode[:0], forms[:0] }()
	for {
		code, tag, children, ok := c.Next()
		if !ok || code != uint64(uint32(code)) {
			// (debug/dwarf keeps a code in 32 bits: a longer one would
			// stand for another)
			return scanAbbrevTable{}
		}
		if code == 0 {
			break
		}
		a := scanAbbrev{tag: tag, children: children, known: true, sibling: -1, typ: -1, origin: -1, name: -1, lowpc: -1, highpc: -1, memberLoc: -1}
		a.formStart = uint32(len(forms))
		for {
			attr, form, _, ok := c.NextField()
			if !ok {
				return scanAbbrevTable{}
			}
			if attr == 0 && form == 0 {
				break
			}
			if dwarf.Attr(attr) == attrNoreturn {
				a.noReturnAttr = true
			}
			a.note(dwarf.Attr(attr), int32(uint32(len(forms))-a.formStart))
			forms = append(forms, uint32(form))
		}
		a.formEnd = uint32(len(forms))
		c := uint32(code)
		if c >= 1<<16 {
			continue
		}
		for int(c) >= len(byCode) {
			byCode = append(byCode, scanAbbrev{})
		}
		if byCode[c].known || byCode[c].twice {
			byCode[c] = scanAbbrev{twice: true}
			continue
		}
		byCode[c] = a
	}
	return scanAbbrevTable{byCode: slices.Clone(byCode), forms: slices.Clone(forms)}
}

// note keeps i, the index of an attribute attr among a's, where it is the
// first of its kind that the scanner reads (sibling, type, abstract
// origin, name, low and high pc, data member location), and whether a
// has DW_AT_ranges.
func (a *scanAbbrev) note(attr dwarf.Attr, i int32) {
	var at *int32
	switch attr {
	case dwarf.AttrSibling:
		at = &a.sibling
	case dwarf.AttrType:
		at = &a.typ
	case dwarf.AttrAbstractOrigin:
		at = &a.origin
	case dwarf.AttrName:
		at = &a.name
	case dwarf.AttrLowpc:
		at = &a.lowpc
	case dwarf.AttrHighpc:
		at = &a.highpc
	case dwarf.AttrDataMemberLoc:
		at = &a.memberLoc
	case dwarf.AttrRanges:
		a.hasRanges = true
		return
	default:
		return
	}
	if *at < 0 {
		*at = i
	}
}

// shape reads the entry at off; false when it cannot say what
// debug/dwarf would read there (see above), off is not in a unit's
// entries, or the entry is a null one.
func (s *dieScanner) shape(off dwarf.Offset) (dieShape, bool) {
	out, kind := s.read(off)
	return out, kind == readEntry
}

// What read found.
const (
	readUnknown = iota // what debug/dwarf reads there is not known
	readNull           // a null entry (abbreviation code 0 in 32 bits: debug/dwarf's test)
	readEntry          // an entry
)

// nextAfterSkip is where the entry after the one shaped s is once
// Reader.SkipChildren passed its children: its end when it has none,
// else its DW_AT_sibling when past it; 0 when that is not known (the
// children would be read) or is not within s's unit.
func nextAfterSkip(s dieShape) dwarf.Offset {
	at := s.end
	if s.children {
		if !s.hasSibling || s.sibling < s.end {
			return 0
		}
		at = s.sibling
	}
	if at < s.unit.start || at >= s.unit.end {
		return 0
	}
	return at
}

// read reads the entry at off: its shape, or for a null entry only its
// end (and unit).
func (s *dieScanner) read(off dwarf.Offset) (dieShape, int) {
	if s == nil {
		return dieShape{}, readUnknown
	}
	u := s.unitOf(off)
	if u == nil || u.abbrevs == nil {
		return dieShape{}, readUnknown
	}
	b := s.info[off:u.end]
	code, ok := dieread.ULEB(&b)
	if !ok {
		return dieShape{}, readUnknown
	}
	if uint32(code) == 0 {
		return dieShape{end: u.end - dwarf.Offset(len(b)), unit: u}, readNull
	}
	if uint32(code) >= uint32(len(u.abbrevs)) || !u.abbrevs[uint32(code)].known {
		return dieShape{}, readUnknown
	}
	a := &u.abbrevs[uint32(code)]
	out := dieShape{tag: a.tag, children: a.children, unit: u, nameKnown: a.name < 0, noReturnAttr: a.noReturnAttr}
	offSize := 4
	if u.is64 {
		offSize = 8
	}
	var low, high uint64
	lowOK, highOK, highConst := false, false, false
	out.pcKnown = !a.hasRanges
	out.memberLocKnown = a.memberLoc < 0
	for j, form := range u.forms[a.formStart:a.formEnd] {
		i := int32(j)
		value := b // (for DW_AT_low_pc and DW_AT_high_pc)
		n := -1    // the value's size, when fixed
		var ref uint64
		isRef := false
		switch form {
		case dieread.FormAddr:
			if u.asize != 1 && u.asize != 2 && u.asize != 4 && u.asize != 8 {
				return dieShape{}, readUnknown
			}
			n = u.asize
		case dieread.FormData1, dieread.FormFlag, dieread.FormRef1:
			n = 1
		case dieread.FormData2, dieread.FormRef2:
			n = 2
		case dieread.FormData4, dieread.FormRef4, dieread.FormRefSup4:
			n = 4
		case dieread.FormData8, dieread.FormRef8, dieread.FormRefSig8, dieread.FormRefSup8:
			n = 8
		case dieread.FormData16:
			n = 16
		case dieread.FormFlagPresent, dieread.FormImplicitConst:
			n = 0
		case dieread.FormSecOffset, dieread.FormStrpSup, dieread.FormGNURefAlt, dieread.FormGNUStrpAlt:
			n = offSize
		case dieread.FormRefAddr:
			n = offSize
			if u.vers == 2 {
				if u.asize != 1 && u.asize != 2 && u.asize != 4 && u.asize != 8 {
					return dieShape{}, readUnknown
				}
				n = u.asize
			}
		case dieread.FormStrp, dieread.FormLineStrp:
			if len(b) < offSize {
				return dieShape{}, readUnknown
			}
			var at uint64
			if u.is64 {
				at = binary.LittleEndian.Uint64(b)
			} else {
				at = uint64(binary.LittleEndian.Uint32(b))
			}
			end, str := s.strEnd, s.str
			if form == dieread.FormLineStrp {
				end, str = s.lineStrEnd, s.lineStr
			}
			if at >= uint64(end) { // (no NUL after it: debug/dwarf fails)
				return dieShape{}, readUnknown
			}
			if i == a.name {
				str = str[at:]
				out.nameKnown, out.hasName, out.name = true, true, str[:bytes.IndexByte(str, 0)]
			}
			n = offSize
		case dieread.FormSdata, dieread.FormUdata, dieread.FormLoclistx:
			if _, ok := dieread.ULEB(&b); !ok {
				return dieShape{}, readUnknown
			}
		case dieread.FormRefUdata:
			v, ok := dieread.ULEB(&b)
			if !ok {
				return dieShape{}, readUnknown
			}
			ref, isRef = v+uint64(u.base), true
		case dieread.FormString:
			z := bytes.IndexByte(b, 0)
			if z < 0 {
				return dieShape{}, readUnknown
			}
			if i == a.name {
				out.nameKnown, out.hasName, out.name = true, true, b[:z]
			}
			b = b[z+1:]
		case dieread.FormBlock1, dieread.FormBlock2, dieread.FormBlock4, dieread.FormBlock, dieread.FormExprloc:
			var size uint64
			switch form {
			case dieread.FormBlock1:
				if len(b) < 1 {
					return dieShape{}, readUnknown
				}
				size, b = uint64(b[0]), b[1:]
			case dieread.FormBlock2:
				if len(b) < 2 {
					return dieShape{}, readUnknown
				}
				size, b = uint64(binary.LittleEndian.Uint16(b)), b[2:]
			case dieread.FormBlock4:
				if len(b) < 4 {
					return dieShape{}, readUnknown
				}
				size, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
			default:
				if size, ok = dieread.ULEB(&b); !ok {
					return dieShape{}, readUnknown
				}
			}
			if size > uint64(len(b)) {
				return dieShape{}, readUnknown
			}
			b = b[size:]
		default:
			return dieShape{}, readUnknown // a value looked up elsewhere, or a form not known
		}
		if n >= 0 {
			if len(b) < n {
				return dieShape{}, readUnknown
			}
			switch form {
			case dieread.FormRef1:
				ref, isRef = uint64(b[0])+uint64(u.base), true
			case dieread.FormRef2:
				ref, isRef = uint64(binary.LittleEndian.Uint16(b))+uint64(u.base), true
			case dieread.FormRef4:
				ref, isRef = uint64(binary.LittleEndian.Uint32(b))+uint64(u.base), true
			case dieread.FormRef8:
				ref, isRef = binary.LittleEndian.Uint64(b)+uint64(u.base), true
			case dieread.FormRefAddr:
				switch n {
				case 1:
					ref = uint64(b[0])
				case 2:
					ref = uint64(binary.LittleEndian.Uint16(b))
				case 4:
					ref = uint64(binary.LittleEndian.Uint32(b))
				case 8:
					ref = binary.LittleEndian.Uint64(b)
				}
				isRef = true
			}
			b = b[n:]
		}
		if i == a.lowpc || i == a.highpc {
			v, ok := pcValue(form, value, n)
			switch {
			case !ok || i == a.lowpc && form != dieread.FormAddr:
				out.pcKnown = false
			case i == a.lowpc:
				low, lowOK = v, true
			default:
				high, highOK, highConst = v, true, form != dieread.FormAddr
			}
		}
		if i == a.memberLoc {
			out.memberLocKnown, out.hasMemberLoc, out.memberLoc = memberLocValue(form, value, n)
		}
		if isRef {
			switch i {
			case a.sibling:
				out.hasSibling, out.sibling = true, dwarf.Offset(ref)
			case a.typ:
				out.hasType, out.typ = true, dwarf.Offset(ref)
			case a.origin:
				out.hasOrigin, out.origin = true, dwarf.Offset(ref)
			}
		}
	}
	out.typeOther = a.typ >= 0 && !out.hasType
	if out.pcKnown && lowOK && highOK {
		if highConst {
			high += low
		}
		out.hasPC, out.pc = true, [2]uint64{low, high}
	}
	out.end = u.end - dwarf.Offset(len(b))
	return out, readEntry
}

// pcValue is the value, as Data.Ranges takes it, of a DW_AT_low_pc or
// DW_AT_high_pc in form at v (n: its size when fixed): an address, or a
// constant in data1-8 or udata (debug/dwarf's int64, here its bits);
// false in another form.
func pcValue(form uint32, v []byte, n int) (uint64, bool) {
	switch form {
	case dieread.FormAddr, dieread.FormData1, dieread.FormData2, dieread.FormData4, dieread.FormData8:
		switch n { // (checked against the entry's bytes by read)
		case 1:
			return uint64(v[0]), true
		case 2:
			return uint64(binary.LittleEndian.Uint16(v)), true
		case 4:
			return uint64(binary.LittleEndian.Uint32(v)), true
		case 8:
			return binary.LittleEndian.Uint64(v), true
		}
	case dieread.FormUdata:
		return dieread.ULEB(&v)
	}
	return 0, false
}

// memberLocValue is what Entry.Val gives of a DW_AT_data_member_location
// in form at v (n: its size when fixed): known, and whether it is an
// int64 and which; not known in a form whose value is not read here.
func memberLocValue(form uint32, v []byte, n int) (known, isInt bool, value int64) {
	switch form {
	case dieread.FormData1, dieread.FormData2, dieread.FormData4, dieread.FormData8, dieread.FormUdata:
		u, ok := pcValue(form, v, n)
		return ok, ok, int64(u)
	case dieread.FormSdata:
		x, ok := dieread.SLEB(&v)
		return ok, ok, x
	case dieread.FormBlock1, dieread.FormBlock2, dieread.FormBlock4, dieread.FormBlock, dieread.FormExprloc, dieread.FormData16:
		return true, false, 0 // ([]byte)
	}
	return false, false, 0
}

// skipChildren is where debug/dwarf's Reader.SkipChildren goes on from
// after the entry shaped e: its DW_AT_sibling when past it, else the end
// of its children, read one by one (theirs skipped the same way); false
// when an entry does not read, or the skip leaves e's unit.
func (s *dieScanner) skipChildren(e dieShape) (dwarf.Offset, bool) {
	u := e.unit
	if !e.children {
		return e.end, true
	}
	if e.hasSibling && e.sibling >= e.end {
		if e.sibling < u.start || e.sibling >= u.end {
			return 0, false
		}
		return e.sibling, true
	}
	p := e.end
	for {
		if p < u.start || p >= u.end {
			return 0, false
		}
		c, kind := s.read(p)
		switch {
		case kind == readNull:
			return c.end, true
		case kind != readEntry || c.unit != u || c.tag == dwarf.TagCompileUnit || c.tag == dwarf.TagPartialUnit:
			return 0, false
		}
		var ok bool
		if p, ok = s.skipChildren(c); !ok {
			return 0, false
		}
	}
}

// pastNull says, for a null entry at off, where debug/dwarf's Reader.Next
// reads on after it: the entry after it in its unit, or, at the unit's
// end, the first child of the next unit's entry, which is a compile or
// partial unit (tag) with children (the walk's readers are given none of
// the two: walkTopLevelScanned). False when off is not a null entry, or
// the next unit is empty or its entry is not so read (r reads it).
func (s *dieScanner) pastNull(off dwarf.Offset) (at dwarf.Offset, tag dwarf.Tag, ok bool) {
	c, kind := s.read(off)
	if kind != readNull {
		return 0, 0, false
	}
	u := c.unit
	if c.end < u.end {
		return c.end, 0, true
	}
	i := s.last + 1 // (read just found u: s.units[s.last])
	if &s.units[s.last] != u || i >= len(s.units) || s.units[i].start >= s.units[i].end {
		return 0, 0, false
	}
	e, ok := s.shape(s.units[i].start)
	if !ok || e.tag != dwarf.TagCompileUnit && e.tag != dwarf.TagPartialUnit || !e.children || e.end >= e.unit.end {
		return 0, 0, false
	}
	return e.end, e.tag, true
}

// unitOf is the unit whose entries hold off, nil if none.
func (s *dieScanner) unitOf(off dwarf.Offset) *scanUnit {
	if s.last < len(s.units) {
		if u := &s.units[s.last]; u.start <= off && off < u.end {
			return u
		}
	}
	i := sort.Search(len(s.units), func(i int) bool { return s.units[i].end > off })
	if i == len(s.units) || off < s.units[i].start {
		return nil
	}
	s.last = i
	return &s.units[i]
}
