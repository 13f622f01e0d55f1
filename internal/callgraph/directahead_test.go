package callgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestDirectAheadSameGraph: the graph built with the program's direct
// calls looked up ahead on another goroutine (directahead.go) is the graph
// built without: the same nodes, edges (in order, with their sites and
// methods, and the room of each node's list), unresolved calls and bad
// targets. Once with every answer
// handed over before the resolution starts, so that each program node is
// resolved with them, and once as the goroutine runs (under -race, side by
// side with the resolution). The program, compiled here, has 600
// functions calling each other directly, libc through its PLT, and
// through function pointers; chunks of 7 nodes, so that nodes and their
// calls straddle the chunks' ends.
func TestDirectAheadSameGraph(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n")
	const funcs = 600
	for i := range funcs {
		fmt.Fprintf(&src, "int f%d(int x);\n", i)
	}
	src.WriteString("static int (*table[])(int) = {f1, f7, f42};\n")
	for i := range funcs {
		fmt.Fprintf(&src, "__attribute__((noinline)) int f%d(int x) {\n", i)
		fmt.Fprintf(&src, "\tif (x <= 0) return %d;\n", i)
		for _, c := range []int{(i*7 + 3) % funcs, (i*13 + 5) % funcs} {
			fmt.Fprintf(&src, "\tx += f%d(x - %d);\n", c, 1+i%3)
		}
		switch i % 5 {
		case 0:
			src.WriteString("\tprintf(\"%d\\n\", x);\n")
		case 1:
			src.WriteString("\tx += (int)strlen((char *)&x);\n")
		case 2:
			src.WriteString("\tx += table[x % 3](x - 1);\n")
		}
		src.WriteString("\treturn x;\n}\n")
	}
	src.WriteString("int main(int argc, char **argv) { return f0(argc) + atoi(argv[0]); }\n")
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-O1", "-fno-inline", "-o", "prog", "prog.c")
	defer func(min, nodes int) { directAheadMin, directChunkNodes = min, nodes }(directAheadMin, directChunkNodes)
	directAheadMin, directChunkNodes = 1, 7
	type built struct {
		lines         []string
		hinted, nodes int
	}
	build := func(on, first bool) built {
		defer func(o, f bool) { directAheadOn, directAheadFirst = o, f }(directAheadOn, directAheadFirst)
		directAheadOn, directAheadFirst = on, first
		f, err := binfile.Open(filepath.Join(dir, "prog"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Workers: 2, Libraries: libcache.Memory()})
		if g.direct != nil {
			t.Fatal("the answers looked up ahead are kept after Build")
		}
		out := built{hinted: g.directHinted, nodes: len(f.Functions)}
		for id, n := range g.Nodes {
			out.lines = append(out.lines, fmt.Sprintf("%d %s %s (room for %d edges)", id, g.QualifiedName(id), n.Frame.Reason, cap(n.Edges)))
			for _, e := range n.Edges {
				out.lines = append(out.lines, fmt.Sprintf("  -> %d %s %s %#x %v", e.To, g.QualifiedName(e.To), e.Method, e.Site, e.Kind))
			}
			for _, cs := range n.Unresolved {
				out.lines = append(out.lines, fmt.Sprintf("  unresolved %#x %#x %v", cs.Addr, cs.Target, cs.Kind))
			}
			for _, cs := range n.BadTargets() {
				out.lines = append(out.lines, fmt.Sprintf("  bad target %#x %#x", cs.Addr, cs.Target))
			}
		}
		return out
	}
	without := build(false, false)
	if without.hinted != 0 {
		t.Fatalf("without the lookups ahead, %d nodes resolved with them", without.hinted)
	}
	direct := 0
	for _, l := range without.lines {
		if strings.Contains(l, " direct ") {
			direct++
		}
	}
	if direct < 2*funcs {
		t.Fatalf("only %d direct edges: the test program no longer has the calls it was written with", direct)
	}
	for _, first := range []bool{true, false} {
		with := build(true, first)
		if first && with.hinted != with.nodes {
			t.Errorf("with every answer handed over first, %d of the program's %d nodes resolved with them", with.hinted, with.nodes)
		}
		if !slices.Equal(without.lines, with.lines) {
			for i := range min(len(without.lines), len(with.lines)) {
				if without.lines[i] != with.lines[i] {
					t.Fatalf("handed over first %v: graphs differ at line %d: %q without, %q with", first, i, without.lines[i], with.lines[i])
				}
			}
			t.Fatalf("handed over first %v: %d lines without, %d with", first, len(without.lines), len(with.lines))
		}
		t.Logf("handed over first %v: %d of %d program nodes resolved with the answers", first, with.hinted, with.nodes)
	}
}
