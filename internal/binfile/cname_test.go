package binfile

import (
	"os"
	"strings"
	"testing"
)

// cnameByBase is CName as it was written before it became one pass:
// the part before the first '@' not at the start, then its characters.
func cnameByBase(name string) string {
	if base := baseName(name); plainSymbol(base) && !mangled(base) {
		return name
	}
	return ""
}

var cnameCases = []string{
	"", "@", "@@", "@x", "x@", "malloc", "malloc@GLIBC_2.2.5", "malloc@@GLIBC_2.2.5",
	"abort@plt", "a.b$c_1", "_Z3foov", "_Z3foov@GLIBC", "__Zx", "_Rabc", "_R@x",
	"v8::internal::Isolate::Init(int)", "f(int)@x", "x@y:z", "x:y@z", "x y", "é",
	"__libc_start_main@@GLIBC_2.34", "_", "_Z", "__Z", "_R", "x@_Z", "_@x",
	"operator new(unsigned long)", "foo.cold", "foo.cold.1@v",
}

// TestCNameIsByBase: the one-pass CName gives what the base's test
// gave, on names of every shape and on every function name of libc and
// libstdc++ (link names, aliases and demangled names).
func TestCNameIsByBase(t *testing.T) {
	names := append([]string(nil), cnameCases...)
	for _, path := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Functions {
			fn := &f.Functions[i]
			names = append(names, fn.LinkName, fn.Name())
			names = append(names, fn.Aliases...)
		}
		f.Close()
	}
	if len(names) < 1000 {
		t.Logf("only %d names: no libc or libstdc++ here", len(names))
	}
	for _, n := range names {
		if got, want := CName(n), cnameByBase(n); got != want {
			t.Errorf("CName(%q) = %q, want %q", n, got, want)
		}
	}
}

func FuzzCNameIsByBase(f *testing.F) {
	for _, n := range cnameCases {
		f.Add(n)
	}
	f.Add(strings.Repeat("a", 100) + "@" + strings.Repeat("b", 100))
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := CName(n), cnameByBase(n); got != want {
			t.Errorf("CName(%q) = %q, want %q", n, got, want)
		}
	})
}

// TestFirstIndexByName: the index by name built from the last name to
// the first keeps what asking before each assignment kept: the first
// function with the name, its link name before its aliases.
func TestFirstIndexByName(t *testing.T) {
	fns := []Function{
		{LinkName: "a", Aliases: []string{"b", "a", "c"}},
		{LinkName: "b", Aliases: []string{"d", "d"}},
		{LinkName: "c"},
		{LinkName: "e", Aliases: []string{"a", "f"}},
		{LinkName: "f"},
	}
	want := map[string]int{"a": 0, "b": 0, "c": 0, "d": 1, "e": 3, "f": 3}
	paths := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/node"}
	check := func(name string, fns []Function, want map[string]int) {
		got := firstIndexByName(fns)
		if len(got) != len(want) {
			t.Fatalf("%s: %d names, want %d", name, len(got), len(want))
		}
		for n, i := range want {
			if got[n] != i {
				t.Fatalf("%s: %q at %d, want %d", name, n, got[n], i)
			}
		}
	}
	check("table", fns, want)
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for i := range f.Functions {
			fn := &f.Functions[i]
			for _, n := range append([]string{fn.LinkName}, fn.Aliases...) {
				if _, dup := want[n]; !dup {
					want[n] = i
				}
			}
		}
		check(path, f.Functions, want)
		f.Close()
	}
}

// TestLinkMangled: LinkMangled, which trusts the slot Open gives a
// mangled link name, says what reading the link name says, for every
// function of libstdc++ and node, and after NameFunction renamed one.
func TestLinkMangled(t *testing.T) {
	for _, path := range []string{"/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/node"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range f.Functions {
			fn := &f.Functions[i]
			if fn.LinkMangled() != mangled(fn.LinkName) {
				t.Fatalf("%s: %q: LinkMangled %v", path, fn.LinkName, fn.LinkMangled())
			}
			if fn.LinkMangled() {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no mangled link name", path)
		}
		f.Close()
	}
	fn := Function{LinkName: "_Z3foov"}
	if !fn.LinkMangled() {
		t.Error("a function made without Open: _Z3foov not mangled")
	}
	fn.SetName("plain")
	if !fn.LinkMangled() {
		t.Error("_Z3foov renamed: its link name not mangled")
	}
	fn = Function{LinkName: "plain"}
	fn.SetName("_Z3foov")
	if fn.LinkMangled() {
		t.Error("plain, named _Z3foov: its link name mangled")
	}
}
