package analysis

import (
	"bufio"
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestPLTStubNames: a PLT stub that code reaches other than by a direct
// call is a node named as objdump names it (testdata/x86/pltptr.c, a
// non-PIE program passing strcmp to qsort: the pointer is strcmp@plt's
// address):
//   - the program's address-taken set holds the stub, under objdump's
//     name for that address, and the stub's edges go on to libc's strcmp
//     (the ifunc's implementations): qsort's callback is not lost;
//   - no node of the program is named code_ADDR inside the PLT.
func TestPLTStubNames(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/pltptr.c")
	prog := filepath.Join(dir, "pltptr")
	testutil.Run(t, dir, gcc, "-O2", "-no-pie", "-fno-pie", "-o", prog, src)

	// objdump's names of the PLT stubs, by address.
	want := map[uint64]string{}
	out := testutil.Run(t, dir, objdump, "-d", "-j", ".plt", "-j", ".plt.sec", prog)
	stub := regexp.MustCompile(`^([0-9a-f]+) <(\S+@plt)>:$`)
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		if m := stub.FindStringSubmatch(sc.Text()); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			want[a] = m[2]
		}
	}
	if len(want) == 0 {
		t.Fatalf("objdump names no PLT stub in %s", prog)
	}

	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	prg := g.Modules[0]
	found := false
	for _, id := range g.AddressTaken(prg) {
		n := g.Nodes[id]
		if n.Func == nil || !prg.File.InPLT(n.Func.Addr) {
			continue
		}
		if w, ok := want[n.Func.Addr]; !ok || w != n.Name() {
			t.Errorf("the stub at %#x is named %q, objdump names it %q", n.Func.Addr, n.Name(), w)
		}
		if n.Name() != "strcmp@plt" {
			continue
		}
		found = true
		toStrcmp := false
		for id := range reachableFrom(g, id) {
			if m := g.Nodes[id]; m.Module != nil && m.Module != prg && strings.Contains(m.Name(), "strcmp") {
				toStrcmp = true
			}
		}
		if !toStrcmp {
			t.Errorf("strcmp@plt reaches no strcmp of libc: edges %+v", n.Edges)
		}
	}
	if !found {
		t.Errorf("strcmp@plt is not in the program's address-taken set")
	}
	for _, n := range g.Nodes {
		if n.Module == prg && n.Func != nil && prg.File.InPLT(n.Func.Addr) && strings.HasPrefix(n.Name(), "code_") {
			t.Errorf("a node in the PLT has no stub name: %s", n.Name())
		}
	}
}
