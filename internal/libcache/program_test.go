package libcache_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestProgramEntryWrittenBeside: the program's entry, written on another
// goroutine from the end of its walk (ProgramWalked), is whole once
// Release returns: a new cache reads every frame of the program from it,
// each the frame a walk without the cache computes; a frame Put after the
// walk is in it too (Release writes again), and no temporary file is left.
func TestProgramEntryWrittenBeside(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.c"), []byte(`#include <stdio.h>
#include <string.h>
static int depth(const char *s, int n) { char b[64]; strncpy(b, s, sizeof b); return n ? depth(b + 1, n - 1) + b[0] : 0; }
int main(int argc, char **argv) { printf("%d\n", depth(argv[0], argc)); return 0; }
`), 0o644)
	testutil.Run(t, dir, "gcc", "-O1", "-Wl,--build-id", "-o", "p", "p.c")
	prog := filepath.Join(dir, "p")
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)

	open := func() *binfile.File {
		f, err := binfile.Open(prog)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	plain := callgraph.Build(open(), x86.Decoder{}, callgraph.Options{StackAlign: 16})
	want := map[uint64]callgraph.Node{}
	for _, n := range plain.Nodes {
		if n.Module == plain.Modules[0] && n.Func != nil {
			want[n.Func.Addr] = *n
		}
	}
	if len(want) == 0 {
		t.Fatal("no program functions")
	}

	c := libcache.Open("test")
	f := open()
	callgraph.Build(f, x86.Decoder{}, callgraph.Options{StackAlign: 16, Libraries: c})
	// A frame that comes after the walk (a function outside the table
	// walked later): Release must write the entry again with it.
	late := want[f.Functions[0].Addr].Frame
	c.ProgramFrames(f, 16).Put(1, 2, late)
	c.Release(f)

	if tmp, _ := filepath.Glob(filepath.Join(xdg, "stackscope", "*", "*.tmp*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	again := libcache.Open("test")
	g := open()
	s := again.ProgramFrames(g, 16)
	if s.Stored() != len(want)+1 {
		t.Errorf("the entry holds %d frames, want the %d functions walked and the one Put after", s.Stored(), len(want))
	}
	for addr, n := range want {
		got, ok := s.Get(addr, n.Func.Size)
		if !ok {
			t.Errorf("%s: not in the entry", n.Name())
			continue
		}
		if !reflect.DeepEqual(got, n.Frame) {
			t.Errorf("%s: stored frame %+v, walked %+v", n.Name(), got, n.Frame)
		}
	}
	if got, ok := s.Get(1, 2); !ok || !reflect.DeepEqual(got, late) {
		t.Errorf("the frame Put after the walk: %v %+v", ok, got)
	}
}
