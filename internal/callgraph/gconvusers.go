package callgraph

import (
	"debug/dwarf"
	"slices"
)

// The functions whose source handles a gconv step, for gconvstep.go.
//
// A load from [reg+0x28] is a step's __fct only if reg points to a step,
// and the code does not say what reg points to: glibc's other structures
// hold mangled function pointers at the same offset (sysdeps/generic/
// unwind-link.h's struct unwind_link keeps the personality routine
// there, which __gcc_personality_v0 demangles and jumps to: a function of
// libgcc_s, loaded with dlopen). The compiler says it, though: a function
// that reads a step's function has, in libc's DWARF, a parameter or a
// variable (its own or one of the functions inlined into it) whose type
// is a pointer to struct __gconv_step (skeleton.c's step and next_step,
// the codecvt functions' gs, wcsmbs' fcts->towc) or the step function's
// type itself (__gconv_fct, __gconv_btowc_fct: skeleton.c's fct, gconv.c's
// fct). The model looks for step calls only in those functions.

// gconvStepTypeNames are the typedefs of a step's two function members.
var gconvStepTypeNames = []string{"__gconv_fct", "__gconv_btowc_fct"}

// pcRange is a half-open range of code addresses.
type pcRange struct{ lo, hi uint64 }

// readGconvUsers returns the code ranges of the functions (DWARF
// subprograms with code, with their cold parts) that have a parameter or
// variable of a step's type; nil when the DWARF cannot be read
// whole (the model then finds no step call).
func readGconvUsers(d *dwarf.Data) []pcRange {
	u := newGconvUsers(d)
	depth := 0
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		switch {
		case e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit:
			u.cur = nil
			depth = 0
		case depth == 1:
			u.top(e)
		default:
			u.inner(e)
		}
		if e.Children {
			if usersSkipChildren(e, depth) {
				r.SkipChildren()
				continue
			}
			depth++
		}
	}
	return u.ranges()
}

// gconvUsers is what readGconvUsers reads, entry by entry: the functions
// with code, and the parameters and variables of a step's type.
type gconvUsers struct {
	d        *dwarf.Data
	chain    *dwarf.Reader // gconvStepChain's
	sc       *dieScanner   // its scanner, or nil (gconvStepChainScanned)
	stepType map[dwarf.Offset]bool
	funcs    []*gconvUser
	stepDIEs map[dwarf.Offset]bool // parameters and variables of a step's type
	cur      *gconvUser            // the top-level function being read
	// newUser's slabs
	userSlab  []gconvUser
	rangeSlab [][2]uint64
}

// newUser is a new function whose code is the range pc, from slabs of
// 256 (13,000 of libc's functions come here: two allocations each).
func (u *gconvUsers) newUser(pc [2]uint64) *gconvUser {
	if len(u.userSlab) == 0 {
		u.userSlab, u.rangeSlab = make([]gconvUser, 256), make([][2]uint64, 256)
	}
	f, rs := &u.userSlab[0], u.rangeSlab[:1:1]
	u.userSlab, u.rangeSlab = u.userSlab[1:], u.rangeSlab[1:]
	rs[0] = pc
	f.ranges = rs
	return f
}

type gconvUser struct {
	ranges  [][2]uint64
	typed   bool
	origins []dwarf.Offset // abstract origins of its parameters and variables
}

func newGconvUsers(d *dwarf.Data) *gconvUsers {
	return &gconvUsers{d: d, chain: d.Reader(), stepType: map[dwarf.Offset]bool{}, stepDIEs: map[dwarf.Offset]bool{}}
}

// isStep says whether the type at off is a step's (gconvStepTyped).
func (u *gconvUsers) isStep(off dwarf.Offset) bool {
	if v, ok := u.stepType[off]; ok {
		return v
	}
	v := false
	switch gconvStepChainScanned(u.chain, u.sc, off) {
	case chainMaybe:
		t, err := u.d.Type(off)
		v = err == nil && gconvStepTyped(t)
	case chainCycle:
		v = true
	}
	u.stepType[off] = v
	return v
}

// top reads a unit's top-level entry e.
func (u *gconvUsers) top(e *dwarf.Entry) {
	u.cur = nil
	if e.Tag != dwarf.TagSubprogram {
		return
	}
	if rs, err := u.d.Ranges(e); err == nil && len(rs) > 0 {
		u.cur = &gconvUser{ranges: rs}
		u.funcs = append(u.funcs, u.cur)
	}
}

// inner reads an entry below a top-level one.
func (u *gconvUsers) inner(e *dwarf.Entry) {
	if e.Tag != dwarf.TagFormalParameter && e.Tag != dwarf.TagVariable {
		return
	}
	typ, hasType := e.Val(dwarf.AttrType).(dwarf.Offset)
	origin, hasOrigin := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
	u.innerOf(innerEntry{off: e.Offset, typ: typ, origin: origin, tag: e.Tag, hasType: hasType, hasOrigin: hasOrigin})
}

// innerEntry is what inner reads of an entry.
type innerEntry struct {
	off, typ, origin   dwarf.Offset
	tag                dwarf.Tag
	hasType, hasOrigin bool
}

// innerOf is inner of the entry read as c.
func (u *gconvUsers) innerOf(c innerEntry) {
	if c.tag != dwarf.TagFormalParameter && c.tag != dwarf.TagVariable {
		return
	}
	if c.hasType && u.isStep(c.typ) {
		u.stepDIEs[c.off] = true
		if u.cur != nil {
			u.cur.typed = true
		}
	} else if c.hasOrigin && u.cur != nil {
		u.cur.origins = append(u.cur.origins, c.origin)
	}
}

// ranges is readGconvUsers' answer once every entry is read.
func (u *gconvUsers) ranges() []pcRange {
	var out []pcRange
	for _, f := range u.funcs {
		if !f.typed && !slices.ContainsFunc(f.origins, func(o dwarf.Offset) bool { return u.stepDIEs[o] }) {
			continue
		}
		for _, rg := range f.ranges {
			out = append(out, pcRange{rg[0], rg[1]})
		}
	}
	return out
}

// usersSkipChildren says whether readGconvUsers can skip the children of
// e, at depth: those of a top-level entry that is not a function (a
// type's members, enumerators, subrange and parameter types: in libc's
// debug file, 0.5 of its 1.2 million entries), and those of a call site
// (its parameters' values), which hold no function's parameter or
// variable. (Each entry read is an allocated dwarf.Entry: the whole walk
// was 0.3 s of CPU and 190 MB for node's libc.)
func usersSkipChildren(e *dwarf.Entry, depth int) bool { return usersSkipChildrenOf(e.Tag, depth) }

// usersSkipChildrenOf is usersSkipChildren of an entry tagged tag.
func usersSkipChildrenOf(tag dwarf.Tag, depth int) bool {
	switch {
	case tag == dwarf.TagCompileUnit || tag == dwarf.TagPartialUnit:
		return false
	case depth == 1:
		return tag != dwarf.TagSubprogram
	}
	return tag == dwarf.TagCallSite || tag == tagGNUCallSite
}

// tagGNUCallSite is DW_TAG_GNU_call_site, DWARF 4's call site (GCC's
// extension before DWARF 5's DW_TAG_call_site; debug/dwarf has no name).
const tagGNUCallSite dwarf.Tag = 0x4109

// gconvStepTyped says whether t is a pointer to struct __gconv_step or
// one of a step's function types (through qualifiers and typedefs).
func gconvStepTyped(t dwarf.Type) bool {
	for {
		switch tt := t.(type) {
		case *dwarf.TypedefType:
			if slices.Contains(gconvStepTypeNames, tt.Name) {
				return true
			}
			t = tt.Type
			continue
		case *dwarf.QualType:
			t = tt.Type
			continue
		case *dwarf.PtrType:
			to := tt.Type
			for {
				switch x := to.(type) {
				case *dwarf.TypedefType:
					to = x.Type
					continue
				case *dwarf.QualType:
					to = x.Type
					continue
				}
				break
			}
			st, ok := to.(*dwarf.StructType)
			return ok && st.StructName == "__gconv_step"
		}
		return false
	}
}

// handlesStep says whether addr is in one of the ranges (a few dozen
// functions: a scan is enough).
func handlesStep(users []pcRange, addr uint64) bool {
	return slices.ContainsFunc(users, func(r pcRange) bool { return r.lo <= addr && addr < r.hi })
}

// What gconvStepChain found.
const (
	chainNot   = iota // not a step's type, or d.Type(off) fails
	chainMaybe        // perhaps a step's type: d.Type(off) decides
	chainCycle        // a cycle of typedefs, qualifiers or pointers
)

// gconvStepChain answers gconvStepTyped's question of the type at off by
// reading only the entries of its chain (typedefs, qualifiers, one
// pointer, the struct at its end) with r, where d.Type builds the whole
// type: every member of every struct it reaches, for each of the few
// thousand type offsets libc's parameters and variables name, which was
// a third of readGconvUsers' time and 70 MB of node's run. It says
// chainNot only where gconvStepTyped(d.Type(off)) is false or d.Type
// fails (an entry that does not read: d.Type fails on it too); where the
// chain leads to a step's name, or through what it does not follow (a
// type unit's signature), chainMaybe, and d.Type decides, so the answer
// is d.Type's. A cycle (malformed: gconvStepTyped would not return) is
// chainCycle, which readGconvUsers takes as a step user: the model then
// looks for step calls in one more function, never fewer.
func gconvStepChain(r *dwarf.Reader, off dwarf.Offset) int {
	return gconvStepChainScanned(r, nil, off)
}

// gconvStepChainScanned is gconvStepChain reading each entry of the
// chain from its shape (sc, diescan.go) where sc reads it and its name,
// and with r where it does not. (r's entries were 90,000 of libc's
// prefetch's allocations.)
func gconvStepChainScanned(r *dwarf.Reader, sc *dieScanner, off dwarf.Offset) int {
	pointee := false // past the pointer: only typedefs and qualifiers, then the struct
	for range 256 {
		l, ok := chainLinkAt(r, sc, off)
		if !ok {
			return chainNot
		}
		switch l.tag {
		case dwarf.TagTypedef:
			if !pointee && isStepTypeName(l.name) {
				return chainMaybe
			}
		case dwarf.TagConstType, dwarf.TagVolatileType, dwarf.TagRestrictType:
		case dwarf.TagPointerType:
			if pointee {
				return chainNot
			}
			pointee = true
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType:
			if pointee && string(l.name) == "__gconv_step" {
				return chainMaybe
			}
			return chainNot
		default:
			return chainNot
		}
		switch l.next {
		case linkOffset:
			off = l.typ
		case linkNone:
			return chainNot // void
		default:
			return chainMaybe // a type unit's signature: d.Type follows it
		}
	}
	return chainCycle
}

// isStepTypeName says whether name is one of gconvStepTypeNames.
func isStepTypeName(name []byte) bool {
	for _, n := range gconvStepTypeNames {
		if string(name) == n {
			return true
		}
	}
	return false
}

// chainLink is what gconvStepChain reads of an entry of the chain: its
// tag, its DW_AT_name when a string (empty otherwise; from the scanner,
// the bytes of .debug_str: no string made for each), and what its
// DW_AT_type is (next: a reference, typ; none; another kind of value).
type chainLink struct {
	tag  dwarf.Tag
	name []byte
	next int
	typ  dwarf.Offset
}

// What a chainLink's DW_AT_type is.
const (
	linkNone   = iota // none
	linkOffset        // a reference (dwarf.Offset)
	linkOther         // another value (a type unit's signature)
)

// chainLinkAt reads the entry at off, from its shape where sc reads it
// and its name, else with r (Seek, Next); false when r's read fails or
// does not start at off.
func chainLinkAt(r *dwarf.Reader, sc *dieScanner, off dwarf.Offset) (chainLink, bool) {
	if s, ok := sc.shape(off); ok && s.nameKnown {
		l := chainLink{tag: s.tag, name: s.name, typ: s.typ}
		switch {
		case s.hasType:
			l.next = linkOffset
		case s.typeOther:
			l.next = linkOther
		}
		return l, true
	}
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil || e.Offset != off {
		return chainLink{}, false
	}
	l := chainLink{tag: e.Tag}
	name, _ := e.Val(dwarf.AttrName).(string)
	l.name = []byte(name)
	switch next := e.Val(dwarf.AttrType).(type) {
	case dwarf.Offset:
		l.next, l.typ = linkOffset, next
	case nil:
	default:
		l.next = linkOther
	}
	return l, true
}

// usersBeside reads what readGconvUsers reads in walkTopLevelUsers' walk
// of the top-level entries, with its reader: the top-level entries it is
// given, and the bodies of the top-level functions, which it reads itself
// (body). It is sure to have seen what readGconvUsers sees as long as
// the units have their usual shape (a compile or partial unit whose
// children end with a null entry, then the next unit) and every entry
// whose children the two walks read differently ends where its
// DW_AT_sibling says (GCC writes one for every entry with children but a
// unit's last): debug/dwarf's SkipChildren jumps there, so the top-level
// walk goes on from there while readGconvUsers reads on from the end of
// the children. Otherwise it gives up (failed), the top-level walk goes
// on as walkTopLevel's, and the caller runs readGconvUsers: on malformed
// DWARF the answer is readGconvUsers', at the cost of its walk.
type usersBeside struct {
	u      *gconvUsers
	failed bool
	inUnit bool         // between a unit's entry and the null that ends its children
	expect dwarf.Offset // where the next entry must be (0: anywhere)
	// bodyScanned's buffers, kept from one function to the next
	levels  []struct{ sibling, first dwarf.Offset }
	found   []innerEntry
	scanned int // bodies read by bodyScanned (for the tests)
	tops    int // top-level functions read by topScanned (for the tests)
}

func newUsersBeside(d *dwarf.Data) *usersBeside { return &usersBeside{u: newGconvUsers(d)} }

// result is readGconvUsers(d)'s answer.
func (b *usersBeside) result(d *dwarf.Data) []pcRange {
	if b.failed {
		return readGconvUsers(d)
	}
	return b.u.ranges()
}

// see reads an entry of the top-level walk (a unit's, a top-level one,
// or the null ending a unit's children).
func (b *usersBeside) see(e *dwarf.Entry) {
	if b == nil || b.failed {
		return
	}
	if b.expect != 0 && e.Offset != b.expect {
		b.failed = true
		return
	}
	b.expect = 0
	isUnit := e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit
	switch {
	case !b.inUnit && isUnit:
		b.u.cur = nil
		b.inUnit = e.Children
	case !b.inUnit || isUnit:
		b.failed = true // another kind of unit, a stray null, a unit in a unit
	case e.Tag == 0:
		b.inUnit = false
	default:
		b.u.top(e)
	}
}

// end is told that the walk reached the end of the data.
func (b *usersBeside) end() {
	if b != nil && b.expect != 0 {
		b.failed = true
	}
}

// wantsBody says whether e's children are to be read by body (where the
// top-level walk skips them).
func (b *usersBeside) wantsBody(e *dwarf.Entry) bool {
	return b != nil && !b.failed && b.inUnit && e.Tag == dwarf.TagSubprogram
}

// membersRead is told that the top-level walk read the children of e
// (first: the offset of the first, 0 if none read), which
// readGconvUsers skips with SkipChildren: where that jumps to e's
// sibling, the next entry must be there.
func (b *usersBeside) membersRead(e *dwarf.Entry, first dwarf.Offset) {
	if b == nil || b.failed {
		return
	}
	if e.Tag == dwarf.TagSubprogram {
		b.failed = true // readGconvUsers reads its body
		return
	}
	if sib, ok := e.Val(dwarf.AttrSibling).(dwarf.Offset); ok && (first == 0 || sib >= first) {
		b.expect = sib
		if sib == 0 {
			b.failed = true
		}
	}
}

// body reads the children of the top-level function e with r, as
// readGconvUsers does, and returns the entry after them: where r's
// SkipChildren would have gone on from. SkipChildren jumps to an entry's
// DW_AT_sibling where it has one (after its first child), and reads the
// children (skipping theirs the same way) where it has none, as the
// last function of a unit; so wherever body reads the children of an
// entry that has a sibling, the entry after them must be at the sibling.
// When it is not, or on an error, body gives up, puts r where
// SkipChildren would have, and returns nil.
func (b *usersBeside) body(r *dwarf.Reader, e *dwarf.Entry) *dwarf.Entry {
	type level struct {
		sibling, first dwarf.Offset // first: of its first child (or null)
	}
	sibling := func(e *dwarf.Entry) dwarf.Offset { s, _ := e.Val(dwarf.AttrSibling).(dwarf.Offset); return s }
	levels := []level{{sibling: sibling(e)}}
	var at dwarf.Offset // where the next entry must be (0: anywhere)
	ok := true
	for ok && len(levels) > 0 {
		c, err := r.Next()
		if err != nil || c == nil || at != 0 && c.Offset != at {
			ok = false
			break
		}
		at = 0
		l := &levels[len(levels)-1]
		if l.first == 0 {
			l.first = c.Offset
		}
		switch {
		case c.Tag == 0:
			if l.sibling != 0 && l.sibling >= l.first {
				at = l.sibling
			}
			levels = levels[:len(levels)-1]
			continue
		case c.Tag == dwarf.TagCompileUnit || c.Tag == dwarf.TagPartialUnit:
			ok = false
			continue
		}
		b.u.inner(c)
		if c.Children {
			if usersSkipChildren(c, len(levels)+1) {
				r.SkipChildren()
				continue
			}
			levels = append(levels, level{sibling: sibling(c)})
		}
	}
	if ok {
		next, err := r.Next()
		if err == nil && next != nil && (at == 0 || next.Offset == at) {
			return next
		}
	}
	b.failed = true
	r.Seek(e.Offset)
	r.Next()
	r.SkipChildren()
	return nil
}

// bodyScanned is body read with the scanner sc, from the shape e of the
// top-level function (read by the walk's reader, which stays where it
// is): the same entries, checks and skips, each entry's shape from sc
// (a null entry's offset is 0 to debug/dwarf, as body sees it). It
// returns where the entry after the body is, and true; false when sc
// cannot read an entry of it or a check of body's fails, and then it has
// changed nothing: the caller runs body, which reads the same entries
// with debug/dwarf and fails or not as it does. (Half of the prefetch's
// allocations were debug/dwarf's entries of the functions' bodies.)
func (b *usersBeside) bodyScanned(sc *dieScanner, e dieShape) (dwarf.Offset, bool) {
	at, found, ok := b.scanBody(sc, e)
	if ok {
		b.applyBody(found)
	}
	return at, ok
}

// topScanned is see and then bodyScanned of the top-level function
// shaped e at off, whose code ranges e gives (pcKnown), without
// debug/dwarf's Entry of it (13,000 of libc's): false when see would
// not take it as a top-level function, or bodyScanned fails (or,
// without children, the entry after it is not known), and then it has
// changed nothing (the walk reads it with debug/dwarf, as before). It
// returns where the entry after it is.
func (b *usersBeside) topScanned(sc *dieScanner, off dwarf.Offset, e dieShape) (dwarf.Offset, bool) {
	if b == nil || b.failed || !b.inUnit || b.expect != 0 && b.expect != off ||
		e.tag != dwarf.TagSubprogram || !e.pcKnown {
		return 0, false
	}
	var at dwarf.Offset
	var found []innerEntry
	if e.children {
		var ok bool
		if at, found, ok = b.scanBody(sc, e); !ok {
			return 0, false
		}
	} else if at = nextAfterSkip(e); at == 0 {
		return 0, false
	}
	b.expect = 0
	b.u.cur = nil // (top)
	if e.hasPC {
		b.u.cur = b.u.newUser(e.pc)
		b.u.funcs = append(b.u.funcs, b.u.cur)
	}
	if e.children {
		b.applyBody(found)
	}
	b.tops++
	return at, true
}

// applyBody reads the parameters and variables scanBody found, as body
// would have, and keeps its buffers.
func (b *usersBeside) applyBody(found []innerEntry) {
	for _, c := range found {
		b.u.innerOf(c)
	}
	b.found = found
	b.scanned++
}

// scanBody is bodyScanned's reading: where the entry after the body is,
// and the parameters and variables it found; false when it fails.
func (b *usersBeside) scanBody(sc *dieScanner, e dieShape) (dwarf.Offset, []innerEntry, bool) {
	type level struct {
		sibling, first dwarf.Offset
	}
	sibling := func(s dieShape) dwarf.Offset {
		if s.hasSibling {
			return s.sibling
		}
		return 0
	}
	u := e.unit
	levels := append(b.levels[:0], level{sibling: sibling(e)})
	found := b.found[:0]
	var at dwarf.Offset
	p := e.end
	for len(levels) > 0 {
		if p < u.start || p >= u.end {
			return 0, nil, false
		}
		c, kind := sc.read(p)
		if kind == readUnknown {
			return 0, nil, false
		}
		l := &levels[len(levels)-1]
		if kind == readNull {
			if at != 0 { // (its Offset is 0)
				return 0, nil, false
			}
			if l.sibling != 0 && l.sibling >= l.first {
				at = l.sibling
			}
			levels = levels[:len(levels)-1]
			p = c.end
			continue
		}
		if c.unit != u || at != 0 && p != at || c.tag == dwarf.TagCompileUnit || c.tag == dwarf.TagPartialUnit {
			return 0, nil, false
		}
		at = 0
		if l.first == 0 {
			l.first = p
		}
		if c.tag == dwarf.TagFormalParameter || c.tag == dwarf.TagVariable {
			found = append(found, innerEntry{off: p, typ: c.typ, origin: c.origin, tag: c.tag, hasType: c.hasType, hasOrigin: c.hasOrigin})
		}
		if c.children && usersSkipChildrenOf(c.tag, len(levels)+1) {
			var ok bool
			if p, ok = sc.skipChildren(c); !ok {
				return 0, nil, false
			}
			continue
		}
		if c.children {
			levels = append(levels, level{sibling: sibling(c)})
		}
		p = c.end
	}
	// The entry after the body, which body reads: at its sibling, if
	// it has one.
	if p < u.start || p >= u.end {
		return 0, nil, false
	}
	// (where debug/dwarf's reading of it is not known, it may fail on
	// it: body sees how)
	_, kind := sc.read(p)
	if kind == readUnknown || at != 0 && (kind == readNull || p != at) {
		return 0, nil, false
	}
	b.levels = levels
	return p, found, true
}
