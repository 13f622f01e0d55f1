package callgraph

import (
	"debug/dwarf"
	"reflect"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
)

// checkShapes compares, for every entry debug/dwarf reads in d, what sc
// says of it with what debug/dwarf reads: the same tag, children and
// DW_AT_sibling (as Reader.SkipChildren takes it), DW_AT_type and
// DW_AT_abstract_origin and DW_AT_name (as Entry.Val gives them), and its end where the
// next entry follows within the unit; it returns how many entries debug/
// dwarf read and how many of them sc read.
func checkShapes(t *testing.T, d *dwarf.Data, sc *dieScanner) (entries, shaped int) {
	t.Helper()
	r, one := d.Reader(), d.Reader()
	type read struct {
		off   dwarf.Offset
		shape dieShape
		nulls int // null entries read after it
	}
	var last *read
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		if e.Tag == 0 {
			if last != nil {
				last.nulls++
			}
			continue
		}
		entries++
		if last != nil && last.shape.unit != nil && e.Offset < last.shape.unit.end && e.Offset >= last.shape.unit.start {
			// The entries between are nulls: one byte each where
			// written as one (0x00).
			end, gap := last.shape.end, int(e.Offset)-int(last.shape.end)
			allZero := gap >= 0
			for i := 0; allZero && i < gap; i++ {
				allZero = sc.info[int(end)+i] == 0
			}
			if gap < 0 || allZero && gap != last.nulls {
				t.Fatalf("entry at %#x: the scanner ends it at %#x, debug/dwarf reads the next entry at %#x after %d null entries", last.off, end, e.Offset, last.nulls)
			}
		}
		last = nil
		s, ok := sc.shape(e.Offset)
		if !ok {
			continue
		}
		shaped++
		one.Seek(e.Offset)
		alone, err := one.Next()
		if err != nil || alone == nil {
			t.Fatalf("entry at %#x: the scanner reads it, debug/dwarf from there fails: %v", e.Offset, err)
		}
		sib, hasSib := alone.Val(dwarf.AttrSibling).(dwarf.Offset)
		if alone.Offset != e.Offset || s.tag != e.Tag || s.children != e.Children || s.hasSibling != hasSib || s.sibling != sib {
			t.Fatalf("entry at %#x: scanner %v children %v sibling %v %#x; debug/dwarf %v children %v sibling %v %#x",
				e.Offset, s.tag, s.children, s.hasSibling, s.sibling, e.Tag, e.Children, hasSib, sib)
		}
		typ, hasType := alone.Val(dwarf.AttrType).(dwarf.Offset)
		if other := !hasType && alone.Val(dwarf.AttrType) != nil; s.typeOther != other {
			t.Fatalf("entry at %#x: scanner's type not a reference %v, debug/dwarf's %#v", e.Offset, s.typeOther, alone.Val(dwarf.AttrType))
		}
		origin, hasOrigin := alone.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if s.hasType != hasType || s.typ != typ || s.hasOrigin != hasOrigin || s.origin != origin {
			t.Fatalf("entry at %#x: scanner type %v %#x origin %v %#x; debug/dwarf type %v %#x origin %v %#x",
				e.Offset, s.hasType, s.typ, s.hasOrigin, s.origin, hasType, typ, hasOrigin, origin)
		}
		if s.nameKnown {
			name, isString := alone.Val(dwarf.AttrName).(string)
			if s.hasName != isString || string(s.name) != name || !s.hasName && alone.Val(dwarf.AttrName) != nil {
				t.Fatalf("entry at %#x: scanner name %v %q; debug/dwarf %#v", e.Offset, s.hasName, s.name, alone.Val(dwarf.AttrName))
			}
		}
		if s.memberLocKnown {
			loc, isInt := alone.Val(dwarf.AttrDataMemberLoc).(int64)
			if s.hasMemberLoc != isInt || s.memberLoc != loc {
				t.Fatalf("entry at %#x: scanner's member location %v %d, debug/dwarf's %#v", e.Offset, s.hasMemberLoc, s.memberLoc, alone.Val(dwarf.AttrDataMemberLoc))
			}
		}
		if s.pcKnown {
			rs, err := d.Ranges(alone)
			want := [][2]uint64(nil)
			if s.hasPC {
				want = [][2]uint64{s.pc}
			}
			if err != nil || !reflect.DeepEqual(rs, want) {
				t.Fatalf("entry at %#x: scanner's code ranges %v, debug/dwarf's %v %v", e.Offset, want, rs, err)
			}
		}
		if s.end <= e.Offset || s.end > s.unit.end {
			t.Fatalf("entry at %#x: the scanner ends it at %#x, outside its unit [%#x, %#x)", e.Offset, s.end, s.unit.start, s.unit.end)
		}
		last = &read{off: e.Offset, shape: s}
	}
}

// topLevelReadings is what the prefetch's readers and the step's users
// read in one walk of d (with sc: the scanned walk).
type topLevelReadings struct {
	err           error
	wide, steps   map[string]int64
	libio         *libioLayout
	structs       map[dwarf.Offset]bool
	vars          []gconvVariable
	users         []pcRange
	usersFailed   bool
	libioAlone    *libioLayout
	libioAloneErr error
	scannedBodies int
	scannedTops   int
}

func readTopLevel(d *dwarf.Data, sc *dieScanner) topLevelReadings {
	wide, libio, gconv := newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()
	users := newUsersBeside(d)
	var out topLevelReadings
	out.err = walkTopLevelScanned(d, sc, users, wide, libio, gconv, gconv.steps)
	out.wide, out.steps, out.libio = wide.offsets(), gconv.steps.offsets(), libio.layout(out.err)
	out.structs, out.vars = gconv.structs, gconv.vars
	if out.err == nil {
		out.users, out.usersFailed = users.result(d), users.failed
	}
	out.scannedBodies, out.scannedTops = users.scanned, users.tops
	alone := newLibioTop() // prefetchLibioLayouts' walk
	out.libioAloneErr = walkTopLevelScanned(d, sc, nil, alone)
	out.libioAlone = alone.layout(out.libioAloneErr)
	return out
}

// TestDIEScannerMatchesReader: on libc's debug file, the scanner reads
// the shape of most entries (all but those it leaves to debug/dwarf) and
// each as debug/dwarf reads it; and the prefetch's walk that passes by
// the entries no reader reads gives the readers, and the step's users,
// exactly what the walk of every top-level entry with debug/dwarf gives.
func TestDIEScannerMatchesReader(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARFScanned(libc.File, func(d *dwarf.Data, sc *dieScanner) {
		if sc == nil {
			t.Fatalf("no scanner for %s", libc.File.DebugSymbols)
		}
		entries, shaped := checkShapes(t, d, sc)
		if shaped < entries*9/10 {
			t.Errorf("the scanner read %d of %d entries", shaped, entries)
		}
		plain, scanned := readTopLevel(d, nil), readTopLevel(d, sc)
		if scanned.scannedBodies < 10000 || scanned.scannedTops < 10000 {
			t.Errorf("the scanner read %d functions' bodies, %d top-level functions", scanned.scannedBodies, scanned.scannedTops)
		}
		scanned.scannedBodies, scanned.scannedTops = 0, 0
		if !reflect.DeepEqual(plain, scanned) {
			t.Errorf("scanned walk differs:\nplain   %+v\nscanned %+v", plain, scanned)
		}
		checkStructSizes(t, d, sc, "__gconv_step", "_IO_FILE", "_IO_wide_data", "link_namespaces")
		if plain.err != nil || plain.usersFailed || len(plain.users) == 0 || len(plain.vars) == 0 || len(plain.wide) == 0 || plain.libio == nil || plain.libio.chain < 0 {
			t.Errorf("the walk read too little to compare: %+v", plain)
		}
	})
}

// FuzzDIEScanner: on any DWARF (FuzzUsersBeside's: the sections of a
// small gcc program, DWARF 4 and 5, mutated), what the scanner reads of
// an entry is what debug/dwarf reads of it, and the walk that passes by
// entries with it gives the readers what the plain walk gives them and
// stops on the same error; nothing panics or hangs.
func FuzzDIEScanner(f *testing.F) {
	f.Fuzz(func(t *testing.T, abbrev, info, str, lineStr, ranges, rnglists []byte) {
		d := fuzzDWARF(abbrev, info, str, lineStr, ranges, rnglists)
		if d == nil {
			return
		}
		sc := newDIEScanner(info, abbrev, str, lineStr)
		if sc == nil {
			return
		}
		checkShapes(t, d, sc)
		plain, scanned := readTopLevel(d, nil), readTopLevel(d, sc)
		scanned.scannedBodies, scanned.scannedTops = 0, 0
		if !reflect.DeepEqual(plain, scanned) {
			t.Fatalf("scanned walk differs:\nplain   %+v\nscanned %+v", plain, scanned)
		}
		checkStructSizes(t, d, sc, "__gconv_step", "link_namespaces")
		// A variable's type passed by in the gconv layout is not one
		// it takes.
		chain := d.Reader()
		for _, v := range plain.vars {
			if !gconvStructTypeMaybe(chain, sc, v.typ) {
				if typ, err := d.Type(v.typ); err == nil {
					if st, _ := gconvStructOf(typ); st != nil {
						t.Fatalf("variable %s: type at %#x passed by, d.Type's is %v", v.name, v.typ, st)
					}
				}
			}
		}
		// The noreturn declarations read skipping units (x86calls.go):
		// those read without, errors and all.
		want, got := map[uint64]bool{}, map[uint64]bool{}
		ReadNoReturn(d, want)
		readNoReturnSkipping(d, sc, got)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("noreturn skipping units %v, without %v", got, want)
		}
	})
}

// BenchmarkTopLevelWalk: the prefetch's walk of libc's top-level entries
// (the libio, _wide_vtable and gconv readers and the step's users), with
// debug/dwarf alone and with the scanner passing entries by (libc from
// STACKSCOPE_BENCH_LIBC, or the system's; its DWARF opened once).
func BenchmarkTopLevelWalk(b *testing.B) {
	f := benchLibc(b)
	defer f.Close()
	withDebugDWARFScanned(f, func(d *dwarf.Data, sc *dieScanner) {
		for _, bc := range []struct {
			name string
			sc   *dieScanner
		}{{"plain", nil}, {"scanned", sc}} {
			b.Run(bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					wide, libio, gconv := newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()
					gconv.users = newUsersBeside(d)
					if err := walkTopLevelScanned(d, bc.sc, gconv.users, wide, libio, gconv, gconv.steps); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// TestDIEScannerLdSo: on ld.so's debug file, the scanner reads entries
// as debug/dwarf does, and the namespace layout and _rtld_global_ro's
// members read with it are those read without.
func TestDIEScannerLdSo(t *testing.T) {
	g, _ := libcGraph(t, true)
	var ld *Module
	for _, m := range g.Modules[1:] {
		if strings.HasPrefix(m.Name, "ld-linux") && m.File.DebugSymbols != "" {
			ld = m
		}
	}
	if ld == nil {
		t.Fatal("no ld.so with debug symbols among the program's libraries")
	}
	withDebugDWARFScanned(ld.File, func(d *dwarf.Data, sc *dieScanner) {
		if sc == nil {
			t.Fatalf("no scanner for %s", ld.File.DebugSymbols)
		}
		if entries, shaped := checkShapes(t, d, sc); shaped < entries*9/10 {
			t.Errorf("the scanner read %d of %d entries", shaped, entries)
		}
		plain, scanned := rtldNamespaceLayoutIn(d, nil), rtldNamespaceLayoutIn(d, sc)
		if plain != scanned || !plain.ok {
			t.Errorf("namespace layout: %+v without the scanner, %+v with", plain, scanned)
		}
		checkStructSizes(t, d, sc, "link_namespaces", "rtld_global", "rtld_global_ro", "link_map")
		plainRO, scannedRO := rtldGlobalROOffsetsIn(d, nil), rtldGlobalROOffsetsIn(d, sc)
		if !reflect.DeepEqual(plainRO, scannedRO) || len(plainRO) == 0 {
			t.Errorf("_rtld_global_ro's members: %v without the scanner, %v with", plainRO, scannedRO)
		}
	})
}

// BenchmarkDebugPrefetch: the whole prefetch of libc's and ld.so's
// layouts (debugprefetch.go), from opening the debug files to the
// readers' answers: the sections' decompression, the units and
// abbreviations read by debug/dwarf and the scanner, the walk, and the
// readers' own reads (the gconv layout's types and users, ld.so's
// struct sizes).
func BenchmarkDebugPrefetch(b *testing.B) {
	libc := benchLibc(b)
	defer libc.Close()
	ld, err := binfile.Open("/lib64/ld-linux-x86-64.so.2")
	if err != nil || ld.DebugSymbols == "" {
		b.Skipf("SKIPPED: ld.so with debug symbols: %v", err)
	}
	defer ld.Close()
	b.ReportAllocs()
	for b.Loop() {
		withDebugDWARFScanned(ld, func(d *dwarf.Data, sc *dieScanner) {
			if len(rtldGlobalROOffsetsIn(d, sc)) == 0 || !rtldNamespaceLayoutIn(d, sc).ok {
				b.Fatal("ld.so's layouts not read")
			}
		})
		withDebugDWARFScanned(libc, func(d *dwarf.Data, sc *dieScanner) {
			wide, libio, gconv := newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()
			gconv.users = newUsersBeside(d)
			err := walkTopLevelScanned(d, sc, gconv.users, wide, libio, gconv, gconv.steps)
			if wideVtableOffsetOf(wide.offsets()) < 0 || libio.layout(err) == nil || gconv.layout(libc, d, sc, err) == nil {
				b.Fatal("libc's layouts not read")
			}
		})
	}
}

// checkStructSizes: structSize of each of names, its walk passing
// entries by with sc, is what it is with debug/dwarf alone.
func checkStructSizes(t *testing.T, d *dwarf.Data, sc *dieScanner, names ...string) {
	t.Helper()
	for _, name := range names {
		size, ok := structSize(d, name)
		scanned, scannedOK := structSizeScanned(d, sc, name)
		if size != scanned || ok != scannedOK {
			t.Fatalf("struct %s's size: %d %v, with the scanner %d %v", name, size, ok, scanned, scannedOK)
		}
	}
}

// TestGconvLayoutScanned: on libc's debug file, the gconv layout made
// with the scanner (the variables whose type cannot be a step's or a
// builtin map's passed by without d.Type) is the one made without, and
// the scanner does pass most of them by.
func TestGconvLayoutScanned(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARFScanned(libc.File, func(d *dwarf.Data, sc *dieScanner) {
		if sc == nil {
			t.Fatalf("no scanner for %s", libc.File.DebugSymbols)
		}
		top := newGconvTop()
		top.users = newUsersBeside(d)
		err := walkTopLevelScanned(d, sc, top.users, top, top.steps)
		plain, scanned := top.layout(libc.File, d, nil, err), top.layout(libc.File, d, sc, err)
		if plain == nil || !reflect.DeepEqual(plain, scanned) {
			t.Fatalf("gconv layout: %+v without the scanner, %+v with", plain, scanned)
		}
		r, maybe := d.Reader(), 0
		for _, v := range top.vars {
			if gconvStructTypeMaybe(r, sc, v.typ) {
				maybe++
			}
		}
		t.Logf("%d of %d variables' types may be a gconv structure", maybe, len(top.vars))
		if maybe == 0 || maybe > len(top.vars)/10 {
			t.Errorf("%d of %d variables' types may be a gconv structure", maybe, len(top.vars))
		}
	})
}

// TestScanMembersMatchesReader: on libc's debug file, for every struct,
// union and enumeration with children, the members scanMembers reads
// from their shapes (and the first's offset, and where the entry after
// them is) are what the walk reads of them with debug/dwarf; and it
// reads nearly all of them.
func TestScanMembersMatchesReader(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARFScanned(libc.File, func(d *dwarf.Data, sc *dieScanner) {
		r, one := d.Reader(), d.Reader()
		structs, scanned := 0, 0
		for {
			e, err := r.Next()
			if err != nil || e == nil {
				break
			}
			switch e.Tag {
			case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagEnumerationType:
			default:
				continue
			}
			if !e.Children {
				continue
			}
			structs++
			s, ok := sc.shape(e.Offset)
			if !ok {
				continue
			}
			got, gotFirst, next, ok := scanMembers(sc, s, nil)
			if !ok {
				continue
			}
			scanned++
			one.Seek(e.Offset)
			one.Next()
			var want []memberEntry
			first := dwarf.Offset(0)
			for {
				c, err := one.Next()
				if c != nil && first == 0 {
					first = c.Offset
				}
				if err != nil || c == nil || c.Tag == 0 {
					break
				}
				if c.Children {
					one.SkipChildren()
				}
				want = append(want, memberOf(c))
			}
			after, err := one.Next()
			if err != nil || after == nil || after.Offset != next || first != gotFirst || len(got) != len(want) {
				t.Fatalf("struct at %#x: %d members from %#x, next at %#x; debug/dwarf %d from %#x, next %+v", e.Offset, len(got), gotFirst, next, len(want), first, after)
			}
			for i := range want {
				if got[i].tag != want[i].tag || string(got[i].name) != string(want[i].name) || got[i].hasLoc != want[i].hasLoc || got[i].loc != want[i].loc {
					t.Fatalf("struct at %#x, member %d: %+v, debug/dwarf %+v", e.Offset, i, got[i], want[i])
				}
			}
		}
		if structs == 0 || scanned < structs*9/10 {
			t.Errorf("scanMembers read %d of %d structs", scanned, structs)
		}
	})
}

// TestPastNullMatchesReader: on libc's debug file, at the null entry that
// ends each unit's children, where pastNull says the walk goes on (the
// next unit's entry, and its first child) is where debug/dwarf's Reader
// reads on from there; and it says so for nearly every unit.
func TestPastNullMatchesReader(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARFScanned(libc.File, func(d *dwarf.Data, sc *dieScanner) {
		r := d.Reader()
		said := 0
		for i := range sc.units[:len(sc.units)-1] {
			end := sc.units[i].end - 1 // (GCC ends a unit with a one-byte null)
			at, tag, ok := sc.pastNull(end)
			if !ok {
				continue
			}
			said++
			r.Seek(end)
			null, err := r.Next()
			if err != nil || null == nil || null.Tag != 0 {
				t.Fatalf("unit %d: no null entry at %#x: %+v %v", i, end, null, err)
			}
			cu, err1 := r.Next()
			first, err2 := r.Next()
			if err1 != nil || err2 != nil || cu == nil || first == nil || cu.Offset != sc.units[i+1].start || cu.Tag != tag || !cu.Children || first.Offset != at {
				t.Fatalf("unit %d: pastNull %#x %v; debug/dwarf reads %+v then %+v (%v %v)", i, at, tag, cu, first, err1, err2)
			}
		}
		if said < len(sc.units)*9/10 {
			t.Errorf("pastNull went on at %d of %d units' ends", said, len(sc.units))
		}
	})
}
