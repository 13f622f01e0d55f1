package analysis

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// crossTargets are the 64-bit cross builds of the real-world comparison:
// AArch64 and RV64 Linux shared objects (glibc's cross compilers) and
// RV64GC firmware linked with picolibc.
var crossTargets = []struct {
	name, cc string
	flags    []string
	firmware bool
}{
	{"arm64-linux", "aarch64-linux-gnu-gcc", []string{"-fPIC"}, false},
	{"rv64-linux", "riscv64-linux-gnu-gcc", []string{"-fPIC"}, false},
	{"rv64gc-elf", "riscv64-unknown-elf-gcc", []string{"-march=rv64gc", "-mabi=lp64d"}, true},
}

// buildCrossReal compiles zlib or Lua with -fstack-usage for one cross
// target into dir and links it: a shared object for Linux, an image with
// picolibc for firmware.
func buildCrossReal(t *testing.T, dir, cc, opt string, target []string, firmware bool, base string) string {
	t.Helper()
	flags := append([]string{opt}, target...)
	if firmware {
		flags = append(flags, "-ffunction-sections", "--specs=picolibc.specs")
	}
	var srcs []string
	if base == "zlib" {
		root := sourceTree(t, "zlib")
		flags = append(flags, "-D_LARGEFILE64_SOURCE=1", "-I"+root)
		srcs = zlibSources(t, root)
	} else {
		root := sourceTree(t, "lua5.4")
		flags = append(flags, luaIncludes(t, root, dir)...)
		for _, s := range luaSources(t, root) {
			// The OS and dynamic-loading libraries need a hosted system.
			if b := filepath.Base(s); !firmware || b != "loslib.c" && b != "loadlib.c" && b != "liolib.c" && b != "linit.c" {
				srcs = append(srcs, s)
			}
		}
		if !firmware {
			flags = append(flags, "-DLUA_USE_LINUX")
		}
	}
	objs := compileEach(t, dir, cc, flags, srcs)
	if !firmware {
		lib := filepath.Join(dir, "lib"+base+".so")
		testutil.Run(t, dir, cc, append([]string{"-shared", "-o", lib}, append(objs, "-lm")...)...)
		return lib
	}
	main := filepath.Join(dir, "main.c")
	os.WriteFile(main, []byte("int main(void) { return 0; }\n"), 0o644)
	img := filepath.Join(dir, "image.elf")
	args := append([]string{"--specs=picolibc.specs", "--oslib=semihost", "-Wl,--no-gc-sections", "-Wl,--defsym=__flash_size=0x1000000", "-Wl,--defsym=__ram=0x81000000", "-Wl,--defsym=__ram_size=0x1000000", "-o", img, main}, target...)
	testutil.Run(t, dir, cc, append(args, append(objs, "-lm")...)...)
	return img
}

// TestRealWorldCross64 compiles zlib and Lua for AArch64 and RV64 Linux
// and for RV64GC firmware at -O0, -O2 and -Os and compares every frame
// with .su: at least 99.5% equal, none smaller.
func TestRealWorldCross64(t *testing.T) {
	for _, tg := range crossTargets {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			for _, base := range []string{"zlib", "lua"} {
				tg, opt, base := tg, opt, base
				t.Run(base+"-"+tg.name+opt, func(t *testing.T) {
					t.Parallel()
					cc := testutil.RequireTool(t, tg.cc)
					dir := t.TempDir()
					bin := buildCrossReal(t, dir, cc, opt, tg.flags, tg.firmware, base)
					res, err := Run(bin, Options{NoLibraries: true})
					if err != nil {
						t.Fatal(err)
					}
					requirePathSums(t, res)
					checkRealWorldAt(t, res, dir, 99.5)
				})
			}
		}
	}
}
