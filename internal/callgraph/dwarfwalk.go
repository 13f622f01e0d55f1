package callgraph

import (
	"debug/dwarf"
)

// One walk of a debug file's top-level entries for several readers. The
// layout readers (gconvlayout.go, libiolayout.go, the member offsets of
// libioforeign.go) each walked every unit of libc's DWARF on their own:
// debug/dwarf makes an Entry for every entry it reads, about 50 MB and
// 0.05 s of libc's for each walk. The prefetch (debugprefetch.go) walks
// once and hands each entry to all of them.

// topLevelReader is one reader of a walkTopLevel.
type topLevelReader interface {
	// wantsMembers says whether the reader reads the children of e (a
	// top-level entry of a unit whose tag is unit).
	wantsMembers(e *dwarf.Entry, unit dwarf.Tag) bool
	// read is given every top-level entry of the compile and partial
	// units, with its children when a reader wants them (each child's own
	// children skipped; fewer when the walk stopped on an error in them).
	read(e *dwarf.Entry, unit dwarf.Tag, members []memberEntry)
	// readsTag says whether wantsMembers or read may do anything with an
	// entry of tag t: given another, wantsMembers says false and read
	// does nothing, so the walk may pass it by unread (dieScanner).
	readsTag(t dwarf.Tag) bool
	// structNames are the names of the structs it reads: given a
	// DW_TAG_structure_type whose DW_AT_name is none of them (or that
	// has none), wantsMembers says false and read does nothing.
	structNames() []string
}

// walkTopLevel walks d's units' top-level entries for the readers, and
// returns the error that stopped it (nil at the end of the data). An
// entry that is not a compile or partial unit is a top-level entry, whose
// children are skipped unless a reader reads them: the walk the readers
// made each on its own.
func walkTopLevel(d *dwarf.Data, readers ...topLevelReader) error {
	return walkTopLevelUsers(d, nil, readers...)
}

// walkTopLevelUsers is walkTopLevel that also reads, when users is not
// nil, what readGconvUsers reads (the functions' bodies) in the same
// walk: libc's 260,000 top-level entries are then read once, not twice
// (debug/dwarf allocates each entry it reads). The readers are given
// exactly what walkTopLevel gives them; where users cannot be sure to
// see what readGconvUsers would (see usersBeside), it gives up and
// readGconvUsers reads the DWARF on its own.
func walkTopLevelUsers(d *dwarf.Data, users *usersBeside, readers ...topLevelReader) error {
	return walkTopLevelScanned(d, nil, users, readers...)
}

// walkTopLevelScanned is walkTopLevelUsers that, with sc (the scanner of
// d's .debug_info), passes by the top-level entries no reader reads
// (readsTag) without debug/dwarf's decoding of them: their shape (sc)
// says where the next entry starts, or where Reader.SkipChildren would
// go on from, which is all the walk takes from them. Where sc cannot
// say, the entry is read with debug/dwarf as before; so the readers are
// given the same entries, and the walk ends on the same error.
func walkTopLevelScanned(d *dwarf.Data, sc *dieScanner, users *usersBeside, readers ...topLevelReader) error {
	r := d.Reader()
	if users != nil {
		users.u.sc = sc // (the step types' chains read from their shapes)
	}
	var unit dwarf.Tag
	var ahead *dwarf.Entry      // the entry after a function's body, read by users.body
	var memberBuf []memberEntry // scanMembers', kept from one struct to the next
	// pos is where the next top-level entry is when the walk went past
	// entries that r did not read (0: r is at the next entry).
	var pos dwarf.Offset
	structs := map[string]bool{} // the structs the readers read, by name
	functionsRead := false       // a reader reads functions: users.topScanned would pass them by
	for _, rd := range readers {
		for _, name := range rd.structNames() {
			structs[name] = true
		}
		functionsRead = functionsRead || rd.readsTag(dwarf.TagSubprogram)
	}
	passBy := func(s dieShape) bool {
		t := s.tag
		if t == 0 || t == dwarf.TagCompileUnit || t == dwarf.TagPartialUnit || users != nil && t == dwarf.TagSubprogram {
			return false
		}
		if t == dwarf.TagStructType && s.nameKnown && (!s.hasName || !structs[string(s.name)]) {
			return true // (structNames)
		}
		for _, rd := range readers {
			if rd.readsTag(t) {
				return false
			}
		}
		return true
	}
	for {
		if pos != 0 {
			if s, ok := sc.shape(pos); ok && passBy(s) {
				if at := nextAfterSkip(s); at != 0 {
					users.see(&dwarf.Entry{Offset: pos, Tag: s.tag, Children: s.children})
					pos = at
					continue
				}
			} else if ok && !functionsRead {
				if at, ok := users.topScanned(sc, pos, s); ok {
					pos = at
					continue
				}
			} else if at, tag, ok := sc.pastNull(pos); ok {
				// A null entry (debug/dwarf's Entry has no offset), then
				// the entry after it, or the next unit's entry and its
				// first child: no reader reads those (see below).
				users.see(&dwarf.Entry{})
				if tag != 0 {
					users.see(&dwarf.Entry{Offset: sc.unitOf(at).start, Tag: tag, Children: true})
					unit = tag
				}
				pos = at
				continue
			}
			r.Seek(pos)
			pos = 0
		}
		var e *dwarf.Entry
		var err error
		if ahead != nil {
			e, ahead = ahead, nil
		} else {
			e, err = r.Next()
		}
		if err != nil {
			return err
		}
		if e == nil {
			users.end()
			return nil
		}
		users.see(e)
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			unit = e.Tag
			// Its children are the top-level entries: the first is
			// where the unit's entry ends, where sc reads it.
			if s, ok := sc.shape(e.Offset); ok && e.Children && s.tag == e.Tag && s.children && s.end < s.unit.end {
				pos = s.end
			}
			continue
		}
		wanted := false
		for _, rd := range readers {
			wanted = wanted || (e.Children && rd.wantsMembers(e, unit))
		}
		if !wanted {
			for _, rd := range readers {
				rd.read(e, unit, nil)
			}
			switch {
			case e.Children && users.wantsBody(e):
				if s, ok := sc.shape(e.Offset); ok && s.tag == e.Tag && s.children {
					if at, ok := users.bodyScanned(sc, s); ok {
						pos = at
						continue
					}
				}
				ahead = users.body(r, e)
			case sc != nil && unit != 0:
				// Go on from the entry after it by its shape, where sc
				// reads it: the entries that follow may be passed by.
				if s, ok := sc.shape(e.Offset); ok && s.tag == e.Tag && s.children == e.Children {
					if pos = nextAfterSkip(s); pos != 0 {
						continue
					}
				}
				r.SkipChildren()
			default:
				r.SkipChildren()
			}
			continue
		}
		var members []memberEntry
		first := dwarf.Offset(0)
		scanned := false
		if s, ok := sc.shape(e.Offset); ok && s.tag == e.Tag && s.children == e.Children {
			// (r stays after e; the walk goes on from after the members)
			if members, first, pos, scanned = scanMembers(sc, s, memberBuf); scanned {
				memberBuf = members
			}
		}
		if !scanned {
			members = nil
			var c *dwarf.Entry
			for {
				c, err = r.Next()
				if c != nil && first == 0 {
					first = c.Offset
				}
				if err != nil || c == nil || c.Tag == 0 {
					break
				}
				if c.Children {
					r.SkipChildren()
				}
				members = append(members, memberOf(c))
			}
		}
		users.membersRead(e, first)
		for _, rd := range readers {
			rd.read(e, unit, members)
		}
		if err != nil {
			return err
		}
	}
}

// memberEntry is what the readers read of a member of a struct (a child
// of a top-level entry): its tag, its DW_AT_name (the string's bytes;
// empty when it has none or in another form) and its
// DW_AT_data_member_location when an int64 (hasLoc), as Entry.Val gives
// them.
type memberEntry struct {
	tag    dwarf.Tag
	name   []byte
	hasLoc bool
	loc    int64
}

// memberOf is what the readers read of the member c.
func memberOf(c *dwarf.Entry) memberEntry {
	name, _ := c.Val(dwarf.AttrName).(string)
	loc, hasLoc := c.Val(dwarf.AttrDataMemberLoc).(int64)
	return memberEntry{tag: c.Tag, name: []byte(name), hasLoc: hasLoc, loc: loc}
}

// scanMembers reads the children of the top-level entry shaped e as the
// walk reads them with debug/dwarf (each child's own children skipped as
// Reader.SkipChildren skips them), from their shapes (into buf): the
// members, the offset of the first (0 if none), and where the entry
// after the null that ends them is; false, having read nothing, when sc
// cannot read one of them, its name or its location as debug/dwarf does,
// or the entry after them is not in e's unit. (Libc's 16,000 members of
// the FILE and gconv structs were a third of the prefetch's
// allocations.)
func scanMembers(sc *dieScanner, e dieShape, buf []memberEntry) ([]memberEntry, dwarf.Offset, dwarf.Offset, bool) {
	u := e.unit
	members, first, p := buf[:0], dwarf.Offset(0), e.end
	for {
		if p < u.start || p >= u.end {
			return nil, 0, 0, false
		}
		c, kind := sc.read(p)
		switch {
		case kind == readNull:
			if c.end >= u.end {
				return nil, 0, 0, false // (the next unit's: r reads on)
			}
			return members, first, c.end, true
		case kind != readEntry || c.unit != u || c.tag == dwarf.TagCompileUnit || c.tag == dwarf.TagPartialUnit ||
			!c.nameKnown || !c.memberLocKnown:
			return nil, 0, 0, false
		}
		if first == 0 {
			first = p
		}
		members = append(members, memberEntry{tag: c.tag, name: c.name, hasLoc: c.hasMemberLoc, loc: c.memberLoc})
		var ok bool
		if p, ok = sc.skipChildren(c); !ok {
			return nil, 0, 0, false
		}
	}
}

// memberAgreement reads what memberOffsets reads, as a topLevelReader:
// the offsets of the named members of struct name, each where every
// definition (in a compile unit) agrees on it.
type memberAgreement struct {
	name          string
	wanted        map[string]bool
	out, conflict map[string]int64
}

func newMemberAgreement(name string, members ...string) *memberAgreement {
	a := &memberAgreement{name: name, wanted: map[string]bool{}, out: map[string]int64{}, conflict: map[string]int64{}}
	for _, m := range members {
		a.wanted[m] = true
	}
	return a
}

func (a *memberAgreement) wantsMembers(e *dwarf.Entry, unit dwarf.Tag) bool {
	// memberOffsets skips a partial unit's children.
	return unit == dwarf.TagCompileUnit && e.Tag == dwarf.TagStructType && e.Val(dwarf.AttrName) == a.name
}

func (a *memberAgreement) readsTag(t dwarf.Tag) bool { return t == dwarf.TagStructType }

func (a *memberAgreement) structNames() []string { return []string{a.name} }

func (a *memberAgreement) read(e *dwarf.Entry, unit dwarf.Tag, members []memberEntry) {
	if !e.Children || !a.wantsMembers(e, unit) {
		return
	}
	for _, c := range members {
		if c.tag != dwarf.TagMember || !a.wanted[string(c.name)] {
			continue
		}
		member := string(c.name)
		off, ok := c.loc, c.hasLoc
		if !ok || off < 0 {
			a.conflict[member] = 1
			continue
		}
		if old, seen := a.out[member]; seen && old != off {
			a.conflict[member] = 1
		}
		a.out[member] = off
	}
}

// offsets is memberOffsets' answer.
func (a *memberAgreement) offsets() map[string]int64 {
	out := map[string]int64{}
	for m, off := range a.out {
		if _, bad := a.conflict[m]; !bad {
			out[m] = off
		}
	}
	return out
}
