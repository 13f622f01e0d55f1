package libcache_test

import (
	"crypto/sha256"
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

// TestLargeEntryRoundTrip: an entry of more frames than a part holds
// (libstdc++'s every function, with the program's frame map sized for
// them), written on every core and read back on every core, gives each
// frame exactly as Put; an entry whose last part is cut short by a
// byte, behind a checksum made for it, is not read.
func TestLargeEntryRoundTrip(t *testing.T) {
	lib := "/lib/x86_64-linux-gnu/libstdc++.so.6"
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("SKIPPED: no %s", lib)
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	c := libcache.Open("test")
	f, err := c.OpenLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	if f.BuildID() == "" {
		t.Skipf("SKIPPED: %s has no build ID", lib)
	}
	g := callgraph.Build(f, x86.Decoder{}, callgraph.Options{StackAlign: 16})
	want := map[[2]uint64]callgraph.Node{}
	s := c.Frames(f, 16)
	for _, n := range g.Nodes {
		if n.Func != nil {
			want[[2]uint64{n.Func.Addr, n.Func.Size}] = *n
			s.Put(n.Func.Addr, n.Func.Size, n.Frame)
		}
	}
	if len(want) <= libcache.PartFrames {
		t.Fatalf("%d frames: not enough for two parts", len(want))
	}
	c.Flush()
	read := func() *libcache.Frames {
		c := libcache.Open("test")
		f, err := c.OpenLibrary(lib)
		if err != nil {
			t.Fatal(err)
		}
		return c.Frames(f, 16)
	}
	back := read()
	if back.Stored() != len(want) {
		t.Fatalf("%d frames read back, %d put", back.Stored(), len(want))
	}
	for k, n := range want {
		got, ok := back.Get(k[0], k[1])
		if !ok || !reflect.DeepEqual(got, n.Frame) {
			t.Fatalf("%s: read back %v %+v, put %+v", n.Name(), ok, got, n.Frame)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(xdg, "stackscope", "*", "*.gob"))
	if len(entries) != 1 {
		t.Fatalf("entries %v, want one", entries)
	}
	whole, _ := os.ReadFile(entries[0])
	cut := whole[len(libcache.Magic)+sha256.Size : len(whole)-1]
	sum := sha256.Sum256(cut)
	os.WriteFile(entries[0], append(append([]byte(libcache.Magic), sum[:]...), cut...), 0o644)
	if n := read().Stored(); n != 0 {
		t.Errorf("an entry cut short gave %d frames", n)
	}
}
