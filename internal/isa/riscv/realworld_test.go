package riscv

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestObjdumpRealWorld runs the objdump comparison over real code: zlib
// and Lua from Debian's source packages, built as the analysis's
// real-world tests build them (RV64 Linux shared objects at -O2 and -Os,
// and RV32IMAC code linked into one image at -O2), so that every
// instruction GCC emits for them is checked, not only the fixtures'.
func TestObjdumpRealWorld(t *testing.T) {
	zlib := testutil.SourceTree(t, "zlib")
	lua := testutil.SourceTree(t, "lua5.4")
	linux := []string{"-fPIC", "-shared"}
	// No C library: calls out of the code stay unresolved (branches to
	// 0), which the comparison does not mind.
	bare := []string{"-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs", "-nostdlib", "-Wl,--no-gc-sections", "-Wl,--defsym=__flash_size=0x1000000", "-Wl,--unresolved-symbols=ignore-all", "-Wl,-e,0"}
	for _, tc := range []struct {
		name, cc, objdump string
		xlen              int
		flags             []string
	}{
		{"rv64-linux-O2", "riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objdump", 64, append([]string{"-O2"}, linux...)},
		{"rv64-linux-Os", "riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objdump", 64, append([]string{"-Os"}, linux...)},
		{"rv32imac-O2", "riscv64-unknown-elf-gcc", "riscv64-unknown-elf-objdump", 32, append([]string{"-O2"}, bare...)},
	} {
		for _, code := range []string{"zlib", "lua"} {
			t.Run(tc.name+"-"+code, func(t *testing.T) {
				cc := testutil.RequireTool(t, tc.cc)
				objdump := testutil.RequireTool(t, tc.objdump)
				dir := t.TempDir()
				out := filepath.Join(dir, code+".elf")
				args := append([]string{"-o", out}, tc.flags...)
				if code == "zlib" {
					args = append(append(args, "-D_LARGEFILE64_SOURCE=1", "-I"+zlib), testutil.ZlibSources(t, zlib)...)
				} else {
					args = append(args, testutil.LuaIncludes(t, lua, dir)...)
					for _, s := range testutil.LuaSources(t, lua) {
						// The OS and dynamic-loading libraries need a hosted system.
						if b := filepath.Base(s); tc.xlen == 64 || b != "loslib.c" && b != "loadlib.c" && b != "liolib.c" && b != "linit.c" {
							args = append(args, s)
						}
					}
					if tc.xlen == 64 {
						args = append(args, "-DLUA_USE_LINUX")
					}
				}
				testutil.Run(t, dir, cc, args...)
				checkObjdump(t, objdump, out, tc.xlen, codeEnd(t, out)...)
			})
		}
	}
}

// codeEnd stops objdump at picolibc's __text_end: its linker script puts
// the read-only data into the same .text output section, after the code,
// and objdump would disassemble those bytes too.
func codeEnd(t *testing.T, path string) []string {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == "__text_end" {
			return []string{fmt.Sprintf("--stop-address=%#x", s.Value)}
		}
	}
	return nil
}
