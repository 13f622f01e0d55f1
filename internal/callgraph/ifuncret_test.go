package callgraph

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestIFuncLibcResolvers surveys the resolver of every IFUNC symbol of
// the system's libc.so.6 and checks each proved target set against
// objdump: the set must be exactly the addresses the resolver's text
// loads with a 64-bit `lea X(%rip),%r64` that start a function in libc's
// symbol tables (objdump -t of the libc6-dbg file, objdump -T of libc),
// which is what glibc's resolvers return (every such address reaches a
// ret). strlen, memcpy and strchr must be proved. The unproved ones are
// logged with the reason (Debian 12: time and gettimeofday, whose
// resolvers return the vDSO's function, a loaded value).
func TestIFuncLibcResolvers(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	if _, err := os.Stat("/usr/share/doc/libc6-dbg/copyright"); err != nil {
		if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
			t.Fatal("libc6-dbg is not installed (run ./scripts/test.sh, which installs it)")
		}
		t.Skip("SKIPPED: libc6-dbg is not installed; ./scripts/test.sh installs it")
	}
	const libc = "/lib/x86_64-linux-gnu/libc.so.6"
	f, err := binfile.Open(libc)
	if err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	if f.DebugSymbols == "" {
		t.Fatalf("%s: no debug file found although libc6-dbg is installed", libc)
	}
	dir := t.TempDir()
	// Function starts, as objdump reads the symbol tables.
	starts := map[uint64]bool{}
	sym := regexp.MustCompile(`^([0-9a-f]{16}) .{6}F `)
	for _, args := range [][]string{{"-t", f.DebugSymbols}, {"-T", libc}} {
		for _, line := range strings.Split(testutil.Run(t, dir, objdump, args...), "\n") {
			if m := sym.FindStringSubmatch(line); m != nil {
				a, _ := strconv.ParseUint(m[1], 16, 64)
				starts[a] = true
			}
		}
	}
	lea := regexp.MustCompile(`\slea\s+-?0x[0-9a-f]+\(%rip\),%r(ax|bx|cx|dx|si|di|bp|sp|8|9|1[0-5])\s+# ([0-9a-f]+)`)
	g := &Graph{Arch: binfile.ArchX86_64, Decoder: x86.Decoder{}}
	m := &Module{File: f}
	proved, total, nProved := map[string]bool{}, 0, 0
	for fi := range f.Functions {
		fn := &f.Functions[fi]
		if !fn.IFunc {
			continue
		}
		total++
		r := g.resolverReturns(m, fi)
		if !r.Proved {
			t.Logf("not proved: %s", r.Why)
			continue
		}
		nProved++
		names := append([]string{fn.Name, fn.LinkName}, fn.Aliases...)
		for _, n := range names {
			proved[n] = true
		}
		want := map[uint64]bool{}
		text := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn",
			"--start-address="+strconv.FormatUint(fn.Addr, 10), "--stop-address="+strconv.FormatUint(fn.Addr+fn.Size, 10), libc)
		for _, line := range strings.Split(text, "\n") {
			if m := lea.FindStringSubmatch(line); m != nil {
				a, _ := strconv.ParseUint(m[2], 16, 64)
				if starts[a] {
					want[a] = true
				}
			}
		}
		if got := r.Targets; !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Errorf("%s: proved targets %x, objdump's lea'd function starts %x", fn.Name, got, slices.Sorted(maps.Keys(want)))
		}
	}
	t.Logf("%d of %d resolvers proved", nProved, total)
	for _, name := range []string{"strlen", "memcpy", "strchr"} {
		if !proved[name] {
			t.Errorf("%s's resolver is not proved", name)
		}
	}
}
