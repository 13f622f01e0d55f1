package analysis

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
	"github.com/stackscope/stackscope/internal/vdso"
)

// vdsoSite is libc's clock_gettime node and its indirect call sites:
// the call through GLRO(dl_vdso_clock_gettime64), found from the code,
// not from an address written down here.
func vdsoSite(t *testing.T, g *callgraph.Graph) (int, []uint64) {
	t.Helper()
	for _, id := range g.NodesNamed("clock_gettime") {
		n := g.Nodes[id]
		if n.Module == nil || !strings.HasPrefix(n.Module.Name, "libc.so") {
			continue
		}
		var sites []uint64
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() && !cs.HasSlot {
				sites = append(sites, cs.Addr)
			}
		}
		return id, sites
	}
	t.Fatal("no clock_gettime node of libc.so")
	return 0, nil
}

// requireVDSO skips without a vDSO to read or without ld.so's debug
// file (the model then stays off, which TestVDSOCall does not test).
func requireVDSO(t *testing.T, res *Result) *vdso.Image {
	t.Helper()
	im, err := vdso.Running()
	if err != nil {
		t.Skipf("SKIPPED: no vDSO to read here: %v", err)
	}
	if im.File.Arch != binfile.ArchX86_64 {
		t.Skipf("SKIPPED: the running kernel's vDSO is %s, not x86-64", im.File.Arch)
	}
	requireLibcDebug(t, res)
	for _, m := range res.Graph.Modules[1:] {
		if strings.HasPrefix(m.Name, "ld-linux") && m.File.DebugSymbols == "" {
			t.Skipf("SKIPPED: %s has no debug symbols; ./scripts/test.sh installs libc6-dbg", m.File.Path)
		}
	}
	return im
}

// vdsoAlone walks the vDSO image as a program of its own: the frame and
// the bound of name there are what the analysis of a program must give
// the vDSO function its libc calls.
func vdsoAlone(t *testing.T, im *vdso.Image, name string) (frame.Frame, bound.Entry) {
	t.Helper()
	dec, align := DecoderFor(im.File.Arch)
	g := callgraph.Build(im.File, dec, callgraph.Options{StackAlign: align})
	fn, ok := im.File.LookupExported(name)
	if !ok {
		t.Fatalf("the vDSO exports no %s", name)
	}
	fi, _ := im.File.FunctionIndex(fn.Addr)
	id := g.Node(g.Modules[0], fi)
	g.Resolve()
	spec := bound.Spec{Name: name, Node: id, Kind: "user"}
	return g.Nodes[id].Frame, bound.New(g, []int{id}, bound.Options{}).Entry(spec)
}

// TestVDSOCall: glibc's clock_gettime calls the kernel's vDSO through a
// pointer ld.so keeps in _rtld_global_ro. That call goes to the vDSO's
// __vdso_clock_gettime, walked from the running kernel's image, with its
// frame and bound as a walk of that image alone gives them (and small);
// the entry lists the premise (this kernel, named by its release), and a
// call measured on a painted stack stays within the bound. With --strict the call stays
// unresolved and no vDSO code is in the graph. A program that only calls
// malloc reaches the same call (ptmalloc_init), which gets the same edge.
func TestVDSOCall(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/vdsoclock.c")
	prog := filepath.Join(dir, "vdsoclock")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{Entries: []string{"now"}})
	if err != nil {
		t.Fatal(err)
	}
	im := requireVDSO(t, res)
	g := res.Graph
	wantFrame, wantBound := vdsoAlone(t, im, "__vdso_clock_gettime")
	if wantFrame.Kind != frame.Static || !wantBound.Bounded || wantBound.Bound > 512 {
		t.Fatalf("the vDSO's __vdso_clock_gettime walked alone: frame %v %d B, bound %v %d B: want a small static frame and a bound",
			wantFrame.Kind, wantFrame.Size, wantBound.Bounded, wantBound.Bound)
	}

	cg, sites := vdsoSite(t, g)
	if len(sites) != 1 {
		t.Fatalf("libc's clock_gettime has indirect calls at %x, want one (the vDSO's)", sites)
	}
	var vdsoNode = -1
	for _, e := range g.Nodes[cg].Edges {
		if e.Site != sites[0] {
			continue
		}
		to := g.Nodes[e.To]
		if e.Method != callgraph.MethodGlibcModel || to.Module == nil || to.Module.Name != vdso.Name || to.Name() != "__vdso_clock_gettime" {
			t.Errorf("clock_gettime's call at %#x goes to %s (%s), want only __vdso_clock_gettime of %s", e.Site, g.QualifiedName(e.To), e.Method, vdso.Name)
			continue
		}
		vdsoNode = e.To
	}
	if vdsoNode < 0 {
		t.Fatalf("clock_gettime's call at %#x has no edge to the vDSO (assumed %+v, unresolved %d)", sites[0], g.Nodes[cg].Assumed, len(g.Nodes[cg].Unresolved))
	}
	if len(g.Nodes[cg].Unresolved) > 0 || len(g.Nodes[cg].Assumed) > 0 {
		t.Errorf("clock_gettime keeps unresolved %d and assumed %+v calls", len(g.Nodes[cg].Unresolved), g.Nodes[cg].Assumed)
	}
	got := g.Nodes[vdsoNode].Frame
	if got.Kind != wantFrame.Kind || got.Size != wantFrame.Size || got.RedZone != wantFrame.RedZone {
		t.Errorf("__vdso_clock_gettime in the program's graph: %v %d B (red zone %d), the vDSO walked alone: %v %d B (red zone %d)",
			got.Kind, got.Size, got.RedZone, wantFrame.Kind, wantFrame.Size, wantFrame.RedZone)
	}

	now := entry(t, res, "now")
	if !now.Bounded {
		t.Fatalf("now: NOT BOUNDED: %s", reasonSummary(now))
	}
	if !slices.Contains(now.Path, "__vdso_clock_gettime ("+vdso.Name+")") {
		t.Errorf("now's worst path %v does not go through the vDSO", now.Path)
	}
	premise := fmt.Sprintf("the vDSO is the running kernel's (Linux %s): clock_gettime's call through GLRO(dl_vdso_clock_gettime64) at %#x goes to __vdso_clock_gettime of that image, bounded by %d B",
		im.Release, sites[0], wantBound.Bound)
	n := 0
	for _, a := range now.Assumptions {
		if strings.HasPrefix(a.Detail, premise) && a.Kind == callgraph.PremiseGlibcModel {
			n++
		}
	}
	if n != 1 {
		t.Errorf("now lists the vDSO premise %d times, want once %q; assumptions %+v", n, premise, now.Assumptions)
	}
	// Measured on a painted stack (the program's own mode, see
	// vdsoclock.c): at most the bound, and deeper than the path to the
	// vDSO, so that the call did run the vDSO's code.
	out := testutil.Run(t, dir, prog, "paint")
	var measured int64
	if _, err := fmt.Sscanf(out, "DEPTH %d", &measured); err != nil {
		t.Fatalf("vdsoclock paint: %q", out)
	}
	t.Logf("now: bound %d B, measured %d B on a painted stack, the vDSO's part of the bound %d B", *now.Bound, measured, wantBound.Bound)
	if measured > *now.Bound {
		t.Errorf("now measured %d B on a painted stack, over its bound %d B", measured, *now.Bound)
	}
	if measured <= *now.Bound-wantBound.Bound {
		t.Errorf("now measured %d B, no deeper than the path to the vDSO (%d B): the call did not run the vDSO", measured, *now.Bound-wantBound.Bound)
	}

	strict, err := Run(prog, Options{Entries: []string{"now"}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	sg := strict.Graph
	scg, _ := vdsoSite(t, sg)
	if !slices.ContainsFunc(sg.Nodes[scg].Unresolved, func(cs frame.CallSite) bool { return cs.Addr == sites[0] }) {
		t.Errorf("--strict: clock_gettime's call at %#x is not unresolved", sites[0])
	}
	for id, n := range sg.Nodes {
		if n.Module != nil && n.Module.Name == vdso.Name {
			t.Errorf("--strict: the graph has the vDSO's %s", sg.QualifiedName(id))
		}
	}
	if e := entry(t, strict, "now"); e.Bounded {
		t.Errorf("--strict: now is bounded (%d B) although its call into the vDSO is not proved", *e.Bound)
	}

	// malloc's first call reaches clock_gettime through ptmalloc_init.
	msrc, _ := filepath.Abs("testdata/x86/vdsomalloc.c")
	mprog := filepath.Join(dir, "vdsomalloc")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", mprog, msrc)
	mres, err := Run(mprog, Options{Entries: []string{"alloc"}})
	if err != nil {
		t.Fatal(err)
	}
	mg := mres.Graph
	mcg, msites := vdsoSite(t, mg)
	linked := false
	for _, e := range mg.Nodes[mcg].Edges {
		to := mg.Nodes[e.To]
		if slices.Contains(msites, e.Site) {
			linked = linked || to.Module != nil && to.Module.Name == vdso.Name && to.Name() == "__vdso_clock_gettime"
			if to.Hub {
				t.Errorf("malloc's program: clock_gettime's call at %#x still goes to %s", e.Site, to.Name())
			}
		}
	}
	if !linked {
		t.Errorf("malloc's program: clock_gettime's call has no edge to the vDSO")
	}
	if a := entry(t, mres, "alloc"); !slices.ContainsFunc(a.Assumptions, func(a bound.Assumption) bool { return strings.HasPrefix(a.Detail, "the vDSO is the running kernel's") }) {
		t.Errorf("alloc reaches clock_gettime through malloc but does not list the vDSO premise")
	}
}

// TestVDSOIFunc: glibc's time and gettimeofday are ifuncs whose resolver
// returns the vDSO's function when the kernel has one: a call of either
// goes to the vDSO's __vdso_time or __vdso_gettimeofday as well as to the
// system-call fallback the resolver names, the entry lists the premise,
// and its bound holds what a painted stack measures (the fallback alone
// gave a bound below it). With --strict the calls are unresolved.
func TestVDSOIFunc(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/vdsotime.c")
	prog := filepath.Join(dir, "vdsotime")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{Entries: []string{"stamp"}})
	if err != nil {
		t.Fatal(err)
	}
	im := requireVDSO(t, res)
	g := res.Graph
	ids := g.NodesNamed("stamp")
	if len(ids) != 1 {
		t.Fatalf("stamp: %d nodes", len(ids))
	}
	n := g.Nodes[ids[0]]
	targets := map[uint64][]string{}
	for _, e := range n.Edges {
		targets[e.Site] = append(targets[e.Site], g.QualifiedName(e.To))
	}
	for _, sym := range []string{"__vdso_gettimeofday", "__vdso_time"} {
		want := sym + " (" + vdso.Name + ")"
		found := false
		for site, to := range targets {
			if slices.Contains(to, want) {
				found = true
				if len(to) < 2 {
					t.Errorf("stamp's call at %#x goes only to %v: the fallback the resolver names is lost", site, to)
				}
			}
		}
		if !found {
			t.Errorf("no call of stamp goes to %s: %v", want, targets)
		}
		wantFrame, wantBound := vdsoAlone(t, im, sym)
		for id, vn := range g.Nodes {
			if vn.Module != nil && vn.Module.Name == vdso.Name && vn.Name() == sym && (vn.Frame.Size != wantFrame.Size || vn.Frame.Kind != wantFrame.Kind) {
				t.Errorf("%s: frame %v %d B, the vDSO walked alone %v %d B", g.QualifiedName(id), vn.Frame.Kind, vn.Frame.Size, wantFrame.Kind, wantFrame.Size)
			}
		}
		if !wantBound.Bounded {
			t.Fatalf("the vDSO's %s alone is not bounded", sym)
		}
	}
	e := entry(t, res, "stamp")
	if !e.Bounded {
		t.Fatalf("stamp: NOT BOUNDED: %s", reasonSummary(e))
	}
	premises := 0
	for _, a := range e.Assumptions {
		if a.Kind == callgraph.PremiseGlibcModel && strings.HasPrefix(a.Detail, "the vDSO is the running kernel's (Linux "+im.Release+"): stamp's call of ") {
			premises++
		}
	}
	if premises != 2 {
		t.Errorf("stamp lists %d vDSO premises, want 2 (gettimeofday, time): %+v", premises, e.Assumptions)
	}
	out := testutil.Run(t, dir, prog, "paint")
	var measured int64
	if _, err := fmt.Sscanf(out, "DEPTH %d", &measured); err != nil {
		t.Fatalf("vdsotime paint: %q", out)
	}
	t.Logf("stamp: bound %d B, measured %d B on a painted stack", *e.Bound, measured)
	if measured > *e.Bound {
		t.Errorf("stamp measured %d B on a painted stack, over its bound %d B", measured, *e.Bound)
	}

	strict, err := Run(prog, Options{Entries: []string{"stamp"}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if se := entry(t, strict, "stamp"); se.Bounded {
		t.Errorf("--strict: stamp bounded (%d B) although time and gettimeofday may run the kernel's code", *se.Bound)
	}
	sn := strict.Graph.Nodes[strict.Graph.NodesNamed("stamp")[0]]
	if len(sn.Unresolved) != 2 {
		t.Errorf("--strict: stamp has %d unresolved calls, want 2 (gettimeofday, time)", len(sn.Unresolved))
	}
}

// TestVDSOLibraryCache: the library cache keeps the vDSO's frames under
// the vDSO's own build ID (the image's identity, so another kernel's
// image is another entry), beside the program's, libc's and ld.so's, and
// nothing under any other name; an analysis that reads them back gives
// the same bound and premise.
func TestVDSOLibraryCache(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	src, _ := filepath.Abs("testdata/x86/vdsoclock.c")
	prog := filepath.Join(dir, "vdsoclock")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	var first Entry
	for run := 0; run < 2; run++ {
		c := libcache.Open("vdso-test")
		res, err := Run(prog, Options{Entries: []string{"now"}, Libraries: c})
		if err != nil {
			t.Fatal(err)
		}
		im := requireVDSO(t, res)
		c.Flush()
		e := entry(t, res, "now")
		if run == 0 {
			first = e
			ids := map[string]bool{binfile.BuildIDOf(prog): true}
			for _, m := range res.Graph.Modules[1:] {
				ids[m.File.BuildID()] = true
			}
			vid := im.File.BuildID()
			if vid == "" {
				t.Skip("SKIPPED: this kernel's vDSO has no build ID: its frames are not stored")
			}
			ids[vid] = true
			entries, _ := filepath.Glob(filepath.Join(libcache.Dir(filepath.Join(dir, "cache"), "vdso-test"), "*"))
			found := false
			for _, p := range entries {
				id, _, _ := strings.Cut(filepath.Base(p), "-")
				if !ids[id] {
					t.Errorf("cache entry %s is named by none of the program's, its libraries' or the vDSO's build IDs", filepath.Base(p))
				}
				found = found || id == vid
			}
			if !found {
				t.Errorf("no cache entry for the vDSO's build ID %s: %v", vid, entries)
			}
			t.Logf("cache entries: %d, the vDSO's build ID %s", len(entries), vid)
			continue
		}
		if !e.Bounded || !first.Bounded || *e.Bound != *first.Bound || !slices.Equal(e.Path, first.Path) {
			t.Errorf("from the cache: %v %s %v, first run %v %s %v", e.Bounded, show(e.Bound), e.Path, first.Bounded, show(first.Bound), first.Path)
		}
		if !slices.EqualFunc(e.Assumptions, first.Assumptions, func(a, b bound.Assumption) bool { return a.Detail == b.Detail }) {
			t.Errorf("from the cache the assumptions differ: %+v, first %+v", e.Assumptions, first.Assumptions)
		}
	}
}
