package arm64

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestObjdumpRealWorld runs the objdump comparison over real code: zlib
// from Debian's source package, an AArch64 Linux shared object at -O0,
// -O2 and -Os as the analysis's real-world tests build it, so that every
// instruction GCC emits for it is checked, not only the fixture's.
func TestObjdumpRealWorld(t *testing.T) {
	cc := testutil.RequireTool(t, "aarch64-linux-gnu-gcc")
	objdump := testutil.RequireTool(t, "aarch64-linux-gnu-objdump")
	root := testutil.SourceTree(t, "zlib")
	srcs := testutil.ZlibSources(t, root)
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			lib := filepath.Join(dir, "libz.so")
			args := append([]string{opt, "-fPIC", "-shared", "-D_LARGEFILE64_SOURCE=1", "-I" + root, "-o", lib}, srcs...)
			testutil.Run(t, dir, cc, args...)
			checkBinary(t, lib, testutil.Run(t, dir, objdump, "-d", lib))
		})
	}
}
