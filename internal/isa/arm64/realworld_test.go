package arm64

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestObjdumpRealWorld runs the objdump comparison over real code: zlib
// and Lua from Debian's source packages, AArch64 Linux shared objects at
// -O0, -O2 and -Os as the analysis's real-world tests build them, so that
// every instruction GCC emits for them is checked, not only the fixture's.
func TestObjdumpRealWorld(t *testing.T) {
	cc := testutil.RequireTool(t, "aarch64-linux-gnu-gcc")
	objdump := testutil.RequireTool(t, "aarch64-linux-gnu-objdump")
	zlib := testutil.SourceTree(t, "zlib")
	lua := testutil.SourceTree(t, "lua5.4")
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		for _, code := range []string{"zlib", "lua"} {
			t.Run(code+opt, func(t *testing.T) {
				dir := t.TempDir()
				lib := filepath.Join(dir, "lib"+code+".so")
				args := []string{opt, "-fPIC", "-shared", "-o", lib}
				if code == "zlib" {
					args = append(append(args, "-D_LARGEFILE64_SOURCE=1", "-I"+zlib), testutil.ZlibSources(t, zlib)...)
				} else {
					args = append(append(append(args, "-DLUA_USE_LINUX"), testutil.LuaIncludes(t, lua, dir)...), testutil.LuaSources(t, lua)...)
				}
				testutil.Run(t, dir, cc, args...)
				checkBinary(t, lib, testutil.Run(t, dir, objdump, "-d", lib))
			})
		}
	}
}
