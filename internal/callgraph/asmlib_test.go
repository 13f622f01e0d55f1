package callgraph

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/testutil"
)

// asmLib assembles testdata/<name>.S into a shared object of its own (no
// C library) with gcc and opens it; the file is closed when the test ends.
func asmLib(t *testing.T, name string) *binfile.File {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("testdata", name+".S"))
	lib := filepath.Join(dir, "lib"+name+".so")
	testutil.Run(t, dir, gcc, "-shared", "-nostdlib", "-Wl,--no-undefined", "-o", lib, src)
	f, err := binfile.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
