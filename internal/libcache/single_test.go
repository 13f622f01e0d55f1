package libcache_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestMemoryOnlyKeepsWhatIsRead: a cache in memory (--no-cache) keeps no
// store of the analysed program's frames, which nothing reads back; one
// for a single analysis (Single) keeps no library frames either, where
// Memory keeps them for the next program; and the frames either gives
// the graph are exactly those of a walk without a cache.
func TestMemoryOnlyKeepsWhatIsRead(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.c"), []byte(`#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	printf("%d\n", atoi(argc > 1 ? argv[1] : "3"));
	return 0;
}
`), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", "-o", "p", "p.c")
	prog := filepath.Join(dir, "p")

	plain, _ := libraryFrames(t, prog, nil)
	if len(plain) == 0 {
		t.Fatal("no library functions reached")
	}
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*libcache.Cache{"Memory": libcache.Memory(), "Single": libcache.Single()} {
		if s := c.ProgramFrames(f, 16); s != nil {
			t.Errorf("%s: a store for the program's frames", name)
		}
		got, libs := libraryFrames(t, prog, c)
		kept := 0
		for _, m := range libs {
			kept += c.Frames(m.File, 16).Len()
		}
		switch {
		case name == "Memory" && kept == 0:
			t.Errorf("Memory kept no library frame")
		case name == "Single" && kept != 0:
			t.Errorf("Single kept %d library frames", kept)
		}
		for fn, want := range plain {
			n, ok := got[fn]
			if !ok {
				t.Errorf("%s: %s not reached", name, fn)
				continue
			}
			if !reflect.DeepEqual(n.Frame, want.Frame) {
				t.Errorf("%s: %s: frame %+v, without the cache %+v", name, fn, n.Frame, want.Frame)
			}
		}
		t.Logf("%s: %d library functions, %d frames kept", name, len(got), kept)
	}
}
