package callgraph

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildModelled builds a program's graph the way analysis does: names
// its start, models __libc_start_main, resolves and models the runtime.
func buildModelled(t *testing.T, prog string) *Graph {
	t.Helper()
	return buildModelledOpts(t, prog, Options{FollowLibraries: true, StackAlign: 16})
}

// buildModelledOpts is buildModelled with other options (--strict).
func buildModelledOpts(t *testing.T, prog string, opts Options) *Graph {
	t.Helper()
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	dec := x86.Decoder{}
	ps, ok := FindStart(f, dec)
	if !ok {
		t.Fatalf("%s: no program start found", prog)
	}
	g := Build(f, dec, opts)
	if _, ok := g.ModelStart(ps, LibcStartOptions{}); !ok {
		t.Fatalf("%s: __libc_start_main not modelled", prog)
	}
	g.Resolve()
	g.ModelRuntime()
	return g
}

// libcNode returns the node of libc's function of that name (not a
// summary or copy of it).
func libcNode(t *testing.T, g *Graph, name string) int {
	t.Helper()
	for _, id := range g.NodesNamed(name) {
		n := g.Nodes[id]
		if n.Module != nil && strings.HasPrefix(n.Module.Name, "libc.so") && n.Summary == "" && !n.Hub && g.Original(id) == id {
			return id
		}
	}
	t.Fatalf("no node of libc's %s", name)
	return -1
}

// TestImportRootsCalledOnly: a PIE program's _start calls
// __libc_start_main through its GOT word (GLOB_DAT), and nothing else
// uses that word: the generic __libc_start_main (whose init-function
// calls go to libc's address-taken set) is not a root of the program;
// the call is the start model's edge. A program that loads a libc
// function's address from its GOT word into a variable keeps that
// function as a root, and so reaches what it calls.
func TestImportRootsCalledOnly(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n"), 0o644)
	we := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-pie", "-fPIE", "-Wl,-z,now", "-o", we, src)
	// The test's premise: _start calls through the GLOB_DAT word.
	if out := testutil.Run(t, dir, testutil.RequireTool(t, "objdump"), "-d", "--no-show-raw-insn", we); !strings.Contains(out, "call   *") || !strings.Contains(out, "__libc_start_main") {
		t.Fatalf("%s: _start does not call __libc_start_main through its GOT word:\n%s", we, out)
	}
	g := buildModelled(t, we)
	roots := g.programRoots()
	lsm := libcNode(t, g, "__libc_start_main")
	if slices.Contains(roots, lsm) {
		t.Errorf("the generic __libc_start_main (libc) is a root of a PIE program whose _start only calls through its GOT word")
	}

	src = filepath.Join(dir, "taken.c")
	os.WriteFile(src, []byte(`#include <stdlib.h>
#include <string.h>
static int cmp(const void *a, const void *b) { return *(const char *)a - *(const char *)b; }
char *(*volatile pick)(char *, const char *, char **);
int main(int argc, char **argv) {
	char *save;
	pick = strtok_r;
	qsort(argv[0], strlen(argv[0]), 1, cmp);
	return pick(argv[0], ",", &save) != 0;
}
`), 0o644)
	taken := filepath.Join(dir, "taken")
	testutil.Run(t, dir, gcc, "-O2", "-pie", "-fPIE", "-Wl,-z,now", "-o", taken, src)
	g = buildModelled(t, taken)
	roots = g.programRoots()
	tok := libcNode(t, g, "strtok_r")
	if !slices.Contains(roots, tok) {
		t.Errorf("strtok_r, whose address the program loads from its GOT word into a variable, is not a root")
	}
	reached := g.reachable(roots)
	for _, e := range g.Nodes[tok].Edges {
		if !reached[e.To] {
			t.Errorf("strtok_r's callee %s is not reachable from the program's roots", g.Nodes[e.To].Name())
		}
	}
	if slices.Contains(roots, libcNode(t, g, "__libc_start_main")) {
		t.Errorf("the generic __libc_start_main is a root of the second program")
	}
}
