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

// TestLoaderLock: ld.so's loader lock goes through ___rtld_mutex_lock and
// ___rtld_mutex_unlock, words of its RELRO segment that hold
// rtld_mutex_dummy or libc's pthread_mutex_lock/_unlock (glibc 2.34+).
// On a program's exit path (_dl_fini, testdata/x86/libcmodel.c) those
// calls go to those functions, not to ld.so's address-taken set, and the
// entry says what that rests on (a glibc-model assumption); with
// --strict they stay unresolved.
func TestLoaderLock(t *testing.T) {
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
	fini := g.NodesNamed("_dl_fini")
	if len(fini) == 0 {
		t.Fatalf("no _dl_fini")
	}
	n := g.Nodes[fini[0]]
	if _, ok := n.Module.File.Lookup("__rtld_mutex_init"); !ok {
		t.Skipf("SKIPPED: ld.so has no __rtld_mutex_init (glibc before 2.34)")
	}
	lock := 0
	for _, e := range n.Edges {
		to := g.Nodes[e.To]
		if e.Method == callgraph.MethodGlibcModel {
			lock++
			var names []string
			for _, he := range to.Edges {
				names = append(names, g.Nodes[he.To].Name())
			}
			for _, want := range []string{"rtld_mutex_dummy", "pthread_mutex_lock", "pthread_mutex_unlock"} {
				if !slices.ContainsFunc(names, func(s string) bool { return s == want || strings.HasPrefix(s, "__"+want) }) {
					t.Errorf("the loader lock's targets %v lack %s", names, want)
				}
			}
			continue
		}
		if to.Hub {
			t.Errorf("_dl_fini calls %s at %#x (%s)", to.Name(), e.Site, e.Method)
		}
	}
	if lock == 0 {
		t.Fatalf("_dl_fini has no loader-lock edge: %+v", n.Assumed)
	}
	main := entry(t, res, "main")
	if !slices.ContainsFunc(main.Assumptions, func(a bound.Assumption) bool { return a.Kind == callgraph.PremiseGlibcModel }) {
		t.Errorf("main reaches _dl_fini's loader lock but carries no glibc-model assumption: %+v", main.Assumptions)
	}

	strict, err := Run(prog, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range strict.Graph.NodesNamed("_dl_fini") {
		for _, e := range strict.Graph.Nodes[id].Edges {
			if e.Method == callgraph.MethodGlibcModel {
				t.Errorf("with --strict, _dl_fini's lock call at %#x still goes to the model", e.Site)
			}
		}
	}
}

// TestLibioTailJump: __overflow ends with a tail jump through the FILE's
// vtable (`mov rax,[rbx+24]; pop rbx; jmp rax`) after glibc's check: it
// goes to slot +24 of the __libc_IO_vtables tables, like a call does.
func TestLibioTailJump(t *testing.T) {
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
	ids := g.NodesNamed("__overflow")
	if len(ids) == 0 {
		t.Fatalf("no __overflow")
	}
	n := g.Nodes[ids[0]]
	var slots []string
	for _, e := range n.Edges {
		if e.Method == callgraph.MethodLibioVtable {
			slots = append(slots, g.Nodes[e.To].Name())
		}
	}
	if !slices.ContainsFunc(slots, func(s string) bool { return strings.Contains(s, "slot +24 ") }) {
		t.Errorf("__overflow's tail jump through the vtable is not narrowed to slot +24: %v (assumed %+v)", slots, n.Assumed)
	}
}

// TestAuditCallbacks: ld.so's _dl_audit_* hooks call an audit library's
// callbacks only when LD_AUDIT loaded one: without --ld-audit those calls
// are gone (no edge, no assumed set) and a hook that had one carries a
// no-audit premise; with --ld-audit they stay.
func TestAuditCallbacks(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog := filepath.Join(dir, "libcmodel")
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", prog, src)
	for _, audit := range []bool{false, true} {
		res, err := Run(prog, Options{LDAudit: audit})
		if err != nil {
			t.Fatal(err)
		}
		requireLibcDebug(t, res)
		g := res.Graph
		ids := g.NodesNamed("_dl_audit_objclose")
		if len(ids) == 0 {
			t.Fatalf("no _dl_audit_objclose")
		}
		n := g.Nodes[ids[0]]
		indirect := 0
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() && !cs.HasSlot {
				indirect++
			}
		}
		if indirect == 0 {
			t.Fatalf("_dl_audit_objclose has no indirect call: the test tests nothing")
		}
		linked := len(n.Assumed) + len(n.Unresolved)
		for _, e := range n.Edges {
			if g.Nodes[e.To].Hub {
				linked++
			}
		}
		premise := slices.ContainsFunc(n.Premises, func(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseNoAudit })
		if !audit && (linked > 0 || !premise) {
			t.Errorf("without --ld-audit, _dl_audit_objclose keeps %d callback calls (premise %v)", linked, premise)
		}
		if audit && (linked == 0 || premise) {
			t.Errorf("with --ld-audit, _dl_audit_objclose's callback calls are cut (%d kept, premise %v)", linked, premise)
		}
	}
}

// TestGlibcStreams: under the assumption that every stream is glibc's own
// (testdata/x86/libcmodel.c uses stdout only), no path from main calls
// _IO_vtable_check (glibc calls it for a jump table outside
// __libc_IO_vtables) or the foreign table after it, main lists the
// assumption once, and --strict keeps the check's paths. Tail jumps whose
// slot load the walk back did not reach before the check (__woverflow's)
// and calls through a wide stream's table (_IO_wdoallocbuf's, unchecked
// in glibc 2.36) go to their slot of the section's tables.
func TestGlibcStreams(t *testing.T) {
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
	main := entry(t, res, "main")
	seen := reachableFrom(g, main.Node)
	// (Its address is taken, for the compatibility flag: the
	// address-taken set still holds it.)
	markers := 0
	for id := range seen {
		n := g.Nodes[id]
		if n.Hub {
			continue
		}
		for _, e := range n.Edges {
			if g.Nodes[e.To].Named("_IO_vtable_check") {
				t.Errorf("%s calls _IO_vtable_check at %#x", g.QualifiedName(id), e.Site)
			}
		}
		if slices.ContainsFunc(n.Premises, func(p callgraph.Premise) bool {
			return p.Kind == callgraph.PremiseGlibcModel && strings.Contains(p.Detail, "every FILE")
		}) {
			markers++
		}
	}
	if markers != 1 {
		t.Errorf("main reaches %d nodes carrying the streams premise, want 1", markers)
	}
	slotEdge := func(g *callgraph.Graph, fn, slot string) bool {
		for _, id := range g.NodesNamed(fn) {
			for _, e := range g.Nodes[id].Edges {
				if e.Method == callgraph.MethodLibioVtable && strings.Contains(g.Nodes[e.To].Name(), slot) {
					return true
				}
			}
		}
		return false
	}
	if !slotEdge(g, "__woverflow", "slot +24 ") {
		t.Errorf("__woverflow's tail jump is not narrowed to slot +24")
	}
	if !slotEdge(g, "_IO_wdoallocbuf", "slot +104 ") {
		t.Errorf("_IO_wdoallocbuf's call through the wide table is not narrowed to slot +104 (_IO_WDOALLOCATE)")
	}

	strict, err := Run(prog, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	for _, id := range strict.Graph.NodesNamed("_IO_fflush") {
		for _, e := range strict.Graph.Nodes[id].Edges {
			called = called || strict.Graph.Nodes[e.To].Named("_IO_vtable_check")
		}
	}
	if !called {
		t.Errorf("with --strict, fflush does not call _IO_vtable_check: the assumption was applied")
	}
}
