package callgraph

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
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
		names := append([]string{fn.Name(), fn.LinkName}, fn.Aliases...)
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
			t.Errorf("%s: proved targets %x, objdump's lea'd function starts %x", fn.Name(), got, slices.Sorted(maps.Keys(want)))
		}
	}
	t.Logf("%d of %d resolvers proved", nProved, total)
	for _, name := range []string{"strlen", "memcpy", "strchr"} {
		if !proved[name] {
			t.Errorf("%s's resolver is not proved", name)
		}
	}
}

// TestIFuncResolverValues: a program calls three GNU ifuncs of a library
// built at test time (testdata/ifunc, at -O0 and -O2, the program linked
// lazily). resolve_a returns one of two constants by a condition: the
// call goes to both, a_small and the deep a_deep. resolve_b returns the
// pointer a global holds, set at run time, else b_mentioned: the call is
// unresolved, not linked to b_mentioned nor assumed to go to the
// program's address-taken set (cmp); a run shows it goes to b_real,
// which resolve_b's code never mentions (the functions whose addresses
// it computes, what calls of an ifunc were linked to before, miss it).
// resolve_c computes c_unused's address into a global but returns
// c_impl: the call goes to c_impl alone.
func TestIFuncResolverValues(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	src, err := filepath.Abs("testdata/ifunc")
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			lib := filepath.Join(dir, "libifx.so")
			prog := filepath.Join(dir, "main")
			testutil.Run(t, dir, gcc, opt, "-fPIC", "-shared", "-o", lib, filepath.Join(src, "lib.c"))
			testutil.Run(t, dir, gcc, "-O2", "-o", prog, filepath.Join(src, "main.c"), "-L"+dir, "-lifx", "-Wl,-rpath,"+dir, "-Wl,-z,lazy")
			if out := testutil.Run(t, dir, prog); !strings.Contains(out, "b_real") {
				t.Fatalf("the run did not reach b_real (output %q): the fixture does not do what it says", out)
			}
			// The call sites of fa, fb and fc in main, as objdump shows them.
			sites := map[string]uint64{}
			call := regexp.MustCompile(`^\s*([0-9a-f]+):\s+call\s+[0-9a-f]+ <(f[abc])@plt>`)
			inMain := false
			for _, line := range strings.Split(testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", prog), "\n") {
				if strings.HasSuffix(line, ">:") {
					inMain = strings.HasSuffix(line, " <main>:")
				}
				if m := call.FindStringSubmatch(line); inMain && m != nil {
					sites[m[2]], _ = strconv.ParseUint(m[1], 16, 64)
				}
			}
			if len(sites) != 3 {
				t.Fatalf("main's calls of fa, fb, fc in objdump's text: %v", sites)
			}
			f, err := binfile.Open(prog)
			if err != nil {
				t.Fatal(err)
			}
			g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16})
			g.Resolve()
			g.ModelRuntime()
			var main *Node
			for _, id := range g.NodesNamed("main") {
				if g.Nodes[id].Module == g.Modules[0] {
					main = g.Nodes[id]
				}
			}
			if main == nil {
				t.Fatal("no node for main")
			}
			targets := func(site uint64) []string {
				var names []string
				for _, e := range main.Edges {
					// (The lazy slot's first call also goes to ld.so's
					// resolver: an edge of another method.)
					if e.Site == site && e.Method == MethodIfunc {
						names = append(names, g.Nodes[e.To].Name())
					}
				}
				slices.Sort(names)
				return names
			}
			unresolved := func(site uint64) bool {
				return slices.ContainsFunc(main.Unresolved, func(cs frame.CallSite) bool { return cs.Addr == site })
			}
			if got := targets(sites["fa"]); !slices.Equal(got, []string{"a_deep", "a_small"}) || unresolved(sites["fa"]) {
				t.Errorf("fa's call at %#x: targets %v (unresolved %v), want a_deep and a_small", sites["fa"], got, unresolved(sites["fa"]))
			}
			if slices.ContainsFunc(main.Assumed, func(a Assumption) bool { return a.Site == sites["fb"] }) {
				t.Errorf("fb's call at %#x is assumed to go to an address-taken set (main's own cmp): b_real is not in it", sites["fb"])
			}
			if got := targets(sites["fb"]); len(got) > 0 || !unresolved(sites["fb"]) {
				t.Errorf("fb's call at %#x: targets %v (unresolved %v), want it unresolved: resolve_b returns a loaded pointer", sites["fb"], got, unresolved(sites["fb"]))
			}
			if got := targets(sites["fc"]); !slices.Equal(got, []string{"c_impl"}) || unresolved(sites["fc"]) {
				t.Errorf("fc's call at %#x: targets %v (unresolved %v), want c_impl alone", sites["fc"], got, unresolved(sites["fc"]))
			}
			// What the resolvers' code mentions: b_real is not among
			// resolve_b's, c_unused is among resolve_c's.
			var m *Module
			for _, mod := range g.Modules {
				if mod.Name == "libifx.so" {
					m = mod
				}
			}
			if m == nil {
				t.Fatal("libifx.so not loaded")
			}
			mentions := func(resolver string) []string {
				fn, ok := m.File.Lookup(resolver)
				if !ok {
					t.Fatalf("no %s in libifx.so", resolver)
				}
				var names []string
				for _, ref := range g.analyzeFunction(m.File, fn).Refs {
					if ri, ok := m.File.FunctionIndex(ref); ok {
						names = append(names, m.File.Functions[ri].Name())
					}
				}
				return names
			}
			if b := mentions("resolve_b"); slices.Contains(b, "b_real") || !slices.Contains(b, "b_mentioned") {
				t.Errorf("resolve_b mentions %v: want b_mentioned and not b_real, where the run went", b)
			}
			if c := mentions("resolve_c"); !slices.Contains(c, "c_unused") {
				t.Errorf("resolve_c mentions %v: want c_unused among them", c)
			}
		})
	}
}

// TestIFuncResolverShapes asks the value analysis what each resolver of
// testdata/ifuncret.S (assembled at test time) can return: the
// implementations, by name, or nil when it must not be proved.
func TestIFuncResolverShapes(t *testing.T) {
	f := asmLib(t, "ifuncret")
	g := &Graph{Arch: binfile.ArchX86_64, Decoder: x86.Decoder{}}
	m := &Module{File: f}
	for _, c := range []struct {
		resolver string
		want     []string
	}{
		{"r_cmov", []string{"impl2", "impl3"}},
		{"r_tail", []string{"impl1", "impl2", "impl3"}},
		{"r_tail2", nil},
		{"r_null", []string{"impl1"}},
		{"r_call", []string{"impl1"}},
		{"r_clobber", nil},
		{"r_result", nil},
		{"r_mid", nil},
		{"r_indirect", nil},
		{"r_spill", nil},
		{"r_lea32", nil},
		{"r_add", nil},
		{"r_loop", []string{"impl1", "impl2"}},
		{"r_falls", nil},
		{"r_retaddr", nil},
		{"r_push", nil},
		{"r_inner", nil},
		{"r_frame", []string{"impl2"}},
	} {
		fn, ok := f.Lookup(c.resolver)
		if !ok {
			t.Fatalf("no %s", c.resolver)
		}
		fi, _ := f.FunctionIndex(fn.Addr)
		r := g.resolverReturns(m, fi)
		var got []string
		for _, a := range r.Targets {
			ti, _ := f.FunctionIndex(a)
			got = append(got, f.Functions[ti].Name())
		}
		switch {
		case c.want == nil && r.Proved:
			t.Errorf("%s: proved %v, want not proved", c.resolver, got)
		case c.want == nil && r.Why == "":
			t.Errorf("%s: not proved without a reason", c.resolver)
		case c.want != nil && (!r.Proved || !slices.Equal(got, c.want)):
			t.Errorf("%s: %v (proved %v: %s), want %v", c.resolver, got, r.Proved, r.Why, c.want)
		}
		t.Logf("%s: %v %s", c.resolver, got, r.Why)
	}
}
