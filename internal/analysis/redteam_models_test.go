package analysis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// A soundness review of the glibc models whose narrowing holds only
// under a condition the tool checks on the program (c-locale, the gconv
// steps, the loaded-objects count, vfprintf's helper, the lazy
// resolver's nesting): each program below breaks the condition in a way
// the check could miss (a pointer, dlsym, a thread, a library's
// constructor or DT_INIT, libc's own dlopen), and each test asserts the
// model is off for it, next to a baseline program for which it is on
// (so that the check of "off" can fail). The programs are in
// testdata/x86/redteam.

// redteamBuild compiles testdata/x86/redteam/prog.c with -O2 -z now;
// with lib, it first builds lib<lib>.so from lib's source (libFlags
// added: -Wl,-init=myinit for a DT_INIT) and links the program to it.
func redteamBuild(t *testing.T, gcc, dir, prog, lib string, libFlags ...string) string {
	t.Helper()
	src := func(name string) string {
		p, _ := filepath.Abs(filepath.Join("testdata/x86/redteam", name+".c"))
		return p
	}
	bin := filepath.Join(dir, prog)
	args := []string{"-O2", "-Wl,-z,now", "-o", bin, src(prog)}
	if lib != "" {
		so := filepath.Join(dir, "lib"+lib+".so")
		testutil.Run(t, dir, gcc, append([]string{"-O2", "-shared", "-fPIC", "-o", so, src(lib)}, libFlags...)...)
		bin += "_" + lib
		args[3] = bin
		args = append(args, "-L"+dir, "-l"+lib, "-Wl,-rpath,"+dir)
	}
	testutil.Run(t, dir, gcc, append(args, "-ldl", "-lpthread")...)
	return bin
}

// redteamRun analyses bin as the gconv tests do (ld.so's two words
// annotated, which would otherwise undo the models on every program).
func redteamRun(t *testing.T, bin string) *Result {
	t.Helper()
	res, err := Run(bin, Options{Config: ldsoWordsAnnotated()})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	return res
}

// nodesWithPremise names the nodes that carry a premise for which match
// is true.
func nodesWithPremise(g *callgraph.Graph, match func(callgraph.Premise) bool) []string {
	var out []string
	for id, n := range g.Nodes {
		if slices.ContainsFunc(n.Premises, match) {
			out = append(out, g.QualifiedName(id))
		}
	}
	return out
}

func isCLocale(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseCLocale }

// TestRedteamCLocale: the c-locale model (no calls of
// __wcsmbs_load_conv, the premise on the nodes whose calls it cut)
// applies to a program that writes wide characters and changes no
// locale, and is off (no node carries the premise, libc's functions call
// __wcsmbs_load_conv) for each program that changes the locale:
// setlocale through a pointer the program holds, from a thread routine,
// from a shared library's constructor, its DT_INIT or a function of it
// the program calls, newlocale + uselocale, and setlocale through a
// pointer from dlsym (whose call the graph gives the program's
// address-taken set: the model watches dlsym itself).
func TestRedteamCLocale(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()

	base := redteamRun(t, redteamBuild(t, gcc, dir, "wide", ""))
	if nodes := nodesWithPremise(base.Graph, isCLocale); len(nodes) == 0 {
		t.Fatalf("baseline (no locale change): no node carries the c-locale premise, so the cases below check nothing")
	}
	if callers := loadConvCallers(base.Graph); len(callers) > 0 {
		t.Fatalf("baseline (no locale change): %v call __wcsmbs_load_conv", callers)
	}

	cases := []struct{ what, prog, lib string }{
		{"setlocale through a pointer", "setlocale_ptr", ""},
		{"setlocale from a thread routine", "setlocale_thread", ""},
		{"setlocale in a library's constructor", "wide_lib", "lib_setlocale_ctor"},
		{"setlocale in a library's DT_INIT", "wide_lib", "lib_setlocale_init"},
		{"setlocale in a library function the program calls", "wide_lib", "lib_setlocale_call"},
		{"newlocale and uselocale", "newlocale", ""},
		{"setlocale through dlsym's pointer", "setlocale_dlsym", ""},
	}
	for _, c := range cases {
		var flags []string
		if strings.HasSuffix(c.lib, "_init") {
			flags = []string{"-Wl,-init=myinit"}
		}
		res := redteamRun(t, redteamBuild(t, gcc, dir, c.prog, c.lib, flags...))
		if nodes := nodesWithPremise(res.Graph, isCLocale); len(nodes) > 0 {
			t.Errorf("%s (%s): the locale changes, yet %d nodes carry the c-locale premise (%s, ...)", c.what, c.prog, len(nodes), nodes[0])
		}
		if len(loadConvCallers(res.Graph)) == 0 {
			t.Errorf("%s (%s): the locale changes, yet no function calls __wcsmbs_load_conv", c.what, c.prog)
		}
	}
}

// TestRedteamGconvTransform: a program that makes conversions other than
// the C locale's (iconv_open and iconv; fopen with "ccs=UTF-8") reaches
// __gconv_find_transform and __gconv_find_shlib: no step function keeps
// the premise that it calls no next step, and __libio_codecvt_out's step
// call goes to the node of the gconv modules (unknown), not to the static
// steps' functions.
func TestRedteamGconvTransform(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	oneStep := func(p callgraph.Premise) bool { return strings.Contains(p.Detail, "does not call the next step") }

	base := redteamRun(t, redteamBuild(t, gcc, dir, "wide", ""))
	if len(nodesWithPremise(base.Graph, oneStep)) == 0 || len(gconvStepSites(base.Graph)) == 0 {
		t.Fatalf("baseline (C locale only): the one-step premise or the static steps' calls are missing, so the cases below check nothing")
	}
	for _, prog := range []string{"iconv_wide", "fopen_ccs"} {
		res := redteamRun(t, redteamBuild(t, gcc, dir, prog, ""))
		if nodes := nodesWithPremise(res.Graph, oneStep); len(nodes) > 0 {
			t.Errorf("%s: conversions come from __gconv_find_transform, yet %s carries the one-step premise", prog, nodes[0])
		}
		if s := gconvStepSites(res.Graph); len(s) > 0 {
			t.Errorf("%s: gconv modules can be loaded, yet %d step calls go to the static steps' functions", prog, len(s))
		}
		requireCodecvtUnresolved(t, res.Graph, prog, "gconv module")
	}
}

// TestRedteamLoadedObjects: the loaded-objects count applies to a
// write+exit program (the baseline), and is off (count 0, a reason, no
// node with the premise) for each program that can load an object after
// its start: dlopen through a pointer, through dlsym's pointer, from a
// library's DT_INIT or a library function, and libc's own dlopen under
// getpwnam and getaddrinfo (NSS modules) and iconv_open (gconv modules).
func TestRedteamLoadedObjects(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	isLoaded := func(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseLoadedObjects }

	src, _ := filepath.Abs("testdata/x86/writeexit.c")
	baseBin := filepath.Join(dir, "writeexit")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", baseBin, src)
	base := redteamRun(t, baseBin)
	if base.Graph.Loaded.Count == 0 || len(nodesWithPremise(base.Graph, isLoaded)) == 0 {
		t.Fatalf("baseline (write+exit): no count (%q), so the cases below check nothing", base.Graph.Loaded.Why)
	}
	// ld.so preloads what /etc/ld.so.preload names as it does
	// LD_PRELOAD's: the premise names both.
	for id, n := range base.Graph.Nodes {
		for _, p := range n.Premises {
			if isLoaded(p) && (!strings.Contains(p.Detail, "LD_PRELOAD") || !strings.Contains(p.Detail, "/etc/ld.so.preload")) {
				t.Errorf("%s: the loaded-objects premise does not name both LD_PRELOAD and /etc/ld.so.preload: %s", base.Graph.QualifiedName(id), p.Detail)
			}
		}
	}
	cases := []struct{ what, prog, lib string }{
		{"dlopen through a pointer", "dlopen_ptr", ""},
		{"dlopen through dlsym's pointer", "dlopen_dlsym", ""},
		{"dlopen in a library's DT_INIT", "writeexit_lib", "lib_dlopen_init"},
		{"dlopen in a library function the program calls", "writeexit_lib", "lib_dlopen_call"},
		{"getpwnam (NSS)", "getpwnam", ""},
		{"getaddrinfo (NSS)", "getaddrinfo", ""},
		{"iconv_open (gconv modules)", "iconv_exit", ""},
	}
	for _, c := range cases {
		var flags []string
		if strings.HasSuffix(c.lib, "_init") {
			flags = []string{"-Wl,-init=myinit"}
		}
		res := redteamRun(t, redteamBuild(t, gcc, dir, c.prog, c.lib, flags...))
		if l := res.Graph.Loaded; l.Count != 0 || l.Why == "" {
			t.Errorf("%s (%s): the program can load objects, yet the count is %d (why %q)", c.what, c.prog, l.Count, l.Why)
		}
		if nodes := nodesWithPremise(res.Graph, isLoaded); len(nodes) > 0 {
			t.Errorf("%s (%s): %s carries the loaded-objects premise", c.what, c.prog, nodes[0])
		}
	}
}

// TestRedteamHelperHandler: vfprintf's helper model (the put hubs
// without the helper tables, the helper's cycle 2 trips deep) applies to
// a program printing to stderr, and is off for one that registers a
// printf handler, which gets the helper stream and makes it unbuffered
// (setvbuf) before printing on it: no node carries the helper premise,
// and no helper overflow has a depth.
func TestRedteamHelperHandler(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	isHelper := func(p callgraph.Premise) bool { return strings.Contains(p.Detail, "vfprintf's helper stream") }
	helperDepth := func(g *callgraph.Graph) int64 {
		var d int64
		for _, id := range libcNodesNamed(g, "_IO_helper_overflow") {
			d = max(d, g.Nodes[id].RecursionDepth)
		}
		return d
	}

	base := redteamRun(t, redteamBuild(t, gcc, dir, "stderr_printf", ""))
	if len(nodesWithPremise(base.Graph, isHelper)) == 0 || helperDepth(base.Graph) != 2 {
		t.Fatalf("baseline (stderr printf): helper premise on %v, depth %d: the case below checks nothing",
			nodesWithPremise(base.Graph, isHelper), helperDepth(base.Graph))
	}
	res := redteamRun(t, redteamBuild(t, gcc, dir, "printf_handler", ""))
	if nodes := nodesWithPremise(res.Graph, isHelper); len(nodes) > 0 {
		t.Errorf("a printf handler is registered, yet %s carries the helper premise", nodes[0])
	}
	if d := helperDepth(res.Graph); d != 0 {
		t.Errorf("a printf handler is registered, yet the helper's overflow has depth %d", d)
	}
}

// TestRedteamLazyOtherCycle: the program's own malloc (reached from the
// resolver through ld.so's malloc words) has a recursion of its own that
// reaches the resolver again (through sscanf's lazy calls): the
// resolver's component has a cycle that does not pass through it, so the
// resolver gets no depth and no lazy-nesting premise, and main's reasons
// keep a recursion.
func TestRedteamLazyOtherCycle(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	res := redteamRun(t, redteamBuild(t, gcc, dir, "own_malloc_cycle", ""))
	g := res.Graph
	r := -1
	for id, n := range g.Nodes {
		if n.Name() == callgraph.LazyResolverName && n.Func != nil {
			r = id
		}
	}
	if r < 0 {
		t.Skip("ld.so's resolver is not modelled on this machine")
	}
	rounds := g.NodesNamed("round_up")
	if len(rounds) != 1 {
		t.Fatalf("%d nodes named round_up", len(rounds))
	}
	ru := rounds[0]
	if !slices.ContainsFunc(g.Nodes[ru].Edges, func(e callgraph.Edge) bool { return e.To == ru }) {
		t.Fatalf("round_up does not call itself: the program's own cycle is missing")
	}
	if !reachableFrom(g, r)[ru] || !reachableFrom(g, ru)[r] {
		t.Fatalf("round_up is not in the resolver's component (resolver reaches it: %v; it reaches the resolver: %v): the case checks nothing",
			reachableFrom(g, r)[ru], reachableFrom(g, ru)[r])
	}
	n := g.Nodes[r]
	if n.RecursionDepth != 0 || slices.ContainsFunc(n.Premises, func(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseLazyNesting }) {
		t.Errorf("the resolver's component has round_up's own cycle, yet the resolver has depth %d and premises %v", n.RecursionDepth, n.Premises)
	}
	main := entry(t, res, "main")
	if main.Bounded {
		t.Errorf("main is BOUNDED although the recursion of round_up, through the resolver, has no depth")
	}
	if !slices.ContainsFunc(main.Reasons, func(r bound.Reason) bool { return r.Kind == "recursion" }) {
		t.Errorf("main lists no recursion: %s", reasonSummary(main))
	}
}
