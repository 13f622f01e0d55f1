package binfile

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestCNameRemembersNotPlain: on libstdc++'s functions, CName asked once,
// and again, is the demangled name when that is a C name (else ""), and
// a mangled link name found unable to demangle to a C name is
// remembered as such (nameSlot.notPlain), its name left undemangled;
// Lookup's first call remembers it of every function. Once demangled,
// CName stays; renamed, it is the new name.
func TestCNameRemembersNotPlain(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	path := strings.TrimSpace(testutil.Run(t, t.TempDir(), gxx, "-print-file-name=libstdc++.so.6"))
	for _, lookupFirst := range []bool{false, true} {
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if lookupFirst {
			f.Lookup("malloc")
		}
		remembered := 0
		for i := range f.Functions {
			fn := &f.Functions[i]
			notPlain := fn.name != nil && fn.name.demangled.Load() == nil && !mayDemanglePlain(fn.LinkName)
			if lookupFirst && notPlain != (fn.name != nil && fn.name.notPlain.Load()) {
				t.Fatalf("%s: after Lookup, remembered as no C name %v, want %v", fn.LinkName, !notPlain, notPlain)
			}
			first := fn.CName()
			if notPlain {
				if !fn.name.notPlain.Load() || !fn.NotYetDemangled() {
					t.Fatalf("%s: CName did not remember it cannot demangle to a C name, or demangled it", fn.LinkName)
				}
				remembered++
			}
			if again := fn.CName(); again != first {
				t.Fatalf("%s: CName %q, then %q", fn.LinkName, first, again)
			}
			if want := CName(fn.Name()); first != want {
				t.Fatalf("%s: CName %q, want %q (of its demangled name %q)", fn.LinkName, first, want, fn.Name())
			}
			if demangled := fn.CName(); demangled != first { // (its name demangled now)
				t.Fatalf("%s: CName %q, then %q once demangled", fn.LinkName, first, demangled)
			}
			if notPlain {
				renamed := *fn
				renamed.SetName("plain_name")
				renamed.mayDemanglePlain() // (as Lookup's first call asks of every mangled link name)
				if got := renamed.CName(); got != "plain_name" {
					t.Fatalf("%s renamed plain_name: CName %q", fn.LinkName, got)
				}
			}
		}
		if remembered == 0 {
			t.Fatal("no mangled name remembered as no C name: the test tests nothing")
		}
		f.Close()
	}
}
