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
		if fn.Name() != Demangle(fn.LinkName) {
			t.Errorf("%s at %#x: Name %q, demangled %q", fn.LinkName, fn.Addr, fn.Name(), Demangle(fn.LinkName))
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
		if want := demangled[s.addr].name; strings.HasPrefix(s.name, "_Z") && fn.Name() != want {
			t.Errorf("%s: Name %q, nm -C says %q", s.name, fn.Name(), want)
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
			t.Fatalf("functions out of order: %s at %#x after %s at %#x", fn.Name(), fn.Addr, f.Functions[i-1].Name(), f.Functions[i-1].Addr)
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
			if fn.Name() != fmt.Sprintf("sub_%x", addr) || fn.LinkName != fn.Name() {
				t.Errorf("%s at %#x: named %q (%q)", s.name, addr, fn.Name(), fn.LinkName)
			}
		case fn.Name() != s.name:
			t.Errorf("%s at %#x: named %q", s.name, addr, fn.Name())
		}
	}
	if fromFDE < 100 {
		t.Errorf("only %d functions from FDEs; the static functions should be", fromFDE)
	}
}

// TestOpenExportedByAnyAlias: a C library whose functions are exported
// under their own name, only under an alias (a hidden or static function
// with a global alias at its address), under a versioned name, or not at
// all. Each function's Exported is whether .dynsym (nm -D) defines one of
// the names nm lists at its address, without the version, and the list
// is sorted by address.
func TestOpenExportedByAnyAlias(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	nm := testutil.RequireTool(t, "nm")
	dir := t.TempDir()
	var src strings.Builder
	for i := 0; i < 200; i++ {
		switch i % 4 {
		case 0: // exported under its name
			fmt.Fprintf(&src, "__attribute__((noinline)) int f%d(int x) { return x * %d; }\n", i, i+3)
		case 1: // static: not exported
			fmt.Fprintf(&src, "static __attribute__((noinline)) int f%d(int x) { return x * %d; }\n", i, i+3)
		case 2: // hidden, exported only under an alias
			fmt.Fprintf(&src, "__attribute__((noinline, visibility(\"hidden\"))) int f%d(int x) { return x * %d; }\n", i, i+3)
			fmt.Fprintf(&src, "int alias%d(int) __attribute__((alias(\"f%d\")));\n", i, i)
		case 3: // local (the version script's hid*), exported only under a versioned alias
			fmt.Fprintf(&src, "__attribute__((noinline)) int hid%d(int x) { return x * %d; }\n", i, i+3)
			fmt.Fprintf(&src, "__asm__(\".symver hid%d, ver%d@@V1\");\n", i, i)
			fmt.Fprintf(&src, "#define f%d hid%d\n", i, i)
		}
	}
	src.WriteString("int all(int x) { int s = 0;\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&src, "s += f%d(x);\n", i)
	}
	src.WriteString("return s; }\n")
	if err := os.WriteFile(filepath.Join(dir, "lib.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib.map"), []byte("V1 { global: *; local: hid*; };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-O2", "-shared", "-fPIC", "-Wl,--version-script=lib.map", "-o", "lib.so", "lib.c")
	byName, kinds, _ := checkExported(t, dir, nm, filepath.Join(dir, "lib.so"))
	// The kinds above are all there: f0 by name, f2 by alias, hid3 by a
	// versioned alias; f1 not at all.
	for name, want := range map[string]bool{"f0": true, "f1": false, "alias2": true, "hid3": true} {
		got, ok := byName[name]
		if !ok {
			// f2's function may keep either name (both global).
			if name == "alias2" {
				got, ok = byName["f2"]
			}
			if name == "hid3" {
				got, ok = byName["ver3"]
			}
		}
		if !ok || got != want {
			t.Errorf("%s: Exported %v (found %v), want %v", name, got, ok, want)
		}
	}
	if kinds[true] < 100 || kinds[false] < 40 {
		t.Errorf("%d exported and %d other functions; the test needs both kinds", kinds[true], kinds[false])
	}

	// A program exporting only the aliases (--dynamic-list): two global
	// names at one address, the one kept as the link name (the first in
	// .symtab) not exported for about half of them.
	src.Reset()
	var list strings.Builder
	list.WriteString("{\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&src, "__attribute__((noinline)) int g%d(int x) { return x * %d; }\n", i, i+3)
		fmt.Fprintf(&src, "int galias%d(int) __attribute__((alias(\"g%d\")));\n", i, i)
		fmt.Fprintf(&list, "galias%d;\n", i)
	}
	list.WriteString("};\n")
	src.WriteString("int main(int c, char **v) { int s = 0;\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&src, "s += g%d(c);\n", i)
	}
	src.WriteString("return s; }\n")
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prog.list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-O2", "-Wl,--dynamic-list=prog.list", "-o", "prog", "prog.c")
	if _, _, byAlias := checkExported(t, dir, nm, filepath.Join(dir, "prog")); byAlias == 0 {
		t.Errorf("no function of prog is exported only under an alias; the test needs some")
	}
}

// checkExported opens path and checks each function's Exported against
// nm: whether .dynsym (nm -D) defines one of the names nm lists at its
// address, without the version; and that the list is sorted by address.
// It returns Exported by link name, how many functions are and are not
// exported, and how many are only under an alias.
func checkExported(t *testing.T, dir, nm, path string) (byName map[string]bool, kinds map[bool]int, byAlias int) {
	t.Helper()
	exported := map[string]bool{}
	for _, line := range strings.Split(testutil.Run(t, dir, nm, "-D", "--defined-only", path), "\n") {
		if fields := strings.Fields(line); len(fields) == 3 && (fields[1] == "T" || fields[1] == "W" || fields[1] == "i") {
			exported[symbolLinkOf(fields[2])] = true
		}
	}
	namesAt := map[uint64][]string{}
	for _, line := range strings.Split(testutil.Run(t, dir, nm, "--defined-only", path), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 || !strings.ContainsAny(fields[1], "TtWi") {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			t.Fatalf("nm line %q", line)
		}
		namesAt[addr] = append(namesAt[addr], fields[2])
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byName, kinds = map[string]bool{}, map[bool]int{}
	for i, fn := range f.Functions {
		if i > 0 && f.Functions[i-1].Addr >= fn.Addr {
			t.Fatalf("functions out of order: %s at %#x after %s at %#x", fn.Name(), fn.Addr, f.Functions[i-1].Name(), f.Functions[i-1].Addr)
		}
		names, ok := namesAt[fn.Addr]
		if !ok {
			continue // (_init, _fini: nm lists them too; a symbol-less FDE function)
		}
		want := false
		for _, n := range names {
			want = want || exported[symbolLinkOf(n)]
		}
		if fn.Exported != want {
			t.Errorf("%s at %#x (names %v): Exported %v, nm -D says %v", fn.LinkName, fn.Addr, names, fn.Exported, want)
		}
		kinds[want]++
		byName[fn.LinkName] = fn.Exported
		if want && !exported[fn.LinkName] {
			byAlias++
		}
	}
	return byName, kinds, byAlias
}

// symbolLinkOf is a name nm prints without its version ("f@@V1", "f@V1").
func symbolLinkOf(name string) string {
	link, _, _ := strings.Cut(name, "@")
	return link
}

// TestOpenNamesOfAliases: a C++ shared object whose constructors and
// destructors have two exported names at one address (C1/C2, D1/D2):
// every function's Name is its LinkName demangled, whichever of the two
// Open kept, and what nm -C prints for that symbol.
func TestOpenNamesOfAliases(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	nm := testutil.RequireTool(t, "nm")
	dir := t.TempDir()
	var src strings.Builder
	const n = 700
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "struct S%d { int v; S%d(int x); ~S%d(); };\nS%d::S%d(int x) : v(x * %d) {}\nS%d::~S%d() { v = 0; }\n", i, i, i, i, i, i+2, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "alias.cc"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O2", "-shared", "-fPIC", "-o", "libalias.so", "alias.cc")
	path := filepath.Join(dir, "libalias.so")
	demangledOf := map[string]string{}
	plain := strings.Split(testutil.Run(t, dir, nm, "-D", "--defined-only", path), "\n")
	demangled := strings.Split(testutil.Run(t, dir, nm, "-D", "-C", "--defined-only", path), "\n")
	if len(plain) != len(demangled) {
		t.Fatalf("nm -D lists %d lines, nm -D -C %d", len(plain), len(demangled))
	}
	for i, line := range plain {
		fields := strings.SplitN(line, " ", 3)
		dfields := strings.SplitN(demangled[i], " ", 3)
		if len(fields) == 3 && len(dfields) == 3 && fields[1] == "T" {
			demangledOf[fields[2]] = dfields[2]
		}
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	withAlias := 0
	for _, fn := range f.Functions {
		if fn.Name() != Demangle(fn.LinkName) {
			t.Errorf("%s at %#x: Name %q, demangled %q", fn.LinkName, fn.Addr, fn.Name(), Demangle(fn.LinkName))
		}
		if want, ok := demangledOf[fn.LinkName]; ok && fn.Name() != want {
			t.Errorf("%s: Name %q, nm -C says %q", fn.LinkName, fn.Name(), want)
		}
		if len(fn.Aliases) > 0 && strings.HasPrefix(fn.LinkName, "_Z") {
			withAlias++
		}
	}
	if withAlias < n {
		t.Fatalf("only %d functions with a second name; the test needs g++ to alias C1/C2 and D1/D2", withAlias)
	}
}
