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

// libraryFrames builds the call graph of prog with cache c and returns the
// frames of its library nodes by library path and address.
func libraryFrames(t *testing.T, prog string, c *libcache.Cache) (map[string]callgraph.Node, []*callgraph.Module) {
	t.Helper()
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	g := callgraph.Build(f, x86.Decoder{}, callgraph.Options{FollowLibraries: true, StackAlign: 16, Libraries: c})
	g.Resolve()
	out := map[string]callgraph.Node{}
	for _, n := range g.Nodes {
		if n.Module != nil && n.Module != g.Modules[0] && n.Func != nil {
			out[n.Module.File.Path+" "+n.Name()] = *n
		}
	}
	return out, g.Modules[1:]
}

// TestFramesRoundTrip: the frames a warm cache gives a program's library
// functions are exactly (reflect.DeepEqual) the ones a walk without the
// cache computes, and a cold cache computes the same.
func TestFramesRoundTrip(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.c"), []byte(`#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	char *s = strdup(argv[0]);
	qsort(s, strlen(s), 1, (int (*)(const void *, const void *))strcmp);
	printf("%s %d\n", s, atoi(argc > 1 ? argv[1] : "3"));
	free(s);
	return 0;
}
`), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", "-o", "p", "p.c")
	prog := filepath.Join(dir, "p")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())

	plain, _ := libraryFrames(t, prog, nil)
	cold := libcache.Open("test")
	coldFrames, _ := libraryFrames(t, prog, cold)
	cold.Flush()
	warm := libcache.Open("test")
	warmFrames, libs := libraryFrames(t, prog, warm)
	if len(plain) == 0 {
		t.Fatal("no library functions reached")
	}
	// The warm run walked nothing: every frame it used came from the
	// entries the cold run wrote.
	for _, m := range libs {
		s := warm.Frames(m.File, 16)
		if s.Stored() == 0 || s.Len() != s.Stored() {
			t.Errorf("%s: %d frames read from the cache, %d used", m.File.Path, s.Stored(), s.Len())
		}
	}
	for name, want := range plain {
		for which, got := range map[string]map[string]callgraph.Node{"cold": coldFrames, "warm": warmFrames} {
			n, ok := got[name]
			if !ok {
				t.Errorf("%s: %s not reached", which, name)
				continue
			}
			if !reflect.DeepEqual(n.Frame, want.Frame) {
				t.Errorf("%s: %s: frame %+v, without the cache %+v", which, name, n.Frame, want.Frame)
			}
		}
	}
}

// TestCorruptEntryIgnored: an entry with one byte changed, or cut short,
// gives no frames (the checksum), and the next flush writes it whole.
func TestCorruptEntryIgnored(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	lib := "/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("SKIPPED: no %s", lib)
	}
	c := libcache.Open("test")
	f, err := c.OpenLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	if f.BuildID() == "" {
		t.Skipf("SKIPPED: %s has no build ID", lib)
	}
	fn, ok := f.Lookup("strlen")
	if !ok {
		t.Fatal("no strlen in libc")
	}
	g := callgraph.Build(f, x86.Decoder{}, callgraph.Options{StackAlign: 16})
	want := g.Nodes[0].Frame // any real frame of libc
	c.Frames(f, 16).Put(fn.Addr, fn.Size, want)
	c.Flush()
	entries, _ := filepath.Glob(filepath.Join(xdg, "stackscope", "*", "*.gob"))
	if len(entries) != 1 {
		t.Fatalf("entries %v, want one", entries)
	}
	whole, _ := os.ReadFile(entries[0])
	reopen := func() bool {
		c := libcache.Open("test")
		f, err := c.OpenLibrary(lib)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := c.Frames(f, 16).Get(fn.Addr, fn.Size)
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("stored frame %+v, put %+v", got, want)
		}
		return ok
	}
	if !reopen() {
		t.Fatal("the stored frame is not read back")
	}
	if reopenOther := func() bool {
		c := libcache.Open("another version")
		f, _ := c.OpenLibrary(lib)
		_, ok := c.Frames(f, 16).Get(fn.Addr, fn.Size)
		return ok
	}(); reopenOther {
		t.Error("another version of stackscope read this one's entry")
	}
	flipped := append([]byte(nil), whole...)
	flipped[len(flipped)-3] ^= 0x40
	for name, data := range map[string][]byte{"one byte changed": flipped, "truncated": whole[:len(whole)-10], "empty": nil} {
		os.WriteFile(entries[0], data, 0o644)
		if reopen() {
			t.Errorf("%s: the entry still gives a frame", name)
		}
	}
	// The next run that computes the frame writes the entry whole again.
	c = libcache.Open("test")
	f, _ = c.OpenLibrary(lib)
	c.Frames(f, 16).Put(fn.Addr, fn.Size, want)
	c.Flush()
	if !reopen() {
		t.Error("the corrupt entry was not rewritten")
	}
}
