package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestRealWorldSQLiteX86 compiles sqlite3's amalgamation (Debian's source
// package; scripts/fetch-sources.sh sqlite3 builds sqlite3.c) at -O0 and
// -O2, and at -O2 for x86-64-v3 (AVX2: GCC's DRAP realignment in some
// functions), and compares every frame with .su: the bar, none
// smaller and 99% of static frames equal (checkRealWorld).
func TestRealWorldSQLiteX86(t *testing.T) {
	root := sourceTree(t, "sqlite3")
	src := filepath.Join(root, "sqlite3.c")
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("sqlite3's amalgamation missing (%v): run scripts/fetch-sources.sh sqlite3", err)
	}
	gcc := testutil.RequireTool(t, "gcc")
	for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-O2", "-march=x86-64-v3"}} {
		flags := flags
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			objs := compileEach(t, dir, gcc, append([]string{"-fPIC", "-DSQLITE_THREADSAFE=1"}, flags...), []string{src})
			lib := filepath.Join(dir, "libsqlite3.so")
			testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm")...)...)
			res, err := Run(lib, Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			checkRealWorld(t, res, dir)
		})
	}
}
