package riscv

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestObjdumpRealWorld runs the objdump comparison over real code: zlib
// from Debian's source package, built as the analysis's real-world tests
// build it (an RV64 Linux shared object at -O2 and -Os, and RV32IMAC
// objects linked into one image at -O2), so that every instruction GCC
// emits for it is checked, not only the fixtures'.
func TestObjdumpRealWorld(t *testing.T) {
	root := testutil.SourceTree(t, "zlib")
	srcs := testutil.ZlibSources(t, root)
	for _, tc := range []struct {
		name, cc, objdump string
		xlen              int
		flags             []string
	}{
		{"rv64-linux-O2", "riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objdump", 64, []string{"-O2", "-fPIC", "-shared"}},
		{"rv64-linux-Os", "riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objdump", 64, []string{"-Os", "-fPIC", "-shared"}},
		// No C library: calls out of zlib stay unresolved (branches to 0),
		// which the comparison does not mind.
		{"rv32imac-O2", "riscv64-unknown-elf-gcc", "riscv64-unknown-elf-objdump", 32, []string{"-O2", "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs", "-nostdlib", "-Wl,--no-gc-sections", "-Wl,--unresolved-symbols=ignore-all", "-Wl,-e,0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := testutil.RequireTool(t, tc.cc)
			objdump := testutil.RequireTool(t, tc.objdump)
			dir := t.TempDir()
			out := filepath.Join(dir, "libz-"+strings.ReplaceAll(tc.name, "-", "_"))
			args := append(append([]string{"-D_LARGEFILE64_SOURCE=1", "-I" + root, "-o", out}, tc.flags...), srcs...)
			testutil.Run(t, dir, cc, args...)
			checkObjdump(t, objdump, out, tc.xlen)
		})
	}
}
