package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildNest compiles testdata/riscv/nest.c for RV32IMAC with picolibc and
// its own _start into dir, with -fstack-usage, and returns the image and
// GCC's frames.
func buildNest(t *testing.T, dir string, flags ...string) (string, []testutil.SULine) {
	t.Helper()
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	src, _ := filepath.Abs(filepath.Join("testdata", "riscv", "nest.c"))
	elf := filepath.Join(dir, "nest.elf")
	args := append([]string{"-march=rv32imac", "-mabi=ilp32", "-g", "-fstack-usage", "--specs=picolibc.specs", "-nostartfiles", "-c", "-o", "nest.o", src}, flags...)
	testutil.Run(t, dir, cc, args...)
	testutil.Run(t, dir, cc, "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs", "-nostartfiles", "-o", elf, "nest.o")
	return elf, testutil.ParseSU(t, dir)
}

// TestRISCVMainStackTotal: the main-stack total of nest.c (a deep path
// from main; a timer, an external, a software and an exception handler in
// a vectored mtvec table, all __attribute__((interrupt))) at -O0, -O2 and
// -Os equals what .su and the nesting rule give:
//   - every static frame equals .su (an interrupt function's saves of
//     the caller-saved registers included), and each handler's bound is
//     the sum of its .su frames along its deepest calls;
//   - nothing re-enabling (-DNO_NEST): reset path + the heaviest handler;
//   - ext_isr (through enable_nesting) and soft_isr set MIE again: they
//     are named, with the function and the address of the write, and the
//     total is NOT BOUNDED (each can nest on itself), at least the reset
//     path + each of them once + the heaviest other handler; timer_isr
//     (csrci), exc_isr (csrs of 0x1800) and main (not a handler) are not
//     named;
//   - one group of the two: reset + the heavier + the heaviest other;
//   - ext_isr at a declared depth of 2 and soft_isr in a group of its
//     own: reset + 2 ext_isr + soft_isr + the heaviest other.
func TestRISCVMainStackTotal(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		for _, nest := range []bool{true, false} {
			opt, nest := opt, nest
			name := opt
			flags := []string{opt}
			if !nest {
				name += "-NO_NEST"
				flags = append(flags, "-DNO_NEST")
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				elf, su := buildNest(t, dir, flags...)
				f := suFrames(su)
				checkedFrames := false
				reset := f["main"] + f["level1"] + f["level2"] + f["level3"]
				ext := f["ext_isr"] + f["level2"] + f["level3"]
				if nest {
					ext = f["ext_isr"] + max(f["enable_nesting"], f["level2"]+f["level3"])
				}
				handlers := map[string]int64{
					"timer_isr":   f["timer_isr"] + f["tick_work"],
					"ext_isr":     ext,
					"soft_isr":    f["soft_isr"] + max(f["tick_work"], f["level3"]),
					"exc_isr":     f["exc_isr"],
					"default_isr": 0, // assembly: j default_isr
				}
				top := max(handlers["timer_isr"], handlers["exc_isr"])
				run := func(toml string) *Interrupts {
					t.Helper()
					var cfg *config.Config
					if toml != "" {
						p := filepath.Join(dir, "stackscope.toml")
						os.WriteFile(p, []byte(toml), 0o644)
						c, err := config.Load(p, elf)
						if err != nil {
							t.Fatal(err)
						}
						cfg = c
					}
					res, err := Run(elf, Options{Config: cfg})
					if err != nil {
						t.Fatal(err)
					}
					requirePathSums(t, res)
					if !checkedFrames {
						// Every static frame, the interrupt functions' saves included.
						c := compareWithSU(res, su)
						requireAllEqual(t, c)
						if c.static < 10 {
							t.Fatalf("only %d static frames compared with .su", c.static)
						}
						checkedFrames = true
					}
					in := res.Interrupts
					if in == nil || in.Model != ModelRISCV {
						t.Fatalf("no RISC-V main-stack total (%+v)", in)
					}
					if in.Reset == nil || *in.Reset != reset {
						t.Errorf("reset path %s, want main+level1+level2+level3 from .su = %d", show(in.Reset), reset)
					}
					seen := map[string]bool{}
					for _, h := range in.Handlers {
						w, ok := handlers[h.Name]
						if !ok {
							t.Errorf("%s: a handler in the total, but not one of the fixture's", h.Name)
							continue
						}
						seen[h.Name] = true
						if !h.Bounded || *h.Bound != w {
							t.Errorf("%s: bound %s, want %d from .su", h.Name, show(h.Bound), w)
						}
					}
					if len(seen) != len(handlers) {
						t.Errorf("handlers %v, want all of %v", seen, handlers)
					}
					return in
				}
				wantTotal := func(in *Interrupts, want int64, why string) {
					t.Helper()
					if !in.Bounded || in.Total == nil || *in.Total != want {
						t.Errorf("%s: total %s (bounded %v, unbounded %v), want %d", why, show(in.Total), in.Bounded, in.Unbounded, want)
					}
				}

				in := run("")
				named := map[string]Reenable{}
				for _, h := range in.Handlers {
					if h.Reenables != nil {
						named[h.Name] = *h.Reenables
					}
				}
				if !nest {
					if len(named) != 0 {
						t.Errorf("handlers named as setting MIE again: %v, want none", named)
					}
					wantTotal(in, reset+max(handlers["ext_isr"], handlers["soft_isr"], top), "nothing re-enables")
					return
				}
				if len(named) != 2 {
					t.Errorf("handlers named as setting MIE again: %v, want ext_isr and soft_isr", named)
				}
				if r := named["ext_isr"]; r.Function != "enable_nesting" || strings.Join(r.Path, " ") != "ext_isr enable_nesting" || r.Addr == 0 || r.Line == 0 {
					t.Errorf("ext_isr re-enables %+v, want in enable_nesting, called from ext_isr, with address and line", r)
				}
				if r := named["soft_isr"]; r.Function != "soft_isr" || r.Addr == 0 {
					t.Errorf("soft_isr re-enables %+v, want in soft_isr itself", r)
				}
				least := reset + handlers["ext_isr"] + handlers["soft_isr"] + top
				if in.Bounded || in.Total != nil || in.TotalAtLeast != least {
					t.Errorf("undeclared nesting: bounded %v %s, at least %d; want NOT BOUNDED, at least %d", in.Bounded, show(in.Total), in.TotalAtLeast, least)
				}
				for _, h := range []string{"ext_isr", "soft_isr"} {
					found := false
					for _, r := range in.Reasons {
						found = found || strings.HasPrefix(r, h+" sets mstatus.MIE again") && strings.Contains(r, `[[recursion]] function = "`+h+`"`)
					}
					if !found {
						t.Errorf("no reason naming %s with its fix: %q", h, in.Reasons)
					}
				}

				in = run("[interrupts]\ngroups = [[\"ext_isr\", \"soft_isr\"]]\n")
				wantTotal(in, reset+max(handlers["ext_isr"], handlers["soft_isr"])+top, "one group")

				in = run("[interrupts]\ngroups = [[\"soft_isr\"]]\n\n[[recursion]]\nfunction = \"ext_isr\"\ndepth = 2\n")
				wantTotal(in, reset+2*handlers["ext_isr"]+handlers["soft_isr"]+top, "ext_isr 2 deep, soft_isr grouped")
			})
		}
	}
}
