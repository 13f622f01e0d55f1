package analysis

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestRtldUniqueSymFree: do_lookup_x's call of the unique-symbol table's
// free function (the one `call *off(%reg)` through a pointer that
// objdump shows in do_lookup_x, with a `mov %r,off(%reg)` at the same
// offset) goes, by one glibc-model edge, to the node a call through
// __rtld_free goes to (a call of ld.so whose operand names that word, by
// its debug symbols), so to the same targets, and not to ld.so's
// address-taken set; with --strict it is not modelled.
func TestRtldUniqueSymFree(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libcmodel.c")
	prog := filepath.Join(dir, "libcmodel")
	testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,now", "-o", prog, src)
	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ld := ldso(t, res)
	g := res.Graph
	lookups := g.NodesNamed("do_lookup_x")
	if len(lookups) == 0 {
		t.Fatal("no do_lookup_x in the graph")
	}
	lookup := lookups[0]
	fn := g.Nodes[lookup].Func
	out := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(fn.Addr, 10),
		"--stop-address="+strconv.FormatUint(fn.Addr+fn.Size, 10), ld.File.Path)
	var site uint64
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^\s*([0-9a-f]+):\s+call\s+\*(0x[0-9a-f]+)\((%r[a-z0-9]+)\)\s*$`).FindAllStringSubmatch(out, -1) {
		if m[3] == "%rsp" || m[3] == "%rip" {
			continue
		}
		if !regexp.MustCompile(`mov\s+%r[a-z0-9]+,` + regexp.QuoteMeta(m[2]) + `\(%r`).MatchString(out) {
			continue
		}
		site, _ = strconv.ParseUint(m[1], 16, 64)
		n++
	}
	if n != 1 {
		t.Fatalf("objdump shows %d calls through a stored field in do_lookup_x, want the one tab->free:\n%s", n, out)
	}

	// The node a call through __rtld_free goes to.
	word := objectAddr(t, ld, "__rtld_free")
	freeHub := -1
	for _, nd := range g.Nodes {
		if nd.Module != ld || nd.Func == nil || freeHub >= 0 {
			continue
		}
		for _, cs := range nd.Frame.Calls {
			if cs.Kind.Indirect() && cs.HasSlot && cs.Slot == word {
				for _, e := range nd.Edges {
					if e.Site == cs.Addr && e.Method == callgraph.MethodGlibcModel {
						freeHub = e.To
					}
				}
			}
		}
	}
	if freeHub < 0 {
		t.Fatalf("no call through __rtld_free (%#x) in the graph goes to the glibc model: nothing to compare with", word)
	}
	var wantNames []string
	for _, e := range g.Nodes[freeHub].Edges {
		wantNames = append(wantNames, g.QualifiedName(e.To))
	}
	slices.Sort(wantNames)

	var hubs []int
	for _, e := range g.Nodes[lookup].Edges {
		if e.Site != site {
			continue
		}
		if e.Method != callgraph.MethodGlibcModel {
			t.Errorf("do_lookup_x's call at %#x has an edge by %s to %s, want only the glibc model's", site, e.Method, g.QualifiedName(e.To))
		}
		if strings.HasPrefix(g.Nodes[e.To].Name(), "[any of ") {
			t.Errorf("do_lookup_x's call at %#x goes to the address-taken set %s", site, g.Nodes[e.To].Name())
		}
		hubs = append(hubs, e.To)
	}
	_, targets := siteTargets(res, lookup, site)
	var names []string
	for _, to := range targets {
		names = append(names, g.QualifiedName(to))
	}
	slices.Sort(names)
	t.Logf("do_lookup_x's call at %#x goes to %v; a call through __rtld_free to %v", site, names, wantNames)
	if len(hubs) != 1 || hubs[0] != freeHub || !slices.Equal(names, wantNames) {
		t.Errorf("do_lookup_x's call at %#x goes to %v (nodes %v), want the __rtld_free call's node %d: %v", site, names, hubs, freeHub, wantNames)
	}

	strict, err := Run(prog, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range strict.Graph.NodesNamed("do_lookup_x") {
		for _, e := range strict.Graph.Nodes[id].Edges {
			if e.Site == site && e.Method == callgraph.MethodGlibcModel {
				t.Errorf("with --strict, the call at %#x still goes to the model", site)
			}
		}
	}
}
