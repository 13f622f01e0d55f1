package libcache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestFunctionTableNeedsNoDemangling: the hash of a C++ program's function
// table demangles none of its names (the link names determine them), yet
// changes when a function is given a name of its own (SetName, as the
// analysis of a program's start-up code does) or a link name changes.
func TestFunctionTableNeedsNoDemangling(t *testing.T) {
	testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.cc"), []byte(`#include <cstdio>
namespace ns { struct K { int f(int x) { return std::printf("%d\n", x); } }; }
__attribute__((noinline)) int call(ns::K &k, int x) { return k.f(x); }
int main(int argc, char **) { ns::K k; return call(k, argc); }
`), 0o644)
	testutil.Run(t, dir, "g++", "-O1", "-o", "p", "p.cc")
	open := func() *binfile.File {
		f, err := binfile.Open(filepath.Join(dir, "p"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	mangled := -1
	for i := range f.Functions {
		if f.Functions[i].NotYetDemangled() {
			mangled = i
			break
		}
	}
	if mangled < 0 {
		t.Fatal("no mangled function name in a C++ program")
	}
	before := functionTable(f)
	for i := range f.Functions {
		if !f.Functions[i].NotYetDemangled() && f.Functions[i].LinkName != f.Functions[i].Name() && f.Functions[i].LinkName[:2] == "_Z" {
			t.Fatalf("%s was demangled for the hash", f.Functions[i].LinkName)
		}
	}
	if again := functionTable(open()); again != before {
		t.Fatal("the same file hashes differently")
	}

	renamed := open()
	renamed.Functions[mangled].SetName(renamed.Functions[mangled].Name() + "_start_up")
	if functionTable(renamed) == before {
		t.Error("a function given a name of its own leaves the hash unchanged")
	}
	relinked := open()
	relinked.Functions[mangled].LinkName += "x"
	if functionTable(relinked) == before {
		t.Error("a changed link name leaves the hash unchanged")
	}
}
