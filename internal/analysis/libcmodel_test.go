package analysis

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// requireLibcDebug skips (fails under STACKSCOPE_REQUIRE_TOOLS) unless the
// libc the result loaded was named from its libc6-dbg debug file: the
// runtime model finds glibc's internal functions by name.
func requireLibcDebug(t *testing.T, res *Result) *callgraph.Module {
	t.Helper()
	for _, m := range res.Graph.Modules[1:] {
		if strings.HasPrefix(m.Name, "libc.so") {
			if m.File.DebugSymbols != "" {
				return m
			}
			if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s has no debug symbols (install libc6-dbg; ./scripts/test.sh does)", m.File.Path)
			}
			t.Skipf("SKIPPED: %s has no debug symbols; ./scripts/test.sh installs libc6-dbg", m.File.Path)
		}
	}
	t.Fatalf("no libc.so among the modules")
	return nil
}

// reachableFrom returns the nodes reachable from id over the graph's edges.
func reachableFrom(g *callgraph.Graph, id int) map[int]bool {
	seen := map[int]bool{id: true}
	stack := []int{id}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.Nodes[n].Edges {
			if !seen[e.To] {
				seen[e.To] = true
				stack = append(stack, e.To)
			}
		}
	}
	return seen
}

// exitUnwinds are the functions that unwind without a cancellation:
// pthread_exit (reachable from any address-taken thread function of libc)
// and an unwind under way.
var exitUnwinds = []string{"pthread_exit", "__pthread_exit", "__pthread_unwind_next"}

// reachableAvoiding is reachableFrom without entering the named functions.
func reachableAvoiding(g *callgraph.Graph, id int, avoid []string) map[int]bool {
	seen := map[int]bool{id: true}
	stack := []int{id}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.Nodes[n].Edges {
			if seen[e.To] || slices.ContainsFunc(avoid, g.Nodes[e.To].Named) {
				continue
			}
			seen[e.To] = true
			stack = append(stack, e.To)
		}
	}
	return seen
}

func reachesNamed(g *callgraph.Graph, seen map[int]bool, name string) bool {
	for id := range seen {
		if g.Nodes[id].Named(name) {
			return true
		}
	}
	return false
}

func nodeNamed(t *testing.T, g *callgraph.Graph, name string) int {
	t.Helper()
	ids := g.NodesNamed(name)
	if len(ids) == 0 {
		t.Fatalf("no node %s", name)
	}
	return ids[0]
}

// TestLibcModel: glibc's runtime modelled on a program whose library calls
// are write, fflush, atexit and exit (testdata/x86/libcmodel.c, -z now):
//   - cancellation: write is a cancellation point; nothing cancels a
//     thread, so __pthread_unwind (and the unwinder behind it) is not
//     reachable from main, while it is in the same program calling
//     pthread_cancel;
//   - exit: __run_exit_handlers calls exactly the registered handler, the
//     __libc_atexit hook (_IO_cleanup) and ld.so's _dl_fini, never the
//     address-taken set; the handler's deep callee is on main's paths;
//   - FILE vtables: fflush's call through the stream's jump table goes to
//     the functions of that slot of glibc's __libc_IO_vtables tables
//     (proved, no assumption), _IO_new_file_sync among them, far fewer
//     than libc's address-taken set;
//   - lazy binding: a reason through a library's lazy slot names the
//     library and the slot, never the program (linked with -z now).
func TestLibcModel(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog, cancel := filepath.Join(dir, "libcmodel"), filepath.Join(dir, "libcmodel-cancel")
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", prog, src)
	testutil.Run(t, dir, gcc, "-O1", "-DCANCEL", "-Wl,-z,now", "-o", cancel, src)

	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	libc := requireLibcDebug(t, res)
	g := res.Graph
	main := entry(t, res, "main")
	seen := reachableFrom(g, main.Node)

	// Cancellation.
	if !reachesNamed(g, seen, "__pthread_disable_asynccancel") {
		t.Errorf("write's cancellation point is not on main's paths: the test no longer tests the cut")
	}
	if reachesNamed(g, reachableAvoiding(g, main.Node, exitUnwinds), "__pthread_unwind") {
		t.Errorf("__pthread_unwind is reachable from main other than through pthread_exit, though nothing cancels a thread")
	}
	loaderReached := reachesNamed(g, seen, "dlopen") || reachesNamed(g, seen, "__libc_dlopen_mode") || reachesNamed(g, seen, "dlmopen")
	hasPremise := slices.ContainsFunc(main.Assumptions, func(a bound.Assumption) bool { return a.Kind == callgraph.PremiseNoCancel })
	if loaderReached != hasPremise {
		t.Errorf("dlopen reachable from main: %v, but the no-cancel assumption on main: %v", loaderReached, hasPremise)
	}

	resC, err := Run(cancel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reachesNamed(resC.Graph, reachableAvoiding(resC.Graph, entry(t, resC, "main").Node, exitUnwinds), "__pthread_unwind") {
		t.Errorf("with pthread_cancel in the program, __pthread_unwind is not reachable from main")
	}

	// Exit handlers.
	runner := g.Nodes[nodeNamed(t, g, "__run_exit_handlers")]
	var handlers []string
	indirect := 0
	for _, e := range runner.Edges {
		if e.Method == callgraph.MethodAtexit {
			indirect++
			handlers = append(handlers, g.Nodes[e.To].Name())
		} else if g.Nodes[e.To].Hub {
			t.Errorf("__run_exit_handlers calls %s (%s)", g.Nodes[e.To].Name(), e.Method)
		}
	}
	for _, want := range []string{"on_exit_handler", "_IO_cleanup", "_dl_fini"} {
		if !slices.Contains(handlers, want) {
			t.Errorf("__run_exit_handlers' handlers %v lack %s", handlers, want)
		}
	}
	if len(runner.Assumed) != 0 {
		t.Errorf("__run_exit_handlers keeps assumed calls: %+v", runner.Assumed)
	}
	if !seen[nodeNamed(t, g, "deep")] {
		t.Errorf("deep, the exit handler's callee, is not reachable from main")
	}

	// FILE vtables.
	fflush := g.Nodes[nodeNamed(t, g, "_IO_fflush")]
	taken := len(g.AddressTaken(libc))
	libio := 0
	for _, e := range fflush.Edges {
		if e.Method != callgraph.MethodLibioVtable {
			continue
		}
		libio++
		hub := g.Nodes[e.To]
		var names []string
		for _, he := range hub.Edges {
			names = append(names, g.Nodes[he.To].Name())
		}
		if !slices.ContainsFunc(names, func(n string) bool {
			return strings.Contains(n, "_IO_new_file_sync") || strings.HasPrefix(n, "_IO_file_sync")
		}) {
			t.Errorf("fflush's jump-table call %s lacks _IO_new_file_sync: %v", hub.Name(), names)
		}
		if len(names) == 0 || len(names)*10 > taken {
			t.Errorf("fflush's jump-table call has %d targets, libc's address-taken set %d", len(names), taken)
		}
	}
	if libio == 0 {
		t.Errorf("_IO_fflush has no libio-vtable edge: %+v", fflush.Assumed)
	}
	for _, a := range fflush.Assumed {
		t.Errorf("_IO_fflush keeps an assumed call at %#x: %s", a.Site, a.Detail)
	}

	// Lazy binding.
	for _, r := range main.Reasons {
		if r.Function != callgraph.LazyResolverName {
			continue
		}
		if !strings.Contains(r.Detail, "'s PLT (first: ") || !strings.Contains(r.Detail, "GOT slot 0x") {
			t.Errorf("lazy-binding reason names no module and slot: %s", r.Detail)
		}
		if strings.Contains(r.Detail, filepath.Base(prog)+"'s PLT") {
			t.Errorf("lazy-binding reason on the program linked with -z now: %s", r.Detail)
		}
	}
}
