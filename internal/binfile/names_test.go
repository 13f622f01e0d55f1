package binfile

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// checkDemangledCName holds the demangler to what mayDemanglePlain
// assumes: a mangled name that demangles to something else whose part
// before any '@' has only a C symbol's characters has one of the forms
// mayDemanglePlain accepts; and to what callgraph's noReturnFunction
// assumes: a demangled name starts with "_Z" only when its link name has
// another "_Z" (the demangler copies names) or a '$' (Rust's escapes).
func checkDemangledCName(t *testing.T, link string) {
	t.Helper()
	if !mangled(link) {
		return
	}
	d := Demangle(link)
	if d != link && plainSymbol(baseName(d)) && !mayDemanglePlain(link) {
		t.Errorf("%q demangles to %q (plain before any '@'), but mayDemanglePlain says it cannot", link, d)
	}
	// What callgraph's noReturnFunction assumes.
	if d != link && strings.HasPrefix(d, "_Z") && !strings.Contains(link[1:], "_Z") && !strings.Contains(link, "$") {
		t.Errorf("%q demangles to %q, which starts with _Z, not copied from it", link, d)
	}
}

// FuzzDemangledCNames checks mayDemanglePlain's assumption on arbitrary
// mangled-looking names (seeds: the forms it accepts, and near misses:
// templates, nesting, ABI tags, C++20 modules, clones, Rust v0 paths).
func FuzzDemangledCNames(f *testing.F) {
	for _, s := range []string{
		"_Z1x", "_ZL3foo", "_ZN3fooE", "_ZNL3fooE", "__Z3foo", "_RC3foo", "_R0Cs123_3foo", "_RNvC3foo3bar",
		"_Z3foov", "_ZN3foo3barEv", "_Z1xIiE", "_Z1xB5cxx11", "_ZW3mod3fooE", "_ZW3mod3foov", "_Z3foo.cold",
		"_ZSt9terminatev", "_ZTV3Foo", "_ZGVZ3foovE1x", "_ZN1a1bEv@GLIBC_2.2.5", "_Z3foo@plt", "_Z4main",
		"_ZN3foo17h0123456789abcdefE", "_RNvCs1234_7mycrate4main", "_Z3abc.isra.0", "_ZdlPv", "_Zplv",
		"_ZL3A000", "_ZN3fooE_0", "_Z3foo_1", "_ZL3foo__12_", "_ZN11foo$SP$bar17h0123456789abcdefE", "_ZNW3mod3foo3barEv", "_ZfL", "_Zdt", "_Z2A@1A", "_ZL3A00_n0", "_ZNH3A00E", "_Zv01A", "_Z7_ZSt1_xv", "_ZN9$u5f$ZSt1xE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []string{"", "_Z", "_R", "__Z"} {
			checkDemangledCName(t, p+s)
		}
	})
}

// TestDemangledCNames checks mayDemanglePlain's assumption on every
// symbol of the C++ and Rust libraries and programs at hand (libstdc++,
// LLVM, node when installed) and of a C++ program compiled here.
func TestDemangledCNames(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	path := buildLookupProgram(t, gxx)
	paths := []string{path, strings.TrimSpace(testutil.Run(t, t.TempDir(), gxx, "-print-file-name=libstdc++.so.6"))}
	for _, p := range []string{"/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"} {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		dyn, _ := f.DynamicSymbols()
		n := 0
		for _, s := range append(symbolNames(f.Symbols()), symbolNames(dyn)...) {
			checkDemangledCName(t, s)
			n++
		}
		f.Close()
		t.Logf("%s: %d names", p, n)
	}
}

// buildLookupProgram compiles a C++ program with ordinary functions and
// assembly functions whose mangled names demangle to C names ("main",
// "malloc", "helper"), placed before the C functions of those names.
func buildLookupProgram(t *testing.T, gxx string) string {
	dir := t.TempDir()
	src := `#include <cstdio>
#include <cstdlib>
asm(".text\n.globl _Z4main\n.type _Z4main,@function\n_Z4main: ret\n.size _Z4main,1\n"
    ".globl _ZN6helperE\n.type _ZN6helperE,@function\n_ZN6helperE: ret\n.size _ZN6helperE,1\n"
    ".globl _ZL5alone\n.type _ZL5alone,@function\n_ZL5alone: ret\n.size _ZL5alone,1\n");
namespace ns { struct S { virtual int f(int x) { return x + 1; } }; int g(S *s) { return s->f(2); } }
extern "C" int helper(int x) { return x * 3; }
int over(int x) { return x; }
int over(double x) { return (int)x; }
int main(int argc, char **argv) {
	ns::S s;
	void *p = malloc(argc);
	printf("%d %d %d %p\n", ns::g(&s), helper(argc), over(argc) + over(1.5), p);
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "prog.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O1", "-o", "prog", "prog.cc")
	return filepath.Join(dir, "prog")
}

// TestLazyNames opens the C++ program twice and checks the names read on
// demand against the names made eagerly: Lookup of every link name,
// alias, demangled name and C name finds the first function that has it
// (as a map of all of them made ahead finds), CName is the demangled name
// when that is a C name, and Name is the demangled link name; and the same
// from eight goroutines at once on one File (go test -race).
func TestLazyNames(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	path := buildLookupProgram(t, gxx)
	ref, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	first := map[string]int{}
	var queries []string
	for i := range ref.Functions {
		fn := &ref.Functions[i]
		for _, n := range append([]string{fn.LinkName, Demangle(fn.LinkName)}, fn.Aliases...) {
			if _, dup := first[n]; !dup {
				first[n] = i
				queries = append(queries, n)
			}
		}
	}
	queries = append(queries, "alone", "no_such_function", "ns::nothing(int)", "helper@GLIBC_2.2.5")
	for _, want := range []string{"main", "helper", "alone"} {
		if i, ok := first[want]; !ok || !mangled(ref.Functions[i].LinkName) {
			t.Fatalf("the program has no mangled function named %q before any other: the test tests nothing", want)
		}
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range queries {
				q := queries[(k+w*7)%len(queries)] // each goroutine in its own order
				fn, ok := f.Lookup(q)
				i, want := first[q]
				switch {
				case ok != want:
					t.Errorf("Lookup(%q): found %v, want %v", q, ok, want)
				case ok && fn != &f.Functions[i]:
					t.Errorf("Lookup(%q): %s at %#x, want %s at %#x", q, fn.LinkName, fn.Addr, f.Functions[i].LinkName, f.Functions[i].Addr)
				}
			}
			for i := range f.Functions {
				fn := &f.Functions[(i+w*13)%len(f.Functions)]
				d := Demangle(fn.LinkName)
				if got := fn.CName(); got != CName(d) {
					t.Errorf("%s: CName %q, want %q", fn.LinkName, got, CName(d))
				}
				if got := fn.Name(); got != d {
					t.Errorf("%s: Name %q, want %q", fn.LinkName, got, d)
				}
			}
		}()
	}
	wg.Wait()
}

func symbolNames(syms []elf.Symbol) []string {
	names := make([]string, len(syms))
	for i, s := range syms {
		names[i] = s.Name
	}
	return names
}
