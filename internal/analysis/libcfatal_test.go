package analysis

import (
	"bufio"
	"bytes"
	"debug/elf"
	"maps"
	"os/exec"
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

// TestLibcFatalPaths: glibc's calls into its own fatal-error functions
// (__assert_fail, malloc_printerr, __libc_message with do_abort, ...) are
// not followed, and the entries reaching them say so once.
//   - Every cut call is, in objdump's listing of libc.so.6 or ld.so, a call
//     or jump to the address libc6-dbg's symbols give one of those
//     functions, from a function that is not one of them (or, inside one,
//     a check of its own: __libc_message's __stack_chk_fail); next_line's
//     assert and arena_get2's are among them.
//   - libc's free, arena_get2, get_nprocs and next_line, NOT BOUNDED
//     before only through those paths (__assert_fail's gettext and
//     printf, malloc_printerr's __libc_message), are bounded, and each
//     lists the libc-checks premise exactly once; so does main.
//   - With --strict the calls are followed: none is cut, those functions
//     are NOT BOUNDED, free through __libc_message's alloca (a reason main
//     lists with --strict and not without), and no premise is listed.
//   - The program's own assert still counts: main's call to __assert_fail
//     is followed, __assert_fail reaches __assert_fail_base and is NOT
//     BOUNDED (vfprintf's alloca on its message's path), and main lists
//     every reason __assert_fail has.
func TestLibcFatalPaths(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/fatalcheck.c")
	bin := filepath.Join(dir, "fatalcheck")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, src)

	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	g, a := res.Graph, res.Bounds

	// The cuts, checked against objdump.
	cuts := fatalCuts(g)
	if len(cuts) == 0 {
		t.Errorf("no call of glibc into its fatal-error functions is cut")
	}
	byModule := map[*callgraph.Module][]uint64{}
	for site, id := range cuts {
		byModule[g.Nodes[id].Module] = append(byModule[g.Nodes[id].Module], site)
	}
	for m, sites := range byModule {
		fatal := fatalAddrs(t, m)
		targets := directTargets(t, objdump, m.File.Path)
		for _, site := range sites {
			caller := g.Nodes[cuts[site]]
			to, ok := targets[site]
			if !ok || fatal[to.addr] == "" && !slices.Contains(fatalNames, strings.TrimSuffix(to.name, "@plt")) {
				t.Errorf("%s: the call at %#x in %s is cut, but objdump shows no call or jump there to a fatal-error function (target %#x <%s>)", m.Name, site, caller.Name(), to.addr, to.name)
			}
			callee := fatal[to.addr]
			if callee == "" {
				callee = strings.TrimSuffix(to.name, "@plt")
			}
			if fatal[caller.Func.Addr] != "" && !slices.Contains(fatalChecks, callee) {
				t.Errorf("%s: the call at %#x in %s, itself a fatal-error function, to %s, which reports its error, is cut", m.Name, site, caller.Name(), callee)
			}
		}
	}
	// ld.so's _dl_signal_error ends in fatal_error when no catcher is
	// set (a symbol lookup error during lazy binding): print, _exit(127).
	if !slices.ContainsFunc(slices.Collect(maps.Values(cuts)), func(id int) bool {
		n := g.Nodes[id]
		return n.Named("_dl_signal_error") && n.Module != nil && strings.HasPrefix(n.Module.Name, "ld-linux")
	}) {
		t.Errorf("no call of _dl_signal_error (ld.so) into fatal_error is cut")
	}
	for _, name := range []string{"next_line", "arena_get2"} {
		if !slices.ContainsFunc(libcNodesNamed(g, name), func(id int) bool { return slices.Contains(slices.Collect(maps.Values(cuts)), id) }) {
			t.Errorf("no call of %s (libc.so.6) into a fatal-error function is cut", name)
		}
	}

	isPremise := func(as bound.Assumption) bool { return as.Kind == callgraph.PremiseLibcChecks }
	premises := func(id int) int {
		n := 0
		for _, x := range a.Entry(bound.Spec{Name: name(g, id), Node: id}).Assumptions {
			if isPremise(x) {
				n++
			}
		}
		return n
	}
	strict, err := Run(bin, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"free", "arena_get2", "get_nprocs", "next_line"} {
		for _, id := range libcNodesNamed(g, name) {
			if !a.Bounded(id) {
				t.Errorf("%s (libc.so.6) is NOT BOUNDED (%d reasons), though its only unbounded paths are glibc's fatal-error paths", name, len(a.ReasonRanks(id)))
			}
			if n := premises(id); n != 1 {
				t.Errorf("%s (libc.so.6) lists the libc-checks premise %d times, want once", name, n)
			}
		}
		for _, id := range libcNodesNamed(strict.Graph, name) {
			if strict.Bounds.Bounded(id) {
				t.Errorf("with --strict %s (libc.so.6) is bounded: its fatal-error paths were not followed", name)
			}
		}
	}
	if c := fatalCuts(strict.Graph); len(c) != 0 {
		t.Errorf("with --strict %d calls into glibc's fatal-error functions are cut", len(c))
	}
	if ids := libcNodesNamed(strict.Graph, "free"); len(ids) == 0 || !slices.ContainsFunc(reasonsOf(strict.Bounds, ids[0]), func(r bound.Reason) bool {
		return r.Function == "__libc_message (libc.so.6)"
	}) {
		t.Errorf("with --strict free does not reach __libc_message's alloca (malloc_printerr's path)")
	}

	main, smain := entry(t, res, "main"), entry(t, strict, "main")
	if n := len(slices.DeleteFunc(slices.Clone(main.Assumptions), func(x bound.Assumption) bool { return !isPremise(x) })); n != 1 {
		t.Errorf("main lists the libc-checks premise %d times, want once", n)
	}
	if slices.ContainsFunc(smain.Assumptions, isPremise) {
		t.Errorf("with --strict main lists the libc-checks premise")
	}
	inMessage := func(r bound.Reason) bool { return r.Function == "__libc_message (libc.so.6)" }
	if slices.ContainsFunc(main.Reasons, inMessage) || !slices.ContainsFunc(smain.Reasons, inMessage) {
		t.Errorf("__libc_message's alloca: among main's reasons %v, with --strict %v; want only with --strict",
			slices.ContainsFunc(main.Reasons, inMessage), slices.ContainsFunc(smain.Reasons, inMessage))
	}
	t.Logf("main: %d reasons, at least %d B; with --strict %d reasons, at least %d B", len(main.Reasons), main.AtLeast, len(smain.Reasons), smain.AtLeast)

	// The program's own assert.
	mainID := entryNode(t, res, "main")
	var assertID = -1
	for _, e := range g.Nodes[mainID].Edges {
		if g.Nodes[e.To].Named("__assert_fail") {
			assertID = e.To
			if e.Method == callgraph.MethodLibcFatal {
				t.Errorf("main's own call to __assert_fail at %#x is cut", e.Site)
			}
		}
	}
	if assertID < 0 {
		t.Fatalf("main has no edge to __assert_fail")
	}
	if !slices.ContainsFunc(g.Nodes[assertID].Edges, func(e callgraph.Edge) bool { return g.Nodes[e.To].Named("__assert_fail_base") }) {
		t.Errorf("__assert_fail's call to __assert_fail_base is not followed")
	}
	if a.Bounded(assertID) {
		t.Errorf("__assert_fail is bounded: the message's path (vfprintf's alloca) is not followed")
	}
	for _, r := range reasonsOf(a, assertID) {
		if !slices.ContainsFunc(main.Reasons, func(x bound.Reason) bool { return x.Kind == r.Kind && x.Function == r.Function && x.Addr == r.Addr }) {
			t.Errorf("main does not list __assert_fail's reason %s in %s at %#x", r.Kind, r.Function, r.Addr)
		}
	}
}

func name(g *callgraph.Graph, id int) string { return g.QualifiedName(id) }

// fatalCuts maps each call site cut by the model to its caller.
func fatalCuts(g *callgraph.Graph) map[uint64]int {
	out := map[uint64]int{}
	for id, n := range g.Nodes {
		for _, e := range n.Edges {
			if e.Method == callgraph.MethodLibcFatal {
				out[e.Site] = id
			}
		}
	}
	return out
}

// libcNodesNamed returns the nodes of libc.so.6's functions with a name.
func libcNodesNamed(g *callgraph.Graph, name string) []int {
	var out []int
	for _, id := range g.NodesNamed(name) {
		if n := g.Nodes[id]; n.Module != nil && strings.HasPrefix(n.Module.Name, "libc.so") && n.Func != nil {
			out = append(out, id)
		}
	}
	return out
}

func reasonsOf(a *bound.Analysis, id int) []bound.Reason {
	var out []bound.Reason
	for _, r := range a.ReasonRanks(id) {
		out = append(out, a.ReasonAt(r))
	}
	return out
}

// fatalNames are glibc 2.36's fatal-error functions, by its source.
var fatalNames = []string{"__assert_fail", "__assert_perror_fail", "__assert_fail_base", "__libc_fatal", "__libc_message",
	"__fortify_fail", "__chk_fail", "__stack_chk_fail", "malloc_printerr", "_dl_fatal_printf", "fatal_error"}

// fatalChecks are those a failed check calls first: a fatal-error
// function's call to one is a check of its own, cut.
var fatalChecks = []string{"__assert_fail", "__assert_perror_fail", "__chk_fail", "__stack_chk_fail", "malloc_printerr", "fatal_error"}

// fatalAddrs reads the addresses of glibc's fatal-error functions from the
// module's debug file.
func fatalAddrs(t *testing.T, m *callgraph.Module) map[uint64]string {
	t.Helper()
	path := m.File.DebugSymbols
	if path == "" {
		path = m.File.Path
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	out := map[uint64]string{}
	for _, s := range syms {
		if slices.Contains(fatalNames, s.Name) {
			out[s.Value] = s.Name
		}
	}
	return out
}

type objdumpTarget struct {
	addr uint64
	name string // objdump's <symbol>: a PLT stub is <name@plt>
}

// directTargets maps each direct call or jump (conditional ones too: a
// FORTIFY check's `jb __chk_fail`) in objdump's listing of lib to its
// target.
func directTargets(t *testing.T, objdump, lib string) map[uint64]objdumpTarget {
	t.Helper()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", lib).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	re := regexp.MustCompile(`^\s*([0-9a-f]+):\s+(?:call|j[a-z]+)\s+([0-9a-f]+) <([^>+]*)`)
	targets := map[uint64]objdumpTarget{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			site, _ := strconv.ParseUint(m[1], 16, 64)
			to, _ := strconv.ParseUint(m[2], 16, 64)
			targets[site] = objdumpTarget{to, m[3]}
		}
	}
	return targets
}
