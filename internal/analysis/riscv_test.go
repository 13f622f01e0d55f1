package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/testutil"
)

// riscvTargets are the RISC-V targets the fixtures are built for.
var riscvTargets = []struct {
	name  string
	arch  string
	flags []string
}{
	{"rv32imac", "riscv32", []string{"-march=rv32imac", "-mabi=ilp32"}},
	{"rv64imac", "riscv64", []string{"-march=rv64imac", "-mabi=lp64"}},
}

// riscvOpts are the optimisation levels; -msave-restore replaces
// prologues and epilogues with calls to libgcc's millicode.
var riscvOpts = [][]string{{"-O0"}, {"-O2"}, {"-Os"}, {"-Os", "-msave-restore"}}

// buildRISCV compiles testdata/riscv/frames.c with -fstack-usage into dir
// and links it with picolibc.
func buildRISCV(t *testing.T, dir string, flags []string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	src, _ := filepath.Abs(filepath.Join("testdata", "riscv", "frames.c"))
	testutil.Run(t, dir, cc, append([]string{"-g", "-fstack-usage", "--specs=picolibc.specs", "-c", "-o", "frames.o", src}, flags...)...)
	testutil.Run(t, dir, cc, append([]string{"--specs=picolibc.specs", "-o", "frames.elf", "frames.o"}, flags...)...)
	return filepath.Join(dir, "frames.elf")
}

// TestRISCVFramesMatchStackUsage: every static frame of the fixture equals
// GCC's .su (none below it, none static where GCC says dynamic); the bound
// of a call chain is the sum of the .su frames along its deepest path; a
// tail call adds the callee's frame to what the caller kept (nothing);
// recursion, a VLA and alloca are reasons naming their function.
func TestRISCVFramesMatchStackUsage(t *testing.T) {
	for _, tg := range riscvTargets {
		for _, opt := range riscvOpts {
			tg, opt := tg, opt
			t.Run(tg.name+strings.Join(opt, ""), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				elf := buildRISCV(t, dir, append(append([]string{}, tg.flags...), opt...))
				entries := []string{"chain", "tail", "sw", "big", "huge", "odd", "rec", "vla", "use_alloca"}
				res, err := Run(elf, Options{Entries: entries})
				if err != nil {
					t.Fatal(err)
				}
				if res.Arch != tg.arch {
					t.Fatalf("arch %q, want %q", res.Arch, tg.arch)
				}
				su := testutil.ParseSU(t, dir)
				c := compareWithSU(res, su)
				if strings.Contains(strings.Join(opt, ""), "save-restore") {
					c = explainSaveRestore(t, elf, c)
				}
				requireAllEqual(t, c)
				if c.static < 15 {
					t.Fatalf("only %d static functions compared; the fixture did not build as expected", c.static)
				}
				t.Logf("%d of %d static frames equal to .su", c.equal, c.static)
				requirePathSums(t, res)

				f := suFrames(su)
				byName := map[string]Entry{}
				for _, e := range res.Entries {
					byName[e.Name] = e
				}
				wantBound := func(name string, want int64) {
					t.Helper()
					e, ok := byName[name]
					switch {
					case !ok:
						t.Errorf("%s: no entry", name)
					case !e.Bounded:
						t.Errorf("%s: not bounded (%+v), want %d", name, e.Reasons, want)
					case *e.Bound != want:
						t.Errorf("%s: bound %d, want %d (path %v)", name, *e.Bound, want, e.Path)
					}
				}
				deep := f["top"] + f["mid"] + f["leaf"]
				wantBound("chain", f["chain"]+max(deep, f["shallow"]+f["leaf"]))
				wantBound("tail", frameOf(res, "tail")+f["leaf"])
				wantBound("sw", f["sw"]+max(f["leaf"], f["mid"]+f["leaf"]))
				for _, name := range []string{"big", "huge", "odd"} {
					wantBound(name, f[name])
				}
				wantReason := func(name, kind string) {
					t.Helper()
					e := byName[name]
					if e.Bounded {
						t.Errorf("%s: bounded at %d, want a %s reason", name, *e.Bound, kind)
						return
					}
					for _, r := range e.Reasons {
						if r.Kind == kind && r.Function == name && r.Addr != 0 {
							return
						}
					}
					t.Errorf("%s: reasons %+v, want %s in %s with its address", name, e.Reasons, kind, name)
				}
				wantReason("rec", bound.ReasonRecursion)
				wantReason("vla", bound.ReasonDynamic)
				wantReason("use_alloca", bound.ReasonDynamic)
			})
		}
	}
}

// frameOf is the analyzer's static frame of the function name (-1: none).
func frameOf(res *Result, name string) int64 {
	for _, f := range res.Functions {
		if f.Name == name && f.Frame != nil {
			return *f.Frame
		}
	}
	return -1
}

var (
	suDiffRE   = regexp.MustCompile(`^(\S+): \.su says static (\d+), analyzer says (\d+)$`)
	saveCallRE = regexp.MustCompile(`jal\s+t0,[0-9a-f]+ <(__riscv_save_\d+)>`)
	spAllocRE  = regexp.MustCompile(`add\s+sp,sp,-(\d+)`)
)

// explainSaveRestore keeps, of the differences with .su in a
// -msave-restore build, those objdump does not explain. Two are expected:
//   - A function that ends in a sibling call and saves nothing (tail: add
//     a0,a0,1; j leaf) has no frame, where GCC's .su still counts the 16
//     bytes of the save area it planned: the analyzer's 0 stands when the
//     function's code never names sp.
//   - libgcc's RV32 __riscv_save_4..7 (and RV64's save_2..11) allocate
//     their largest area first (addi sp,sp,-64) and give back what the
//     caller does not need (sub sp,sp,t1): for two instructions SP is up
//     to that allocation below the caller's, and a trap taken there runs
//     below it. .su counts what stays; the analyzer counts the deepest SP,
//     at most the routine's first allocation minus the 16 bytes any save
//     routine keeps (ra and s0) above .su.
func explainSaveRestore(t *testing.T, elf string, c suComparison) suComparison {
	t.Helper()
	objdump := testutil.RequireTool(t, "riscv64-unknown-elf-objdump")
	disasm := func(fn string) string {
		return testutil.Run(t, filepath.Dir(elf), objdump, "-d", "--disassemble="+fn, elf)
	}
	explained := func(msg string) bool {
		m := suDiffRE.FindStringSubmatch(msg)
		if m == nil {
			return false
		}
		su, _ := strconv.ParseInt(m[2], 10, 64)
		got, _ := strconv.ParseInt(m[3], 10, 64)
		code := disasm(m[1])
		body := code[strings.Index(code, "<"+m[1]+">:"):]
		if got == 0 && su == 16 && !strings.Contains(body, "sp") {
			return true
		}
		sc := saveCallRE.FindStringSubmatch(body)
		if got <= su || sc == nil {
			return false
		}
		alloc := spAllocRE.FindStringSubmatch(disasm(sc[1]))
		if alloc == nil {
			return false
		}
		peak, _ := strconv.ParseInt(alloc[1], 10, 64)
		return got-su <= peak-16
	}
	var out suComparison
	out.static, out.equal = c.static, c.equal
	for _, m := range c.smaller {
		if explained(m) {
			continue
		}
		out.smaller = append(out.smaller, m)
	}
	for _, m := range c.other {
		if explained(m) {
			continue
		}
		out.other = append(out.other, m)
	}
	if n := len(c.smaller) + len(c.other) - len(out.smaller) - len(out.other); n > 0 {
		t.Logf("%s", fmt.Sprintf("%d differences with .su explained by -msave-restore (see explainSaveRestore)", n))
	}
	return out
}

// TestRISCVResetEntry: picolibc's _start sets SP to the stack top (la sp,
// __stack); the analysis takes that for a reset of the main stack, and the
// entry's path from there runs through _cstart into main.
func TestRISCVResetEntry(t *testing.T) {
	for _, tg := range riscvTargets {
		tg := tg
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			elf := buildRISCV(t, dir, append(append([]string{}, tg.flags...), "-O2"))
			res, err := Run(elf, Options{})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			var start, main *Entry
			for i := range res.Entries {
				switch res.Entries[i].Name {
				case "_start":
					start = &res.Entries[i]
				case "main":
					main = &res.Entries[i]
				}
			}
			if start == nil || main == nil {
				t.Fatalf("entries %v, want _start and main", res.Entries)
			}
			r := start.AfterReset
			if r == nil {
				t.Fatalf("_start: no reset (reasons %+v)", start.Reasons)
			}
			if r.Function != "_start" || r.Addr != res.File.Entry {
				t.Errorf("reset in %s at %#x, want _start at the ELF entry %#x", r.Function, r.Addr, res.File.Entry)
			}
			if len(r.Path) < 3 || r.Path[0] != "_start" || !strings.Contains(strings.Join(r.Path, " "), "main") {
				t.Errorf("path after the reset %v, want _start ... main", r.Path)
			}
			if start.AtLeast < main.AtLeast {
				t.Errorf("_start reaches at least %d, less than main's %d", start.AtLeast, main.AtLeast)
			}
		})
	}
}

// TestRealWorldRISCV compiles zlib and Lua for RV32IMAC and RV64IMAC at
// -O2 and -Os (objects linked into one image with picolibc) and compares
// every frame with .su: at least 99% equal, none smaller.
func TestRealWorldRISCV(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	zlib := sourceTree(t, "zlib")
	lua := sourceTree(t, "lua5.4")
	for _, tg := range riscvTargets {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			for _, base := range []string{"zlib", "lua"} {
				tg, opt, base := tg, opt, base
				t.Run(base+"-"+tg.name+opt, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					flags := append([]string{opt, "-ffunction-sections", "--specs=picolibc.specs"}, tg.flags...)
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
					args := append([]string{"--specs=picolibc.specs", "--oslib=semihost", "-Wl,--no-gc-sections", "-Wl,--defsym=__flash_size=0x1000000", "-Wl,--defsym=__ram=0x81000000", "-Wl,--defsym=__ram_size=0x1000000", "-o", img, main}, tg.flags...)
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

// TestRISCVLinuxProgram: the fixture built as an RV64 Linux program
// (riscv64-linux-gnu-gcc, glibc, -z now): frames equal .su, the chain's
// bound is the sum along its path, and a call through the PLT reaches
// the imported function by name (not followed: NoLibraries).
func TestRISCVLinuxProgram(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-linux-gnu-gcc")
	for _, opt := range []string{"-O0", "-O2"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src, _ := filepath.Abs(filepath.Join("testdata", "riscv", "frames.c"))
			bin := filepath.Join(dir, "frames")
			testutil.Run(t, dir, cc, opt, "-fstack-usage", "-Wl,-z,now", "-o", bin, src)
			res, err := Run(bin, Options{NoLibraries: true, Entries: []string{"chain", "use_alloca"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Arch != "riscv64" {
				t.Fatalf("arch %q", res.Arch)
			}
			su := testutil.ParseSU(t, dir)
			c := compareWithSU(res, su)
			requireAllEqual(t, c)
			if c.static < 15 {
				t.Fatalf("only %d static functions compared", c.static)
			}
			requirePathSums(t, res)
			f := suFrames(su)
			chain := res.Entries[0]
			if want := f["chain"] + max(f["top"]+f["mid"]+f["leaf"], f["shallow"]+f["leaf"]); !chain.Bounded || *chain.Bound != want {
				t.Errorf("chain: %v %s, want bounded %d", chain.Bounded, show(chain.Bound), want)
			}
			found := false
			for _, r := range res.Entries[1].Reasons {
				found = found || r.Kind == bound.ReasonExternal && r.Function == "memset"
			}
			if !found {
				t.Errorf("use_alloca: reasons %+v, want memset external (called through the PLT)", res.Entries[1].Reasons)
			}
		})
	}
}

// TestRISCVTrapHandlers: the handlers of testdata/riscv/traps.c are
// entries of kind "trap": the interrupt functions (they return with mret)
// and default_isr, found only in the vectored table main writes to mtvec.
// A trap pushes nothing on RISC-V, so each bound is the sum of the .su
// frames along its path; the handler that sets mstatus.MIE again (ext_isr)
// is named as such in the main-stack total, and no other.
func TestRISCVTrapHandlers(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	for _, tg := range riscvTargets {
		for _, opt := range []string{"-O2", "-Os"} {
			tg, opt := tg, opt
			t.Run(tg.name+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				src, _ := filepath.Abs(filepath.Join("testdata", "riscv", "traps.c"))
				elf := filepath.Join(dir, "traps.elf")
				testutil.Run(t, dir, cc, append([]string{opt, "-fstack-usage", "--specs=picolibc.specs", "-o", elf, src}, tg.flags...)...)
				res, err := Run(elf, Options{})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				f := suFrames(testutil.ParseSU(t, dir))
				want := map[string]int64{
					"timer_isr":   f["timer_isr"] + f["work"],
					"ext_isr":     f["ext_isr"] + f["deep"] + f["work"],
					"trap_entry":  f["trap_entry"],
					"default_isr": 0,
				}
				for _, e := range res.Entries {
					w, ok := want[e.Name]
					if !ok {
						if e.Kind == "trap" {
							t.Errorf("%s: a trap entry, but not a handler", e.Name)
						}
						continue
					}
					delete(want, e.Name)
					if e.Kind != "trap" || !e.Bounded || *e.Bound != w {
						t.Errorf("%s: kind %q, bounded %v %s, want trap bounded at %d", e.Name, e.Kind, e.Bounded, show(e.Bound), w)
					}
				}
				for name := range want {
					t.Errorf("%s: not an entry", name)
				}
				var named []string
				if res.Interrupts != nil {
					for _, h := range res.Interrupts.Handlers {
						if h.Reenables != nil {
							named = append(named, h.Name)
						}
					}
				}
				if len(named) != 1 || named[0] != "ext_isr" {
					t.Errorf("handlers named as setting MIE again: %v, want [ext_isr]", named)
				}
			})
		}
	}
}
