package callgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioPrefetchMatchesReader: the FILE layout read ahead for a shared
// object's libc (prefetchLibioLayouts; prefetchDebugLayouts reads nothing
// for a shared object) is the one readLibioLayout reads alone; and a
// prefetch of the other layouts started while it runs (a big program's,
// when ModelRuntime starts) is not lost: it runs after it, and wait waits
// for both.
func TestLibioPrefetchMatchesReader(t *testing.T) {
	g, libc := libcGraph(t, true)
	path := libc.File.DebugSymbols
	debugPrefetches.wait(path)
	for _, c := range []interface{ forget(string) }{&gconvLayouts, &libioLayouts, &wideVtableOffsets} {
		c.forget(path)
	}
	g.prefetchLibioLayouts()
	if !debugPrefetches.under(path) && !libioLayouts.has(path) {
		t.Fatalf("no prefetch of %s's FILE layout started", path)
	}
	g.prefetchDebugLayouts() // (queued behind the FILE layout's prefetch)
	debugPrefetches.wait(path)
	if !libioLayouts.has(path) || !gconvLayouts.has(path) || !wideVtableOffsets.has(path) {
		t.Fatalf("after both prefetches: FILE layout kept %v, gconv layout %v, _wide_vtable %v; want all",
			libioLayouts.has(path), gconvLayouts.has(path), wideVtableOffsets.has(path))
	}
	got := libioLayoutOf(libc)
	if want := readLibioLayout(libc.File); got == nil || got.vtable < 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("prefetched FILE layout %+v, read alone %+v", got, want)
	}
	if want := readGconvLayout(libc.File); !reflect.DeepEqual(gconvLayoutOf(libc), want) {
		t.Errorf("gconv layout prefetched after the FILE layout %+v, read alone %+v", gconvLayoutOf(libc), want)
	}

	// A shared object: its build asks the FILE layout (libioVtable), and
	// only prefetchLibioLayouts reads it ahead.
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "so.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint say(FILE *f, int x) { return fprintf(f, \"%d\\n\", x) + fflush(f); }\n"), 0o644)
	so := filepath.Join(dir, "libsay.so")
	testutil.Run(t, dir, gcc, "-O2", "-shared", "-fPIC", "-o", so, src)
	f, err := binfile.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libioLayouts.forget(path)
	sg := Build(f, x86.Decoder{}, Options{StackAlign: 16, FollowLibraries: true})
	sg.Resolve()
	debugPrefetches.wait(path)
	if !libioLayouts.has(path) {
		t.Fatalf("the graph of %s: %s's FILE layout not read", so, path)
	}
	if got, want := libioLayoutOf(libc), readLibioLayout(libc.File); !reflect.DeepEqual(got, want) {
		t.Errorf("FILE layout read during a shared object's build %+v, read alone %+v", got, want)
	}
}

// TestImportDefinitionsKeptSameGraph: the graph built with the imports'
// definitions kept per module and name (importDefinition), and the nodes
// the PLT stubs link to kept per stub (slotLink), is the graph built
// searching the modules at every call: the same nodes, with the same
// edges in the same order (the lazily bound program's calls through its
// PLT each get their edge to the lazy-binding resolver too). The program interposes one of its
// library's functions (exported with -rdynamic, called from the library
// through its PLT, and by the program itself before the libraries are
// loaded), and calls functions the library, libm (past the library in
// the search order) and libc define, each more than once; libc's string
// functions among them, ifuncs (an edge per implementation), which libc's
// own code calls through IRELATIVE slots.
func TestImportDefinitionsKeptSameGraph(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("own.c", "#include <math.h>\n#include <stdio.h>\nint hook(int x) { return x; }\n"+
		"double own(double x) { printf(\"%d\\n\", hook((int)x)); return sqrt(x) + hook(2) + cbrt(x); }\n")
	write("main.c", "#include <stdio.h>\n#include <math.h>\n#include <string.h>\ndouble own(double);\n"+
		"int hook(int x) { return x * 2; }\n"+
		"int main(int argc, char **argv) { char b[64]; printf(\"%f %f\\n\", own(argc), cbrt(argc)); puts(argv[0]); printf(\"%d\\n\", hook(argc));\n"+
		"memcpy(b, argv[0], strlen(argv[0]) % 60); b[strlen(argv[1])] = 0; memcpy(b + 1, b, 2); puts(b); return hook(argc + 1) + (int)strlen(b); }\n")
	testutil.Run(t, dir, gcc, "-O1", "-fno-inline", "-shared", "-fPIC", "-o", "libown.so", "own.c", "-lm")
	testutil.Run(t, dir, gcc, "-O1", "-fno-inline", "-rdynamic", "-o", "prog", "main.c", "-L.", "-lown", "-lm", "-Wl,-rpath,$ORIGIN")
	graph := func(keep bool) []string {
		defer func(was bool) { keepImportDefinitions = was }(keepImportDefinitions)
		keepImportDefinitions = keep
		f, err := binfile.Open(filepath.Join(dir, "prog"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Libraries: libcache.Memory()})
		g.Resolve()
		var out []string
		for id, n := range g.Nodes {
			out = append(out, fmt.Sprintf("%d %s", id, g.QualifiedName(id)))
			for _, e := range n.Edges {
				out = append(out, fmt.Sprintf("%s -> %s (%s) %d", g.QualifiedName(id), g.QualifiedName(e.To), e.Method, e.To))
			}
		}
		return out
	}
	searched, kept := graph(false), graph(true)
	if !slices.Equal(searched, kept) {
		t.Fatalf("graphs differ: searched at every call %d lines, definitions kept %d lines", len(searched), len(kept))
	}
	// (libm's and libc's functions by their symbols' names: cbrtf64 or
	// cbrt, _IO_puts or puts, depending on the C library's version.)
	for _, want := range [][2]string{{"own (libown.so) -> ", "hook (plt)"}, {"main -> ", "own (libown.so) (plt)"},
		{"own (libown.so) -> ", "(libm.so.6) (plt)"}, {"main -> ", "(libm.so.6) (plt)"}, {"main -> ", "(libc.so.6) (plt)"},
		{"main -> ", "(libc.so.6) (ifunc)"}} {
		if !slices.ContainsFunc(kept, func(l string) bool { return strings.HasPrefix(l, want[0]) && strings.Contains(l, want[1]) }) {
			t.Errorf("no edge %s... %s in the graph", want[0], want[1])
		}
	}
}
