package analysis

import (
	"debug/elf"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// ldso returns the graph's ld.so module, skipping when its debug symbols
// (libc6-dbg) do not name __rtld_malloc (before glibc 2.35, or none).
func ldso(t *testing.T, res *Result) *callgraph.Module {
	t.Helper()
	requireLibcDebug(t, res)
	for _, m := range res.Graph.Modules[1:] {
		if strings.HasPrefix(m.Name, "ld-linux") {
			if _, ok := m.File.Lookup("__rtld_malloc_init_real"); !ok {
				t.Skipf("SKIPPED: %s has no __rtld_malloc_init_real (an older glibc, or no debug symbols)", m.File.Path)
			}
			return m
		}
	}
	t.Fatalf("no ld.so among the modules")
	return nil
}

// objectAddr is the address of m's data symbol name.
func objectAddr(t *testing.T, m *callgraph.Module, name string) uint64 {
	t.Helper()
	for _, s := range m.File.Symbols() {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			return s.Value
		}
	}
	t.Fatalf("%s has no symbol %s", m.Name, name)
	return 0
}

// siteTargets returns the methods of node id's edges at site and the
// nodes its glibc-model edges' hubs go to.
func siteTargets(res *Result, id int, site uint64) (methods []callgraph.Method, targets []int) {
	g := res.Graph
	for _, e := range g.Nodes[id].Edges {
		if e.Site != site {
			continue
		}
		methods = append(methods, e.Method)
		if e.Method == callgraph.MethodGlibcModel {
			for _, he := range g.Nodes[e.To].Edges {
				targets = append(targets, he.To)
			}
		}
	}
	return methods, targets
}

// TestRtldMalloc: _dl_lookup_symbol_x's `call *__rtld_malloc(%rip)` (the
// site found by the word its operand names, from ld.so's debug symbols)
// goes to ld.so's __minimal_malloc and the malloc a lookup from the
// program finds: libc's for testdata/x86/libcmodel.c, the program's own
// for testdata/x86/ownmalloc.c (which defines malloc with an 8 KB frame,
// GCC's .su says how much: the bound from _dl_lookup_symbol_x reaches at
// least that), and to nothing else (no address-taken set). With --strict
// the call is not modelled.
func TestRtldMalloc(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	for _, c := range []struct {
		src     string
		ownHeap bool
	}{{"libcmodel.c", false}, {"ownmalloc.c", true}} {
		src, _ := filepath.Abs("testdata/x86/" + c.src)
		prog := filepath.Join(dir, strings.TrimSuffix(c.src, ".c"))
		testutil.Run(t, dir, gcc, "-O1", "-fstack-usage", "-Wl,-z,now", "-o", prog, src)
		res, err := Run(prog, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ld := ldso(t, res)
		g := res.Graph
		word := objectAddr(t, ld, "__rtld_malloc")
		lookups := g.NodesNamed("_dl_lookup_symbol_x")
		if len(lookups) == 0 {
			t.Fatalf("%s: no _dl_lookup_symbol_x in the graph", c.src)
		}
		lookup := lookups[0]
		var sites []uint64
		for _, cs := range g.Nodes[lookup].Frame.Calls {
			if cs.Kind.Indirect() && cs.HasSlot && cs.Slot == word {
				sites = append(sites, cs.Addr)
			}
		}
		if len(sites) == 0 {
			t.Fatalf("%s: _dl_lookup_symbol_x has no call through __rtld_malloc (%#x): the test tests nothing", c.src, word)
		}
		var own int
		for _, site := range sites {
			methods, targets := siteTargets(res, lookup, site)
			if len(methods) != 1 || methods[0] != callgraph.MethodGlibcModel {
				t.Errorf("%s: _dl_lookup_symbol_x's call at %#x through __rtld_malloc has edges %v, want one glibc-model edge", c.src, site, methods)
				continue
			}
			var names []string
			for _, to := range targets {
				n := g.Nodes[to]
				names = append(names, g.QualifiedName(to))
				if n.Module == g.Modules[0] && n.Named("malloc") {
					own = to
				}
			}
			slices.Sort(names)
			want := []string{"__minimal_malloc (" + ld.Name + ")", "malloc"}
			if !c.ownHeap {
				want[1] = "malloc (" + requireLibcDebug(t, res).Name + ")"
			}
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("%s: the call at %#x goes to %v, want %v", c.src, site, names, want)
			}
		}
		if c.ownHeap {
			if own == 0 {
				t.Fatalf("%s: the program's malloc is not a target", c.src)
			}
			var suMalloc int64
			for _, l := range testutil.ParseSU(t, dir) {
				if l.Function == "malloc" && strings.HasSuffix(l.File, c.src) {
					suMalloc = l.Bytes
				}
			}
			if suMalloc < 8192-256 {
				t.Fatalf("%s: GCC's .su gives malloc %d B: not the big frame the test needs", c.src, suMalloc)
			}
			a := bound.New(g, []int{lookup}, bound.Options{})
			e := a.Entry(bound.Spec{Name: "_dl_lookup_symbol_x", Node: lookup, Kind: "user"})
			t.Logf("%s: _dl_lookup_symbol_x reaches at least %d B; the program's malloc is %d B by .su", c.src, e.AtLeast, suMalloc)
			if e.AtLeast < suMalloc {
				t.Errorf("%s: _dl_lookup_symbol_x reaches at least %d B, less than the program's malloc alone (%d B by .su)", c.src, e.AtLeast, suMalloc)
			}
		}

		strict, err := Run(prog, Options{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range strict.Graph.NodesNamed("_dl_lookup_symbol_x") {
			for _, e := range strict.Graph.Nodes[id].Edges {
				if slices.Contains(sites, e.Site) && e.Method == callgraph.MethodGlibcModel {
					t.Errorf("%s: with --strict, the call at %#x still goes to the model", c.src, e.Site)
				}
			}
		}
	}
}

// TestFixupIFunc: _dl_fixup's call of an IFUNC resolver (the one
// `call *%reg` in its code, by objdump) goes to the resolvers of the
// IFUNC symbols the lazy slots of the loaded modules bind to: libc's
// strlen resolver for a lazily bound program that calls strlen through
// its PLT (testdata/x86/lazystrlen.c), none for a program linked -z now
// whose only lazy slots are libc's own (testdata/x86/libcmodel.c); never
// ld.so's address-taken set.
func TestFixupIFunc(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	for _, c := range []struct {
		src    string
		flags  []string
		strlen bool
	}{{"lazystrlen.c", []string{"-O2", "-fno-builtin", "-Wl,-z,lazy"}, true}, {"libcmodel.c", []string{"-O1", "-Wl,-z,now"}, false}} {
		src, _ := filepath.Abs("testdata/x86/" + c.src)
		prog := filepath.Join(dir, strings.TrimSuffix(c.src, ".c"))
		testutil.Run(t, dir, gcc, append(c.flags, "-o", prog, src)...)
		res, err := Run(prog, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ld := ldso(t, res)
		g := res.Graph
		fixups := g.NodesNamed("_dl_fixup")
		if len(fixups) == 0 {
			t.Fatalf("%s: no _dl_fixup in the graph (the lazy-binding resolver not modelled on this machine?)", c.src)
		}
		fn := g.Nodes[fixups[0]].Func
		// objdump's word on where _dl_fixup calls through a register.
		out := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(fn.Addr, 10),
			"--stop-address="+strconv.FormatUint(fn.Addr+fn.Size, 10), ld.File.Path)
		var regCalls []uint64
		for _, m := range regexp.MustCompile(`(?m)^\s*([0-9a-f]+):\s+call\s+\*%r[a-z0-9]+\s*$`).FindAllStringSubmatch(out, -1) {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			regCalls = append(regCalls, a)
		}
		if len(regCalls) != 1 {
			t.Fatalf("%s: objdump shows %d calls through a register in _dl_fixup, want the one IFUNC call:\n%s", c.src, len(regCalls), out)
		}
		site := regCalls[0]
		methods, targets := siteTargets(res, fixups[0], site)
		if len(methods) != 1 || methods[0] != callgraph.MethodGlibcModel {
			t.Fatalf("%s: _dl_fixup's call at %#x has edges %v, want one glibc-model edge", c.src, site, methods)
		}
		libc := requireLibcDebug(t, res)
		resolver, ok := libc.File.LookupExported("strlen")
		if !ok || !resolver.IFunc {
			t.Skipf("SKIPPED: %s's strlen is not an IFUNC", libc.Name)
		}
		var names []string
		hasStrlen := false
		for _, to := range targets {
			n := g.Nodes[to]
			names = append(names, g.QualifiedName(to))
			hasStrlen = hasStrlen || n.Module == libc && n.Func != nil && n.Func.Addr == resolver.Addr
		}
		t.Logf("%s: _dl_fixup's IFUNC call at %#x goes to %v", c.src, site, names)
		if c.strlen && !hasStrlen {
			t.Errorf("%s: _dl_fixup's IFUNC call goes to %v, not libc's strlen resolver", c.src, names)
		}
		if !c.strlen && len(targets) != 0 {
			t.Errorf("%s: _dl_fixup's IFUNC call goes to %v, want none (libc's lazy slots bind no IFUNC)", c.src, names)
		}
	}
}
