package callgraph

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// dataInCodeSource is a program whose .text holds, after a one-byte
// function (before), 4 KiB that no function covers and that do not
// decode (0x06 is no instruction in 64-bit mode), as OpenSSL's assembly
// keeps its tables in .text.
const dataInCodeSource = `#include <unistd.h>
#include <stdlib.h>
__asm__(".text\n.globl before\n.type before,@function\nbefore: ret\n.size before, 1\n.fill 4096,1,0x06\n");
int main(void){write(1,"hi\n",3);exit(0);}
`

// buildPIE compiles src as a PIE program whose _start calls
// __libc_start_main through its GOT word, and returns its modelled graph.
func buildPIE(t *testing.T, src string) *Graph {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	c := filepath.Join(dir, "p.c")
	os.WriteFile(c, []byte(src), 0o644)
	prog := filepath.Join(dir, "p")
	testutil.Run(t, dir, gcc, "-O2", "-pie", "-fPIE", "-Wl,-z,now", "-o", prog, c)
	return buildModelled(t, prog)
}

type sweptInst struct {
	pc uint64
	n  int
}

// sweepAll returns the instructions the sequential sweep of m visits, in
// order, and its completeness.
func sweepAll(g *Graph, m *Module) ([]sweptInst, bool) {
	var all []sweptInst
	complete := g.sweepFlow(m, func(pc uint64, code []byte, e *isa.Effect) bool {
		all = append(all, sweptInst{pc, e.Len})
		return true
	})
	return all, complete
}

// TestSweepUntilMatchesSweep: a sweep with a halt that never ends (its
// parts cut again around the gaps between functions, and swept gaps
// first, gapsFirst) visits exactly the instructions the sequential sweep
// visits, and says the same of its completeness, for libc, a program and
// a program with undecodable data in its code, whatever the number of
// workers.
func TestSweepUntilMatchesSweep(t *testing.T) {
	g, libc := libcGraph(t, false)
	data := buildPIE(t, dataInCodeSource)
	for _, c := range []struct {
		g *Graph
		m *Module
	}{{g, g.Modules[0]}, {g, libc}, {data, data.Modules[0]}} {
		want, wantComplete := sweepAll(c.g, c.m)
		if len(want) < 50 {
			t.Fatalf("%s: the sequential sweep visited %d instructions", c.m.Name, len(want))
		}
		for _, workers := range []int{1, 2, 3, 7} {
			got := make([][]sweptInst, workers)
			complete := c.g.sweepFlowUntil(c.m, workers, &sweepHalt{}, func(w int) func(uint64, []byte, *isa.Effect) bool {
				return func(pc uint64, code []byte, e *isa.Effect) bool {
					got[w] = append(got[w], sweptInst{pc, e.Len})
					return true
				}
			})
			all := slices.Concat(got...)
			slices.SortFunc(all, func(a, b sweptInst) int { return cmp.Compare(a.pc, b.pc) })
			if complete != wantComplete {
				t.Errorf("%s, %d workers: complete %v, the sequential sweep's %v", c.m.Name, workers, complete, wantComplete)
			}
			if !slices.Equal(all, want) {
				t.Errorf("%s, %d workers: %d instructions visited, the sequential sweep %d (or not the same)", c.m.Name, workers, len(all), len(want))
			}
		}
	}
}

// TestSweepUntilEndsAtData: the sweep of a program whose code holds 4 KiB
// of data ends at its first byte when an incomplete sweep settles the
// answer: on one worker it visits the function before the data (swept
// first, the largest gap) and nothing else, and says it is incomplete,
// as the sequential sweep does. escapingImports' answer is the one an
// incomplete sweep gives: __libc_start_main, which _start only calls
// through its GOT word, stays escaping; the same program without the
// data lets it go.
func TestSweepUntilEndsAtData(t *testing.T) {
	g := buildPIE(t, dataInCodeSource)
	m := g.Modules[0]
	want, wantComplete := sweepAll(g, m)
	if wantComplete {
		t.Fatalf("the test's premise: the sequential sweep of %s decodes in full", m.File.Path)
	}
	before, ok := m.File.Lookup("before")
	if !ok {
		t.Fatal("no function before in the program")
	}
	var got []sweptInst
	var calls atomic.Int32
	complete := g.sweepFlowUntil(m, 1, &sweepHalt{onIncomplete: true}, func(int) func(uint64, []byte, *isa.Effect) bool {
		calls.Add(1)
		return func(pc uint64, code []byte, e *isa.Effect) bool {
			got = append(got, sweptInst{pc, e.Len})
			return true
		}
	})
	if complete {
		t.Errorf("the halted sweep says it is complete")
	}
	if len(got) == 0 || len(got) >= len(want) {
		t.Errorf("the halted sweep visited %d instructions, the whole sweep %d", len(got), len(want))
	}
	for _, in := range got {
		if in.pc < before.Addr || in.pc >= before.Addr+1+4096 {
			t.Errorf("the halted sweep visited %#x, outside the function before the data (%#x) and the data", in.pc, before.Addr)
		}
	}

	escaping := func(g *Graph) bool {
		imp, ok := g.escapingImports(g.Modules[0])
		if !ok {
			t.Fatalf("%s: no imports read", g.Modules[0].File.Path)
		}
		for name := range imp {
			if strings.HasPrefix(name, "__libc_start_main") {
				return true
			}
		}
		return false
	}
	if !escaping(g) {
		t.Errorf("with data in the code, __libc_start_main is not among the escaping imports (the sweep is incomplete)")
	}
	plain := buildPIE(t, "#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n")
	if escaping(plain) {
		t.Errorf("without data in the code, __libc_start_main, only called through its GOT word, is escaping")
	}
}
