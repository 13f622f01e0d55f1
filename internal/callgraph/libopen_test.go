package callgraph

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibrariesOpenedAheadSameModules: a program with a library of its own
// (which needs libm), a library that is no longer there, and libc. With a
// library cache, Build opens the libraries while it walks the program's
// frames (startOpeningLibraries); the graph's modules, in their order,
// and its missing libraries are those of the walk made at the first call
// into a library (no cache).
func TestLibrariesOpenedAheadSameModules(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("own.c", "#include <math.h>\ndouble own(double x) { return sqrt(x) + 1; }\n")
	write("gone.c", "int gone(int x) { return x + 1; }\n")
	write("main.c", "#include <stdio.h>\ndouble own(double);\nint gone(int);\n"+
		"int main(int argc, char **argv) { if (argc > 5) return gone(argc); printf(\"%f\\n\", own(argc)); return 0; }\n")
	testutil.Run(t, dir, gcc, "-O1", "-shared", "-fPIC", "-o", "libown.so", "own.c", "-lm")
	testutil.Run(t, dir, gcc, "-O1", "-shared", "-fPIC", "-o", "libgone.so", "gone.c")
	testutil.Run(t, dir, gcc, "-O1", "-o", "prog", "main.c", "-L.", "-lown", "-lgone", "-Wl,-rpath,$ORIGIN")
	if err := os.Remove(filepath.Join(dir, "libgone.so")); err != nil {
		t.Fatal(err)
	}
	modules := func(cache *libcache.Cache) ([]string, []string) {
		f, err := binfile.Open(filepath.Join(dir, "prog"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Libraries: cache})
		g.Resolve()
		var paths []string
		for _, m := range g.Modules {
			paths = append(paths, m.File.Path)
		}
		return paths, g.Missing
	}
	inOrder, missingInOrder := modules(nil)
	ahead, missingAhead := modules(libcache.Memory())
	if !slices.Equal(inOrder, ahead) || !slices.Equal(missingInOrder, missingAhead) {
		t.Fatalf("modules opened ahead %v, missing %v; opened in order %v, missing %v", ahead, missingAhead, inOrder, missingInOrder)
	}
	if !slices.Equal(missingAhead, []string{"libgone.so"}) {
		t.Errorf("missing %v, want [libgone.so]", missingAhead)
	}
	names := map[string]bool{}
	for _, p := range ahead[1:] {
		names[filepath.Base(p)] = true
	}
	for _, want := range []string{"libown.so", "libm.so.6", "libc.so.6"} {
		if !names[want] {
			t.Errorf("modules %v: no %s", ahead, want)
		}
	}
}
