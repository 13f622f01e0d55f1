package callgraph

import (
	"debug/dwarf"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
)

// TestGconvUsersSkipMatchesEveryEntry: readGconvUsers, which skips the
// children of non-function top-level entries and of call sites, finds in
// libc's debug file exactly the ranges a walk of every entry finds
// (gconvUsersEveryEntry, the reader as it was), and some.
func TestGconvUsersSkipMatchesEveryEntry(t *testing.T) {
	_, libc := libcGraph(t, true)
	var got, want []pcRange
	withDebugDWARF(libc.File, func(d *dwarf.Data) {
		got, want = readGconvUsers(d), gconvUsersEveryEntry(d)
	})
	if len(want) == 0 {
		t.Fatalf("no gconv step users in %s's DWARF", libc.File.DebugSymbols)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readGconvUsers: %d ranges %v\nevery entry walked: %d ranges %v", len(got), got, len(want), want)
	}
}

// BenchmarkGconvUsers: readGconvUsers on the system libc's debug file
// (STACKSCOPE_BENCH_LIBC, or /lib/x86_64-linux-gnu/libc.so.6; its DWARF
// opened once, untimed).
func BenchmarkGconvUsers(b *testing.B) {
	f := benchLibc(b)
	defer f.Close()
	withDebugDWARF(f, func(d *dwarf.Data) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			readGconvUsers(d)
		}
	})
}

// gconvUsersEveryEntry is readGconvUsers walking every entry, for the
// comparison above.
func gconvUsersEveryEntry(d *dwarf.Data) []pcRange {
	stepType := map[dwarf.Offset]bool{}
	isStep := func(off dwarf.Offset) bool {
		if v, ok := stepType[off]; ok {
			return v
		}
		t, err := d.Type(off)
		v := err == nil && gconvStepTyped(t)
		stepType[off] = v
		return v
	}
	type function struct {
		ranges  [][2]uint64
		typed   bool
		origins []dwarf.Offset
	}
	var funcs []*function
	stepDIEs := map[dwarf.Offset]bool{}
	var cur *function
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
			cur, depth = nil, 0
		case depth == 1 && e.Tag == dwarf.TagSubprogram:
			cur = nil
			if rs, err := d.Ranges(e); err == nil && len(rs) > 0 {
				cur = &function{ranges: rs}
				funcs = append(funcs, cur)
			}
		case depth == 1:
			cur = nil
		case e.Tag == dwarf.TagFormalParameter || e.Tag == dwarf.TagVariable:
			if typ, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok && isStep(typ) {
				stepDIEs[e.Offset] = true
				if cur != nil {
					cur.typed = true
				}
			} else if origin, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok && cur != nil {
				cur.origins = append(cur.origins, origin)
			}
		}
		if e.Children {
			depth++
		}
	}
	var out []pcRange
	for _, f := range funcs {
		if f.typed || slices.ContainsFunc(f.origins, func(o dwarf.Offset) bool { return stepDIEs[o] }) {
			for _, rg := range f.ranges {
				out = append(out, pcRange{rg[0], rg[1]})
			}
		}
	}
	return out
}

// TestGconvStepChainMatchesType: for every type that a parameter or a
// variable of libc's debug file names, gconvStepChain reading only the
// type's chain says chainNot exactly where gconvStepTyped of the whole
// type (d.Type) is false, and chainMaybe only where it is true or
// d.Type's fails: no step type is missed, and some are found.
func TestGconvStepChainMatchesType(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARFScanned(libc.File, func(d *dwarf.Data, sc *dieScanner) {
		seen := map[dwarf.Offset]bool{}
		chain := d.Reader()
		r := d.Reader()
		steps, maybes := 0, 0
		for {
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				break
			}
			if e.Tag != dwarf.TagFormalParameter && e.Tag != dwarf.TagVariable {
				continue
			}
			off, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
			if !ok || seen[off] {
				continue
			}
			seen[off] = true
			typ, err := d.Type(off)
			want := err == nil && gconvStepTyped(typ)
			got := gconvStepChain(chain, off)
			if scanned := gconvStepChainScanned(chain, sc, off); scanned != got {
				t.Errorf("type at %#x: gconvStepChain %d, with the scanner %d", off, got, scanned)
			}
			if want {
				steps++
			}
			if got == chainMaybe {
				maybes++
			}
			if got == chainCycle || (got == chainNot) == want {
				t.Errorf("type at %#x: gconvStepChain %d, d.Type's step %v (%v)", off, got, want, typ)
			}
		}
		t.Logf("%d types, %d a step's, %d maybe", len(seen), steps, maybes)
		if steps == 0 {
			t.Errorf("no step type among %d types of %s", len(seen), libc.File.DebugSymbols)
		}
	})
}

// TestUsersBesideMatchesReadGconvUsers: the walk of libc's top-level
// entries that reads the step's users beside (walkTopLevelUsers) finds
// them itself, without giving up, exactly as readGconvUsers' own walk,
// and gives the top-level readers (the libio, gconv and _wide_vtable
// readers of the prefetch) what walkTopLevel gives them.
func TestUsersBesideMatchesReadGconvUsers(t *testing.T) {
	_, libc := libcGraph(t, true)
	withDebugDWARF(libc.File, func(d *dwarf.Data) {
		want := readGconvUsers(d)
		if len(want) == 0 {
			t.Fatalf("no gconv step users in %s's DWARF", libc.File.DebugSymbols)
		}
		type readers struct {
			wide  *memberAgreement
			libio *libioTop
			gconv *gconvTop
		}
		fresh := func() (readers, []topLevelReader) {
			r := readers{newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()}
			return r, []topLevelReader{r.wide, r.libio, r.gconv, r.gconv.steps}
		}
		alone, list := fresh()
		errAlone := walkTopLevel(d, list...)
		beside, list := fresh()
		users := newUsersBeside(d)
		errBeside := walkTopLevelUsers(d, users, list...)
		if errAlone != nil || errBeside != nil {
			t.Fatalf("walks: %v, %v", errAlone, errBeside)
		}
		if users.failed {
			t.Fatal("the users' reading beside the top-level walk gave up on libc's DWARF")
		}
		if got := users.result(d); !reflect.DeepEqual(got, want) {
			t.Errorf("users read beside: %d ranges %v\nreadGconvUsers: %d ranges %v", len(got), got, len(want), want)
		}
		if !reflect.DeepEqual(alone.wide.offsets(), beside.wide.offsets()) ||
			!reflect.DeepEqual(alone.libio.layout(nil), beside.libio.layout(nil)) ||
			!reflect.DeepEqual(alone.gconv.structs, beside.gconv.structs) ||
			!reflect.DeepEqual(alone.gconv.vars, beside.gconv.vars) ||
			!reflect.DeepEqual(alone.gconv.steps.offsets(), beside.gconv.steps.offsets()) {
			t.Error("the top-level readers read differently beside the users")
		}
		if len(alone.gconv.vars) == 0 || len(alone.wide.offsets()) == 0 {
			t.Errorf("the top-level readers found nothing: %d gconv variables, wide offsets %v", len(alone.gconv.vars), alone.wide.offsets())
		}
	})
}

// benchLibc opens the libc a benchmark reads (STACKSCOPE_BENCH_LIBC, or
// the system's), and skips the benchmark when it has no debug symbols.
func benchLibc(b *testing.B) *binfile.File {
	path := os.Getenv("STACKSCOPE_BENCH_LIBC")
	if path == "" {
		path = "/lib/x86_64-linux-gnu/libc.so.6"
	}
	f, err := binfile.Open(path)
	if err != nil || f.DebugSymbols == "" {
		b.Skipf("SKIPPED: %s with debug symbols: %v", path, err)
	}
	return f
}
