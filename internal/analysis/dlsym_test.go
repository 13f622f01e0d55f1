package analysis

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestDlsymPointer: main calls deep, an exported function of a library
// it links, through the pointer dlsym(RTLD_DEFAULT, "deep") returns
// (testdata/x86/redteam/dlsym_deep.c; the program takes small's address
// only, never deep's). With dlsym's own frame declared (8 KiB), main
// was bounded at 8,208 B, below deep's frame (64 KiB by gcc's .su): the
// call had only the address-taken set {small}. Now deep is reachable
// from main, main's bound (if any) is at least deep's frame, and, dlopen
// being reachable through the exports, so is the node of the functions
// of objects loaded at run time (unknown, with its reason).
func TestDlsymPointer(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	lib, _ := filepath.Abs("testdata/x86/redteam/lib_deep.c")
	prog, _ := filepath.Abs("testdata/x86/redteam/dlsym_deep.c")
	testutil.Run(t, dir, gcc, "-O2", "-fstack-usage", "-shared", "-fPIC", "-o", filepath.Join(dir, "libdeep.so"), lib)
	bin := filepath.Join(dir, "dlsym_deep")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, prog, "-L"+dir, "-Wl,--no-as-needed", "-ldeep", "-Wl,-rpath,"+dir)
	var deepSU int64 = -1
	for _, l := range testutil.ParseSU(t, dir) {
		if l.Function == "deep" {
			deepSU = l.Bytes
		}
	}
	if deepSU < 65536 {
		t.Fatalf("deep's .su frame: %d, want at least 65536", deepSU)
	}
	cfg := ldsoWordsAnnotated()
	cfg.Frames = append(cfg.Frames, config.Frame{Function: "dlsym", Bytes: size.Bytes(8192)})
	res, err := Run(bin, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	main := entry(t, res, "main")
	if main.Bounded && *main.Bound < deepSU {
		t.Errorf("main bounded at %d B, below deep's frame (%d B), which it calls through dlsym's pointer", *main.Bound, deepSU)
	}
	g := res.Graph
	reached := reachableFrom(g, entryNode(t, res, "main"))
	if !slices.ContainsFunc(g.NodesNamed("deep"), func(id int) bool { return reached[id] }) {
		t.Errorf("deep is not reachable from main, which calls it through dlsym's pointer")
	}
	byLookup := false
	for _, n := range g.Nodes {
		for _, e := range n.Edges {
			byLookup = byLookup || e.Method == callgraph.MethodSymbolLookup && g.Nodes[e.To].Name() == "deep"
		}
	}
	if !byLookup {
		t.Errorf("no edge of method %s (the functions dlsym can return) goes to deep", callgraph.MethodSymbolLookup)
	}
	runTime := false
	for id, n := range g.Nodes {
		if reached[id] && n.Frame.Reason != "" && n.Name() == "[functions of objects loaded at run time: not analysed]" {
			runTime = true
		}
	}
	if !runTime {
		t.Errorf("dlopen is reachable (an export), yet main reaches no node for the functions of objects loaded at run time")
	}
}

// TestDlsymRegistrars: a function a model watches ("nobody calls it, so
// its table is empty"), called through a pointer from dlsym, undoes the
// model, also with --strict, where the call through the pointer stays
// unresolved (no address-taken sets) and the models' cuts are proofs,
// which another entry (a thread) could rely on. printf_dlsym.c calls
// register_printf_specifier so, then printf("%W"): no call through
// printf's handler tables is cut. cookiestream.c -DCOOKIE -DDLSYM calls
// fopencookie so: a FILE jump table slot reaches _IO_cookie_jumps' own
// function. (pthread_key_create: TestTSDDestructors; setlocale:
// TestRedteamCLocale.)
func TestDlsymRegistrars(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/redteam/printf_dlsym.c")
	bin := filepath.Join(dir, "printf_dlsym")
	testutil.Run(t, dir, gcc, "-O2", "-Wno-format", "-Wl,-z,now", "-o", bin, src)
	strict, err := Run(bin, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, strict)
	if cut := emptyRegistrySites(strict); len(cut) > 0 {
		t.Errorf("--strict: dlsym is reachable, yet %d calls through printf's tables are cut", len(cut))
	}

	cookieSrc, _ := filepath.Abs("testdata/x86/cookiestream.c")
	cookie := filepath.Join(dir, "cookiestream-dlsym")
	testutil.Run(t, dir, gcc, "-O2", "-DCOOKIE", "-DDLSYM", "-Wl,-z,now", "-o", cookie, cookieSrc)
	res, err := Run(cookie, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	libc := requireLibcDebug(t, res)
	found := false
	for off, targets := range slotHubs(res) {
		file, _ := tableSlot(t, libc, "_IO_file_jumps", off)
		if f, ok := tableSlot(t, libc, "_IO_cookie_jumps", off); ok && f != file && cookieOwn(t, libc, f) && slices.Contains(targets, f) {
			found = true
		}
	}
	if !found {
		t.Errorf("--strict, fopencookie through dlsym's pointer: no slot hub reaches a function of _IO_cookie_jumps' own")
	}
}

// TestLibcLookupRunTimeCode: getpwnam loads an NSS module
// (__libc_dlopen_mode) and calls the functions __libc_dlsym finds in it
// through libc's own words, which the graph gives libc's address-taken
// set: main now reaches the node of the functions of objects loaded at
// run time (unknown, with its reason), through that set. write+exit
// (neither reachable) does not.
func TestLibcLookupRunTimeCode(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	const runTime = "[functions of objects loaded at run time: not analysed]"
	reachesRunTime := func(res *Result) bool {
		g := res.Graph
		reached := reachableFrom(g, entryNode(t, res, "main"))
		for id, n := range g.Nodes {
			if reached[id] && n.Name() == runTime && n.Frame.Reason != "" {
				return true
			}
		}
		return false
	}
	res := redteamRun(t, redteamBuild(t, gcc, dir, "getpwnam", ""))
	if !reachesRunTime(res) {
		t.Errorf("getpwnam: main does not reach %s, though NSS modules are loaded and called", runTime)
	}
	src, _ := filepath.Abs("testdata/x86/writeexit.c")
	we := filepath.Join(dir, "writeexit")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", we, src)
	if reachesRunTime(redteamRun(t, we)) {
		t.Errorf("write+exit: main reaches %s, though it loads nothing", runTime)
	}
}

// TestDlsymExitHandler: an exit handler registered through dlsym's
// pointer to on_exit (onexit_dlsym.c; big_handler, whose address main
// passes, 64 KiB) is reachable from __run_exit_handlers, whose calls the
// exit-handler model gives only the functions direct calls register.
func TestDlsymExitHandler(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	res := redteamRun(t, redteamBuild(t, gcc, dir, "onexit_dlsym", ""))
	g := res.Graph
	var runner []int
	for _, id := range g.NodesNamed("__run_exit_handlers") {
		if n := g.Nodes[id]; n.Module != nil && n.Func != nil {
			runner = append(runner, id)
		}
	}
	if len(runner) != 1 {
		t.Fatalf("__run_exit_handlers: %d nodes, want 1", len(runner))
	}
	reached := reachableFrom(g, runner[0])
	if !slices.ContainsFunc(g.NodesNamed("big_handler"), func(id int) bool { return reached[id] }) {
		t.Errorf("big_handler, registered through dlsym's pointer to on_exit, is not reachable from __run_exit_handlers")
	}
}
