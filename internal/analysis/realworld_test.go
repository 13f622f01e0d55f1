package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// sourceTree returns a code base fetched by scripts/fetch-sources.sh from
// Debian's source packages. Without it the test says plainly that it is
// skipped (or fails under STACKSCOPE_REQUIRE_TOOLS=1).
func sourceTree(t *testing.T, pkg string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "sources", pkg+"-*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			abs, _ := filepath.Abs(m)
			return abs
		}
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("source package %s missing: run scripts/fetch-sources.sh %s", pkg, pkg)
	}
	t.Skipf("SKIPPED: source package %s not fetched; run scripts/fetch-sources.sh %s", pkg, pkg)
	return ""
}

// zlibSources are zlib's library files (not its examples or contrib).
func zlibSources(t *testing.T, root string) []string {
	var out []string
	for _, name := range []string{"adler32", "compress", "crc32", "deflate", "gzclose", "gzlib", "gzread", "gzwrite", "infback", "inffast", "inflate", "inftrees", "trees", "uncompr", "zutil"} {
		p := filepath.Join(root, name+".c")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("zlib source %s missing: %v", p, err)
		}
		out = append(out, p)
	}
	return out
}

// compileEach compiles each source with -fstack-usage into dir.
func compileEach(t *testing.T, dir, cc string, flags []string, srcs []string) []string {
	var objs []string
	for _, src := range srcs {
		obj := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		args := append([]string{"-c", "-fstack-usage", "-o", obj, src}, flags...)
		testutil.Run(t, dir, cc, args...)
		objs = append(objs, obj)
	}
	return objs
}

// checkRealWorld asserts the bar: at least 99% of static frames
// equal to .su, and none smaller.
func checkRealWorld(t *testing.T, res *Result, dir string) {
	t.Helper()
	checkRealWorldAt(t, res, dir, 99)
}

// checkRealWorldAt asserts that at least minPct percent of static frames
// equal .su, and none is smaller.
func checkRealWorldAt(t *testing.T, res *Result, dir string, minPct float64) {
	t.Helper()
	c := compareWithSU(res, testutil.ParseSU(t, dir))
	sort.Strings(c.other)
	for _, m := range c.smaller {
		t.Errorf("smaller than GCC: %s", m)
	}
	if c.static < 50 {
		t.Fatalf("only %d static functions compared", c.static)
	}
	pct := 100 * float64(c.equal) / float64(c.static)
	t.Logf("%d of %d static frames equal to .su (%.1f%%); %d smaller; other differences: %v", c.equal, c.static, pct, len(c.smaller), c.other)
	if pct < minPct {
		t.Errorf("only %.1f%% of static frames equal .su, want at least %.1f%%", pct, minPct)
	}
}

func TestRealWorldZlibX86(t *testing.T) {
	root := sourceTree(t, "zlib")
	gcc := testutil.RequireTool(t, "gcc")
	for _, opt := range []string{"-O0", "-O2"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			flags := []string{opt, "-fPIC", "-D_LARGEFILE64_SOURCE=1", "-DHAVE_HIDDEN", "-I" + root}
			objs := compileEach(t, dir, gcc, flags, zlibSources(t, root))
			lib := filepath.Join(dir, "libz.so")
			testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, objs...)...)
			res, err := Run(lib, Options{NoLibraries: true}) // frames only: libraries are not compared
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			checkRealWorld(t, res, dir)
		})
	}
}

// luaSources are Lua's interpreter core and libraries (not lua.c/luac.c,
// which have their own main).
func luaSources(t *testing.T, root string) []string {
	matches, _ := filepath.Glob(filepath.Join(root, "src", "*.c"))
	var out []string
	for _, m := range matches {
		switch filepath.Base(m) {
		case "lua.c", "luac.c", "onelua.c":
			continue
		}
		out = append(out, m)
	}
	if len(out) < 20 {
		t.Fatalf("lua sources under %s: only %d files", root, len(out))
	}
	return out
}

// luaIncludes returns the include flags for Debian's Lua tree: its
// luaconf.h includes a multiarch header that Debian's build generates;
// an empty one in dir stands in for it.
func luaIncludes(t *testing.T, root, dir string) []string {
	if err := os.WriteFile(filepath.Join(dir, "lua5.4-deb-multiarch.h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"-I" + filepath.Join(root, "src"), "-I" + dir, `-DDEB_HOST_MULTIARCH="none"`}
}

func TestRealWorldLuaX86(t *testing.T) {
	root := sourceTree(t, "lua5.4")
	gcc := testutil.RequireTool(t, "gcc")
	for _, opt := range []string{"-O0", "-O2"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			flags := append([]string{opt, "-fPIC", "-DLUA_USE_LINUX"}, luaIncludes(t, root, dir)...)
			objs := compileEach(t, dir, gcc, flags, luaSources(t, root))
			lib := filepath.Join(dir, "liblua.so")
			testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm", "-ldl")...)...)
			res, err := Run(lib, Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			checkRealWorld(t, res, dir)
		})
	}
}

// TestRealWorldThumb compiles zlib and Lua for Cortex-M3 and Cortex-M4
// hard-float at -O2 and -Os (objects linked into one image with newlib)
// and compares every frame with .su.
func TestRealWorldThumb(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	zlib := sourceTree(t, "zlib")
	lua := sourceTree(t, "lua5.4")
	cpus := map[string][]string{
		"m3":  {"-mcpu=cortex-m3"},
		"m4f": {"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"},
	}
	for cpuName, cpu := range cpus {
		for _, opt := range []string{"-O2", "-Os"} {
			for _, base := range []string{"zlib", "lua"} {
				cpu, opt, base := cpu, opt, base
				t.Run(base+"-"+cpuName+opt, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					flags := append([]string{opt, "-mthumb", "-ffunction-sections"}, cpu...)
					var srcs []string
					if base == "zlib" {
						flags = append(flags, "-I"+zlib)
						srcs = zlibSources(t, zlib)
					} else {
						flags = append(flags, luaIncludes(t, lua, dir)...)
						for _, s := range luaSources(t, lua) {
							// The OS and dynamic-loading libraries need a hosted system.
							if b := filepath.Base(s); b != "loslib.c" && b != "loadlib.c" && b != "liolib.c" && b != "linit.c" {
								srcs = append(srcs, s)
							}
						}
					}
					objs := compileEach(t, dir, cc, flags, srcs)
					main := filepath.Join(dir, "main.c")
					os.WriteFile(main, []byte("int main(void) { return 0; }\n"), 0o644)
					img := filepath.Join(dir, "image.elf")
					args := append(append([]string{"--specs=nosys.specs", "-o", img, main}, cpu...), "-mthumb")
					testutil.Run(t, dir, cc, append(args, append(objs, "-lm")...)...)
					res, err := Run(img, Options{})
					if err != nil {
						t.Fatal(err)
					}
					requirePathSums(t, res)
					checkRealWorld(t, res, dir)
				})
			}
		}
	}
}

// TestRealWorldZlibMeasured: zlib (not in this repo) linked into a driver
// that measures the stack deflate and inflate really use, at every level
// and strategy. deflate calls its compressor through a function-pointer
// table and zlib's allocator through a pointer: those bounds rest on the
// address-taken set. Each bound must be at least every measured use. The
// C library's memcpy/memset/malloc/free are given frames in a
// stackscope.toml (the libc reached through them is not boundable), as a
// user would; the program is linked -z now (see TestX86LazyBinding).
func TestRealWorldZlibMeasured(t *testing.T) {
	root := sourceTree(t, "zlib")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := []string{"-O2", "-D_LARGEFILE64_SOURCE=1", "-I" + root}
	objs := compileEach(t, dir, gcc, flags, zlibSources(t, root))
	driver, _ := filepath.Abs("testdata/zlib/measure.c")
	bin := filepath.Join(dir, "measure")
	testutil.Run(t, dir, gcc, append([]string{"-O2", "-Wl,-z,now", "-I" + root, "-o", bin, driver}, objs...)...)
	cfgPath := filepath.Join(dir, "stackscope.toml")
	os.WriteFile(cfgPath, []byte(`
[[frame]]
function = "memcpy"
bytes = 256
[[frame]]
function = "memset"
bytes = 256
[[frame]]
function = "malloc"
bytes = 1024
[[frame]]
function = "free"
bytes = 1024
`), 0o644)
	cfg, err := config.Load(cfgPath, bin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(bin, Options{Entries: []string{"deflate", "inflate"}, NoLibraries: true, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	bounds := map[string]int64{}
	for _, name := range []string{"deflate", "inflate"} {
		e := entry(t, res, name)
		if !e.Bounded {
			t.Fatalf("%s not bounded: %s", name, reasonSummary(e))
		}
		if len(e.Assumptions) == 0 {
			t.Errorf("%s: expected the bound to rest on the address-taken set", name)
		}
		bounds[name] = *e.Bound
	}
	peak := map[string]int64{}
	for _, level := range []string{"0", "1", "4", "6", "9"} {
		for _, strategy := range []string{"0", "1", "2", "3", "4"} {
			out := testutil.Run(t, dir, bin, level, strategy)
			var d, i int64
			if _, err := fmt.Sscanf(out, "deflate %d inflate %d", &d, &i); err != nil {
				t.Fatalf("level %s strategy %s: %q", level, strategy, out)
			}
			peak["deflate"] = max(peak["deflate"], d)
			peak["inflate"] = max(peak["inflate"], i)
		}
	}
	for name, b := range bounds {
		t.Logf("%s: bound %d B, measured at most %d B", name, b, peak[name])
		if peak[name] == 0 || b < peak[name] {
			t.Errorf("%s: bound %d B below the measured %d B", name, b, peak[name])
		}
	}
}
