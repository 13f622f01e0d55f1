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
