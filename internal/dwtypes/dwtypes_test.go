package dwtypes

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// describe prints all Load found, its lazy types read: what the queries
// answer from.
func describe(in *Info) string {
	var b strings.Builder
	typ := func(t dwarf.Type) string {
		if l, ok := t.(*lazyType); ok {
			t = l.get()
		}
		if t == nil {
			return "nil"
		}
		return fmt.Sprintf("%s [%s %s %d]", t.String(), class(t), armClass(t), strip(t).Size())
	}
	addrs := make([]uint64, 0, len(in.protos))
	for a := range in.protos {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	for _, a := range addrs {
		p := in.protos[a]
		fmt.Fprintf(&b, "proto %#x variadic=%v unknown=%v:", a, p.Variadic, p.Unknown)
		for _, t := range p.Params {
			fmt.Fprintf(&b, " (%s)", typ(t))
		}
		b.WriteString("\n")
	}
	for _, g := range in.globals {
		fmt.Fprintf(&b, "global %#x %d %s\n", g.addr, g.size, typ(g.typ))
	}
	for _, u := range in.units {
		fmt.Fprintf(&b, "unit %#x-%#x c++=%v\n", u.low, u.high, u.cplusplus)
	}
	for _, f := range in.funcs {
		fmt.Fprintf(&b, "func %#x-%#x\n", f.low, f.high)
		for _, v := range f.vars {
			fmt.Fprintf(&b, "\tvar %#x-%#x r%d %s\n", v.lo, v.hi, v.dwreg, typ(v.typ.get()))
		}
	}
	return b.String()
}

// sameAsEager checks that Load's reading (lazy types, C structs'
// members skipped) describes f as the eager reading does.
func sameAsEager(t *testing.T, f *elf.File) {
	t.Helper()
	lazy, eager := Load(f), load(f, true)
	if lazy == nil || eager == nil {
		t.Fatalf("Load: %v, eager: %v", lazy != nil, eager != nil)
	}
	if len(eager.protos) == 0 || len(eager.funcs) == 0 {
		t.Fatalf("%d prototypes, %d functions with register variables: too few to compare", len(eager.protos), len(eager.funcs))
	}
	got, want := describe(lazy), describe(eager)
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs:\n lazy:  %s\n eager: %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("lazy reading %d lines, eager %d", len(gl), len(wl))
	}
	t.Logf("%d prototypes, %d globals, %d functions with register variables: the same", len(lazy.protos), len(lazy.globals), len(lazy.funcs))
}

// TestLazySameAsEagerFixture: testdata/types.c, compiled now with gcc -g
// -O2 (DWARF 4 and 5), as C and as C++ (whose structs' children are still
// read).
func TestLazySameAsEagerFixture(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	src, _ := filepath.Abs("testdata/types.c")
	for _, c := range []struct{ name, cc string }{
		{"c-dwarf4", "-gdwarf-4"}, {"c-dwarf5", "-gdwarf-5"}, {"c++", "-xc++"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "types")
			args := []string{"-g", "-O2", c.cc, "-o", out, src}
			if c.name == "c++" {
				args = []string{"-g", "-O2", "-xc++", "-o", out, src}
				if _, err := exec.LookPath("g++"); err != nil {
					t.Skip("no g++")
				}
			}
			testutil.Run(t, dir, "gcc", args...)
			f, err := elf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sameAsEager(t, f)
		})
	}
}

// TestLazySameAsEagerNode: node's DWARF (libuv, 111 C units).
func TestLazySameAsEagerNode(t *testing.T) {
	f := testutil.ELFWith(t, "/usr/bin/node", ".debug_info")
	sameAsEager(t, f)
}

// TestLazyTypesConcurrently: the lazy types are read from several
// goroutines at once (the call graph's queries may be): run with -race.
func TestLazyTypesConcurrently(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/types.c")
	out := filepath.Join(dir, "types")
	testutil.Run(t, dir, "gcc", "-g", "-O2", "-o", out, src)
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := Load(f)
	if in == nil {
		t.Fatal("no types")
	}
	want := describe(load(f, true))
	done := make(chan string)
	for i := 0; i < 4; i++ {
		go func() {
			for _, p := range in.protos {
				for _, pt := range p.Params {
					class(pt)
				}
			}
			for _, fv := range in.funcs {
				in.inRegister(in.decoderReg(fv.vars[0].dwreg), fv.vars[0].lo)
			}
			done <- describe(in)
		}()
	}
	for i := 0; i < 4; i++ {
		if got := <-done; got != want {
			t.Errorf("goroutine %d read:\n%s\nwant:\n%s", i, got, want)
		}
	}
}
