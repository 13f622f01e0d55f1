package callgraph

import (
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

// buildC compiles src with gcc -O2 -Wl,-z,now and extra flags.
func buildC(t *testing.T, dir, name, src string, extra ...string) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append([]string{"-O2", "-Wl,-z,now", "-o", out, c}, extra...)
	testutil.Run(t, dir, gcc, args...)
	return out
}

// rtldModule is the graph's ld.so (the module defining _dl_fini), or a skip
// when its names are not known (no libc6-dbg).
func rtldModule(t *testing.T, g *Graph) *Module {
	t.Helper()
	for _, m := range g.Modules[1:] {
		if _, ok := m.File.Lookup("_dl_fini"); ok {
			return m
		}
	}
	t.Skip("ld.so's _dl_fini has no name (libc6-dbg not installed)")
	return nil
}

// TestLoadedObjectsCountMatchesGDB: the number of objects the graph counts
// (the program, its DT_NEEDED closure, ld.so, the vDSO) is what ld.so
// itself counts, _rtld_global._dl_ns[0]._ns_nloaded read by gdb in the
// stopped program, for programs with one, two and three libraries.
func TestLoadedObjectsCountMatchesGDB(t *testing.T) {
	gdb := testutil.RequireTool(t, "gdb")
	dir := t.TempDir()
	const prog = `#include <unistd.h>
#include <stdlib.h>
int main(void) { write(1, "hi\n", 3); exit(0); }
`
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"libc", nil},
		{"libm", []string{"-Wl,--no-as-needed", "-lm"}},
		{"librt", []string{"-Wl,--no-as-needed", "-lm", "-lrt"}},
	} {
		bin := buildC(t, dir, c.name, prog, c.flags...)
		g := buildModelled(t, bin)
		rtldModule(t, g)
		out := testutil.Run(t, dir, gdb, "-q", "-batch", "-nx", "-ex", "break write", "-ex", "run",
			"-ex", "print _rtld_global._dl_ns[0]._ns_nloaded", bin)
		m := regexp.MustCompile(`(?m)^\$1 = (\d+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: gdb did not print _ns_nloaded:\n%s", c.name, out)
		}
		want, _ := strconv.Atoi(m[1])
		if g.Loaded.Objects != want {
			t.Errorf("%s: %d objects counted from %d modules, gdb's _ns_nloaded %d", c.name, g.Loaded.Objects, len(g.Modules), want)
		}
	}
}

// TestLoaderVLAAmounts: the pass proves, for ld.so's _dl_fini and
// _dl_sort_maps, a bound at every `sub %reg,%rsp` objdump lists in them,
// and the bound is the array's bytes for n objects rounded as the code
// rounds them (`lea 0xf(...)`, `shr $4`, `shl $4`): 8-byte pointers, or
// 2-byte entries where objdump shows the count doubled (`add %rdx,%rdx`,
// _dl_sort_maps_original's uint16_t seen[nmaps]). The frame walked with
// those bounds counts them (frame.Frame.BoundedAmounts), and the node
// carries the loaded-objects premise.
func TestLoaderVLAAmounts(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	bin := buildC(t, dir, "we", "#include <unistd.h>\n#include <stdlib.h>\nint main(){write(1,\"hi\\n\",3);exit(0);}\n")
	g := buildModelled(t, bin)
	ld := rtldModule(t, g)
	subRSP := regexp.MustCompile(`^\s*([0-9a-f]+):\s+sub\s+%r[a-z0-9]+,%rsp$`)
	for _, name := range []string{"_dl_fini", "_dl_sort_maps"} {
		fn, _ := ld.File.Lookup(name)
		listing := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(fn.Addr, 10),
			"--stop-address="+strconv.FormatUint(fn.Addr+fn.Size, 10), ld.File.Path)
		lines := strings.Split(listing, "\n")
		want := map[uint64]int64{} // site -> bytes per object
		for i, l := range lines {
			m := subRSP.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			site, _ := strconv.ParseUint(m[1], 16, 64)
			// 2-byte entries where the count is doubled right before
			// (add %r,%r); else 8-byte ones where the code before scales
			// by 8 (an index scaled by 8, or shl $3).
			var per int64
			double := regexp.MustCompile(`add\s+(%r[a-z0-9]+),(%r[a-z0-9]+)$`)
			for j := i - 1; j >= 0 && j >= i-12; j-- {
				if f := double.FindStringSubmatch(lines[j]); f != nil && f[1] == f[2] {
					per = 2
				}
			}
			for j := i - 1; j >= 0 && per == 0; j-- {
				if strings.Contains(lines[j], ",8),") || strings.Contains(lines[j], "shl    $0x3,") {
					per = 8
				}
			}
			if per == 0 {
				t.Fatalf("%s: objdump's %q: no element size before it", name, l)
			}
			want[site] = per
		}
		if len(want) == 0 {
			t.Fatalf("%s: objdump lists no sub %%reg,%%rsp", name)
		}
		code, err := ld.File.Code(fn.Addr, fn.Size)
		if err != nil {
			t.Fatal(err)
		}
		isFunction := func(a uint64) bool { _, ok := ld.File.FunctionIndex(a); return ok }
		for _, n := range []int{4, 9} {
			src, ok := loaderCountSources(ld, name, n)
			if !ok {
				t.Fatalf("%s: no count sources (ld.so's DWARF?)", name)
			}
			got, err := vlaAmounts(code, fn.Addr, src, isFunction)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != len(want) {
				t.Errorf("%s, %d objects: bounds at %v, objdump's sites %v", name, n, got, want)
			}
			for site, per := range want {
				if b := (per*int64(n) + 15) &^ 15; got[site].Bytes != b {
					t.Errorf("%s, %d objects: at %#x %d B, want %d B (%d B each, rounded to 16)", name, n, site, got[site].Bytes, b, per)
				}
			}
		}
		// The frame walked with them, and the premise.
		// (The program reaches no loader, so the model already bounded
		// them when the graph was built; else bound them here.)
		id := g.libcNodesIn(ld, name)[0]
		before := g.walkFunctionWith(ld.File, g.Nodes[id].Func, nil)
		if !slices.ContainsFunc(g.Nodes[id].Premises, func(p Premise) bool { return p.Kind == PremiseLoadedObjects }) {
			src, _ := loaderCountSources(ld, name, 4)
			g.boundLoaderVLAs(ld, name, src, "test")
		}
		after := g.Nodes[id].Frame
		if len(after.BoundedAmounts()) == 0 {
			t.Fatalf("%s: the walk with the bounds took none (%s)", name, after.Reason)
		}
		for _, a := range after.BoundedAmounts() {
			if _, ok := want[a.Addr]; !ok {
				t.Errorf("%s: the walk bounded %#x, not one of objdump's sites", name, a.Addr)
			}
		}
		if after.Size < before.Size+after.BoundedAmounts()[0].Bytes {
			t.Errorf("%s: frame %d B with the bounds, %d B without: the array's %d B not counted", name, after.Size, before.Size, after.BoundedAmounts()[0].Bytes)
		}
		if ps := g.Nodes[id].Premises; len(ps) != 1 || ps[0].Kind != PremiseLoadedObjects {
			t.Errorf("%s: premises %+v, want the loaded-objects one", name, ps)
		}
	}
}

// TestLoadedObjectsKept: a program that calls dlopen, and any program
// under --strict, keeps _dl_fini's and _dl_sort_maps's frames as walked
// and dfs_traversal's recursion unbounded; the model says why.
func TestLoadedObjectsKept(t *testing.T) {
	dir := t.TempDir()
	dl := buildC(t, dir, "dl", "#include <dlfcn.h>\nint main(int c, char **v){return dlopen(v[1], RTLD_NOW) != 0;}\n")
	we := buildC(t, dir, "we", "#include <unistd.h>\n#include <stdlib.h>\nint main(){write(1,\"hi\\n\",3);exit(0);}\n")
	check := func(what string, g *Graph) {
		ld := rtldModule(t, g)
		if g.Loaded.Count != 0 || g.Loaded.Why == "" {
			t.Errorf("%s: %+v, want no count and a reason", what, g.Loaded)
		}
		for _, name := range []string{"_dl_fini", "_dl_sort_maps", "dfs_traversal.part.0"} {
			for _, id := range g.libcNodesIn(ld, name) {
				n := g.Nodes[id]
				if len(n.Frame.BoundedAmounts()) > 0 || n.RecursionDepth != 0 || len(n.Premises) > 0 {
					t.Errorf("%s: %s bounded (%v, depth %d, %+v)", what, name, n.Frame.BoundedAmounts(), n.RecursionDepth, n.Premises)
				}
				// Once the walk gets past _dl_fini's SP restore (a model of
				// its own), the VLA is its reason, which says why the count
				// is not known (not under --strict: no model at all).
				if n.Frame.Kind == frame.Dynamic && what != "--strict" && !strings.Contains(n.Frame.Reason, "number of loaded objects, not known: ") {
					t.Errorf("%s: %s's reason %q does not say why the count is not known", what, name, n.Frame.Reason)
				}
			}
		}
	}
	g := buildModelled(t, dl)
	check("dlopen", g)
	if !strings.Contains(g.Loaded.Why, "dlopen") {
		t.Errorf("dlopen: why %q does not name the loader", g.Loaded.Why)
	}
	f, err := binfile.Open(we)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := x86.Decoder{}
	ps, _ := FindStart(f, dec)
	gs := Build(f, dec, Options{FollowLibraries: true, StackAlign: 16, Strict: true})
	gs.ModelStart(ps, LibcStartOptions{})
	gs.Resolve()
	gs.ModelRuntime()
	check("--strict", gs)
}

// TestCountedVLAs: on a program of our own (testdata/nloaded/vla.c, gcc
// -O2 -fstack-usage), the pass bounds the VLA sized from the count field
// of an element of a global array of structs (the field's offset and the
// struct's size as gcc laid them out, 8 and 160, like ld.so's
// link_namespaces) and the one sized from an argument, by 8 bytes an
// element rounded to 16; it leaves dynamic the VLA sized from another
// field and the one sized by the argument times an unknown. The frame
// walked with the bounds is gcc's static part (.su) plus the array.
func TestCountedVLAs(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/nloaded/vla.c")
	bin := filepath.Join(dir, "vla")
	testutil.Run(t, dir, gcc, "-O2", "-fstack-usage", "-o", bin, src)
	su := map[string]int64{}
	for _, l := range testutil.ParseSU(t, dir) {
		su[l.Function] = l.Bytes
	}
	f, err := binfile.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	tab, ok := dataSymbol(g.Modules[0], "tab")
	if !ok {
		t.Fatal("no symbol tab")
	}
	const n = 7
	srcs := map[string]countSources{
		"fromfield":  {nsBase: tab, nsStride: 160, nsField: 8, nsMax: n},
		"otherfield": {nsBase: tab, nsStride: 160, nsField: 8, nsMax: n},
		"fromarg":    {entry: map[int]absVal{6: {k: absBnd, n: n, bits: 32}}}, // esi: nmaps
		"scaled":     {entry: map[int]absVal{6: {k: absBnd, n: n, bits: 32}}},
	}
	want := map[string]bool{"fromfield": true, "fromarg": true}
	for name, cs := range srcs {
		fn, ok := f.Lookup(name)
		if !ok {
			t.Fatalf("no function %s", name)
		}
		code, err := f.Code(fn.Addr, fn.Size)
		if err != nil {
			t.Fatal(err)
		}
		amounts, err := vlaAmounts(code, fn.Addr, cs, func(a uint64) bool { _, ok := f.FunctionIndex(a); return ok })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain := g.walkFunction(f, fn)
		if plain.Kind != frame.Dynamic {
			t.Fatalf("%s: walked %v (%s), want dynamic", name, plain.Kind, plain.Reason)
		}
		if !want[name] {
			if len(amounts) > 0 {
				t.Errorf("%s: bounded %+v, want none (not the count)", name, amounts)
			}
			continue
		}
		if len(amounts) != 1 {
			t.Fatalf("%s: %d bounded sites (%+v), want 1", name, len(amounts), amounts)
		}
		for site, a := range amounts {
			if site != plain.ReasonAddr || a.Bytes != (8*n+15)&^15 {
				t.Errorf("%s: %d B at %#x, want %d B at the walk's dynamic site %#x", name, a.Bytes, site, (8*n+15)&^15, plain.ReasonAddr)
			}
			fr := g.walkFunctionWith(f, fn, func(in *frame.Input) {
				in.SPAmount = func(addr uint64) (int64, bool) { b, ok := amounts[addr]; return b.Bytes, ok }
			})
			if fr.Kind != frame.Static || fr.Size != su[name]+a.Bytes {
				t.Errorf("%s: walked with the bound: %v %d B (%s), want static %d B (.su %d + %d)", name, fr.Kind, fr.Size, fr.Reason, su[name]+a.Bytes, su[name], a.Bytes)
			}
		}
	}
}

// TestDlFiniVLAMeasured: in a real run, the SP _dl_fini reaches right
// after its VLA (gdb: the SP at its entry, then one instruction past the
// `sub %reg,%rsp`) is the frame the walk computes with the bound for the
// count gdb reads (_ns_nloaded): the pass's amount is the run's.
func TestDlFiniVLAMeasured(t *testing.T) {
	gdb := testutil.RequireTool(t, "gdb")
	dir := t.TempDir()
	bin := buildC(t, dir, "we", "#include <unistd.h>\n#include <stdlib.h>\nint main(){write(1,\"hi\\n\",3);exit(0);}\n")
	g := buildModelled(t, bin)
	ld := rtldModule(t, g)
	fn, _ := ld.File.Lookup("_dl_fini")
	out := testutil.Run(t, dir, gdb, "-q", "-batch", "-nx", "-ex", "starti", "-ex", "break *_dl_fini", "-ex", "continue",
		"-ex", "print _rtld_global._dl_ns[0]._ns_nloaded", "-ex", "print/x $rsp", bin)
	nl := regexp.MustCompile(`(?m)^\$1 = (\d+)$`).FindStringSubmatch(out)
	if nl == nil {
		t.Fatalf("gdb did not stop in _dl_fini:\n%s", out)
	}
	n, _ := strconv.Atoi(nl[1])
	src, ok := loaderCountSources(ld, "_dl_fini", n)
	if !ok {
		t.Fatal("no count sources for _dl_fini (ld.so's DWARF?)")
	}
	code, _ := ld.File.Code(fn.Addr, fn.Size)
	amounts, err := vlaAmounts(code, fn.Addr, src, func(a uint64) bool { _, ok := ld.File.FunctionIndex(a); return ok })
	if err != nil || len(amounts) != 1 {
		t.Fatalf("_dl_fini: %v, %v; want one bounded site", amounts, err)
	}
	var site uint64
	for s := range amounts {
		site = s
	}
	fr := g.walkFunctionWith(ld.File, fn, func(in *frame.Input) {
		in.SPAmount = func(addr uint64) (int64, bool) { a, ok := amounts[addr]; return a.Bytes, ok }
	})
	out = testutil.Run(t, dir, gdb, "-q", "-batch", "-nx", "-ex", "starti", "-ex", "break *_dl_fini", "-ex", "continue", "-ex", "print/x $rsp",
		"-ex", "break *(_dl_fini+"+strconv.FormatUint(site-fn.Addr, 10)+")", "-ex", "continue", "-ex", "stepi", "-ex", "print/x $rsp", bin)
	sp := regexp.MustCompile(`(?m)^\$\d+ = (0x[0-9a-f]+)$`).FindAllStringSubmatch(out, -1)
	if len(sp) != 2 {
		t.Fatalf("gdb did not print two SPs:\n%s", out)
	}
	entry, _ := strconv.ParseUint(sp[0][1][2:], 16, 64)
	after, _ := strconv.ParseUint(sp[1][1][2:], 16, 64)
	measured := int64(entry + 8 - after) // the return address counted, as Frame.Size does
	t.Logf("_dl_fini, %d objects: frame %d B (array %d B at %#x), measured %d B", n, fr.Size, amounts[site].Bytes, site, measured)
	if fr.Size != measured {
		t.Errorf("_dl_fini with %d objects: the walk's frame %d B (amount %d B at %#x), gdb's SP after the VLA %d B below the caller's", n, fr.Size, amounts[site].Bytes, site, measured)
	}
}
