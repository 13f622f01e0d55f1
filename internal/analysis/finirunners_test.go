package analysis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestFiniRunners: the C library's functions that run destructors call
// exactly what the program's modules give them (testdata/x86/libcmodel.c,
// a PIE whose crtbeginS calls __cxa_finalize, with an atexit handler):
//   - ld.so's _dl_call_fini (glibc 2.37, Debian's 2.36) calls each
//     loaded object's DT_FINI_ARRAY and DT_FINI functions: the program's
//     __do_global_dtors_aux is among its targets, it keeps no assumed
//     call, and _dl_fini, whose own indirect calls are then the loader's
//     lock hooks, is not linked to the destructors;
//   - __cxa_finalize calls the registered handlers (the atexit handler
//     among them, registered by atexit as an ef_cxa entry), never an
//     address-taken set, and not _dl_fini, which __libc_start_main
//     registers with a null dso handle that the program's
//     __do_global_dtors_aux (passing its own __dso_handle) never passes:
//     no recursion __cxa_finalize -> _dl_fini -> __do_global_dtors_aux.
func TestFiniRunners(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog := filepath.Join(dir, "libcmodel")
	testutil.Run(t, dir, gcc, "-O1", "-pie", "-fpie", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	g := res.Graph

	targets := func(id int, method callgraph.Method) []string {
		var out []string
		for _, e := range g.Nodes[id].Edges {
			if e.Method == method {
				out = append(out, g.Nodes[e.To].Name())
			}
		}
		return out
	}
	noHub := func(id int) {
		t.Helper()
		n := g.Nodes[id]
		for _, e := range n.Edges {
			if g.Nodes[e.To].Hub {
				t.Errorf("%s calls %s (%s)", n.Name(), g.Nodes[e.To].Name(), e.Method)
			}
		}
		if len(n.Assumed) > 0 || len(n.Unresolved) > 0 {
			t.Errorf("%s keeps %d assumed and %d unresolved calls", n.Name(), len(n.Assumed), len(n.Unresolved))
		}
	}

	if ids := g.NodesNamed("_dl_call_fini"); len(ids) > 0 {
		callFini := ids[0]
		if got := targets(callFini, callgraph.MethodInitArray); !slices.Contains(got, "__do_global_dtors_aux") {
			t.Errorf("_dl_call_fini's targets %v lack the program's __do_global_dtors_aux", got)
		}
		noHub(callFini)
		for _, id := range g.NodesNamed("_dl_fini") {
			if got := targets(id, callgraph.MethodInitArray); len(got) > 0 {
				t.Errorf("_dl_fini's indirect calls (the lock hooks) are linked to destructors %v", got)
			}
		}
	} else {
		t.Logf("ld.so has no _dl_call_fini (glibc before 2.37): _dl_fini calls the destructors itself")
	}

	fin := nodeNamed(t, g, "__cxa_finalize")
	got := targets(fin, callgraph.MethodAtexit)
	if !slices.Contains(got, "on_exit_handler") {
		t.Errorf("__cxa_finalize's targets %v lack the atexit handler", got)
	}
	// The program's crtbeginS passes its own __dso_handle, and
	// __libc_start_main registers _dl_fini with a null handle.
	if slices.Contains(got, "_dl_fini") {
		t.Errorf("__cxa_finalize's targets %v hold _dl_fini, registered with a null dso handle", got)
	}
	noHub(fin)
	for _, r := range entry(t, res, "main").Reasons {
		if r.Kind == "recursion" && slices.Contains(r.Cycle, "__cxa_finalize") && slices.ContainsFunc(r.Cycle, func(s string) bool { return strings.HasPrefix(s, "_dl_fini") }) {
			t.Errorf("a recursion through __cxa_finalize and _dl_fini: %s", r.Detail)
		}
	}
}

// TestAuditLazySlots: the model of __libc_start_main leaves out ld.so's
// audit hooks (they run only under LD_AUDIT), and with them the lazy
// binding of their slots in libc's PLT: the summary reaches no resolver
// through an audit slot, and a lazy-binding reason of main's names no
// audit hook unless main reaches one some other way.
func TestAuditLazySlots(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog := filepath.Join(dir, "libcmodel")
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	g := res.Graph
	summaries := 0
	for _, id := range g.NodesNamed("__libc_start_main") {
		n := g.Nodes[id]
		if n.Summary == "" {
			continue
		}
		summaries++
		for _, e := range n.Edges {
			to := g.Nodes[e.To]
			if e.Method == callgraph.MethodLazy && strings.Contains(to.Frame.Reason, "_dl_audit_") {
				t.Errorf("the start summary reaches the lazy resolver of an audit slot at %#x: %s", e.Site, to.Frame.Reason)
			}
			if strings.HasPrefix(to.Name(), "_dl_audit_") {
				t.Errorf("the start summary calls %s", to.Name())
			}
		}
	}
	if summaries == 0 {
		t.Fatalf("no __libc_start_main summary")
	}
}
