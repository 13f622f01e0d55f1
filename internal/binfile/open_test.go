package binfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestOpenNamesAndColdParts opens a C++ shared object compiled at test
// time, with more functions than one demangling worker takes at a time
// and GCC cold parts (g++ -O2 splits an unlikely branch into "f.cold"),
// and checks what Open made against nm: every defined function symbol
// is a function of the file or a cold part of the function its name
// continues, at nm's address; each function's Name is its LinkName
// demangled, and what nm -C prints for it.
func TestOpenNamesAndColdParts(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	nm := testutil.RequireTool(t, "nm")
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("#include <cstdlib>\nnamespace gen {\nint sink;\n")
	const n = 1500
	for i := 0; i < n; i++ {
		// A rare branch that ends in abort: GCC moves it to f<i>.cold.
		fmt.Fprintf(&src, "int f%d(int x) { if (__builtin_expect(x == %d, 0)) { sink = x; abort(); } return x * %d + sink; }\n", i, i+7, i+3)
	}
	src.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "gen.cc"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O2", "-shared", "-fPIC", "-o", "libgen.so", "gen.cc")
	path := filepath.Join(dir, "libgen.so")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	byLink := map[string]*Function{}
	for i := range f.Functions {
		fn := &f.Functions[i]
		byLink[fn.LinkName] = fn
		if fn.Name != Demangle(fn.LinkName) {
			t.Errorf("%s at %#x: Name %q, demangled %q", fn.LinkName, fn.Addr, fn.Name, Demangle(fn.LinkName))
		}
	}
	demangled := nmFunctions(t, dir, nm, "-C", path)
	cold := 0
	for _, s := range nmFunctions(t, dir, nm, path) {
		if m := coldSuffix(s.name); m >= 0 {
			cold++
			parent, ok := byLink[s.name[:m]]
			if !ok {
				t.Errorf("cold part %s: no function %s", s.name, s.name[:m])
				continue
			}
			if _, alone := byLink[s.name]; alone {
				t.Errorf("cold part %s is a function of its own", s.name)
			}
			found := false
			for _, p := range parent.Parts {
				found = found || p == (Range{s.addr, s.addr + s.size})
			}
			if !found {
				t.Errorf("cold part %s at %#x+%d: not in %s's parts %v", s.name, s.addr, s.size, parent.LinkName, parent.Parts)
			}
			continue
		}
		fn, ok := byLink[s.name]
		if !ok || fn.Addr != s.addr {
			t.Errorf("nm's %s at %#x: not a function of the file (%v)", s.name, s.addr, fn)
			continue
		}
		if want := demangled[s.addr].name; strings.HasPrefix(s.name, "_Z") && fn.Name != want {
			t.Errorf("%s: Name %q, nm -C says %q", s.name, fn.Name, want)
		}
	}
	if cold < n/2 {
		t.Fatalf("only %d cold parts in %s; the test needs GCC to split the rare branches", cold, path)
	}
}

type nmSymbol struct {
	name       string
	addr, size uint64
}

// nmFunctions lists the defined text symbols nm prints (-S: with sizes),
// keyed by address for nm -C's names.
func nmFunctions(t *testing.T, dir, nm string, args ...string) map[uint64]nmSymbol {
	t.Helper()
	out := map[uint64]nmSymbol{}
	for _, line := range strings.Split(testutil.Run(t, dir, nm, append([]string{"-S", "--defined-only"}, args...)...), "\n") {
		fields := strings.SplitN(line, " ", 4)
		if len(fields) < 4 || (fields[2] != "T" && fields[2] != "t") {
			continue
		}
		addr, err1 := strconv.ParseUint(fields[0], 16, 64)
		size, err2 := strconv.ParseUint(fields[1], 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("nm line %q", line)
		}
		out[addr] = nmSymbol{fields[3], addr, size}
	}
	return out
}

// TestOpenStrippedFDEFunctions: the same library stripped (strip --strip-all
// keeps .dynsym): each function nm lists in the unstripped file is one
// of the stripped file's, at the same address, named by .dynsym when it
// exports it, else from its FDE (sub_<address>); the list is sorted by
// address with no address twice.
func TestOpenStrippedFDEFunctions(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	nm := testutil.RequireTool(t, "nm")
	strip := testutil.RequireTool(t, "strip")
	dir := t.TempDir()
	var src strings.Builder
	for i := 0; i < 300; i++ {
		// Odd ones static: only their FDEs name them once stripped.
		static := ""
		if i%2 == 1 {
			static = "static "
		}
		fmt.Fprintf(&src, "%s__attribute__((noinline)) int f%d(int x) { return x * %d + %d; }\n", static, i, i+3, i)
	}
	src.WriteString("int all(int x) { int s = 0;\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&src, "s += f%d(x);\n", i)
	}
	src.WriteString("return s; }\n")
	if err := os.WriteFile(filepath.Join(dir, "lib.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-O2", "-shared", "-fPIC", "-o", "lib.so", "lib.c")
	testutil.Run(t, dir, strip, "--strip-all", "-o", "stripped.so", "lib.so")
	want := nmFunctions(t, dir, nm, filepath.Join(dir, "lib.so"))
	f, err := Open(filepath.Join(dir, "stripped.so"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[uint64]Function{}
	for i, fn := range f.Functions {
		if i > 0 && f.Functions[i-1].Addr >= fn.Addr {
			t.Fatalf("functions out of order: %s at %#x after %s at %#x", fn.Name, fn.Addr, f.Functions[i-1].Name, f.Functions[i-1].Addr)
		}
		got[fn.Addr] = fn
	}
	fromFDE := 0
	for addr, s := range want {
		fn, ok := got[addr]
		switch {
		case !ok:
			t.Errorf("%s at %#x: no function there", s.name, addr)
		case fn.Source == "fde":
			fromFDE++
			if fn.Name != fmt.Sprintf("sub_%x", addr) || fn.LinkName != fn.Name {
				t.Errorf("%s at %#x: named %q (%q)", s.name, addr, fn.Name, fn.LinkName)
			}
		case fn.Name != s.name:
			t.Errorf("%s at %#x: named %q", s.name, addr, fn.Name)
		}
	}
	if fromFDE < 100 {
		t.Errorf("only %d functions from FDEs; the static functions should be", fromFDE)
	}
}
