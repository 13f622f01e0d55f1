package callgraph

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestDecodeLinearJumpTables: decodeLinear reads the indirect jumps of
// testdata/jumptables.S (assembled at test time). A cmp/ja-bounded switch
// and a computed goto whose label every path loads with lea add their
// targets (objdump's reading of the labels) to the branch sources, from
// the jump; a goto that one path loads from memory, a jump through a
// loaded register in a function the frame walk says has a jump table, and
// a table with an entry inside an instruction are refused. A switch whose
// default case branches over the lookup to a join before the jump adds
// its cases and the default label; loaded from memory on that path
// instead, it is refused. A table base kept in a callee-saved register
// across a call is read; in a caller-saved one, refused.
func TestDecodeLinearJumpTables(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	f := asmLib(t, "jumptables")
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	m := g.Modules[0]
	node := func(name string) *Node {
		ids := g.NodesNamed(name)
		if len(ids) == 0 {
			t.Fatalf("no %s", name)
		}
		return g.Nodes[ids[0]]
	}
	// The jumps and what they land on, by objdump: the jump's address,
	// and the addresses of the instructions the case labels name.
	jumpIn := func(n *Node) uint64 {
		out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(n.Func.Addr, 10),
			"--stop-address="+strconv.FormatUint(n.Func.Addr+n.Func.Size, 10), f.Path).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "jmp    *%rax") {
				a, _ := strconv.ParseUint(strings.TrimSpace(strings.Split(l, ":")[0]), 16, 64)
				return a
			}
		}
		t.Fatalf("objdump shows no jmp *%%rax in %s", n.Name())
		return 0
	}
	for _, c := range []struct {
		fn    string
		ok    bool
		lands []int // instruction indexes after the jump (1: the next one)
	}{
		{"sw_table", true, []int{1, 3, 5}},
		{"goto_const", true, []int{1, 3}},
		{"goto_loaded", false, nil},
		{"jump_unresolved", false, nil},
		{"sw_misaligned", false, nil},
		{"sw_joined", true, []int{1, 3, 5, 7}},
		{"sw_joined_loaded", false, nil},
		{"sw_saved", true, []int{1, 3, 5}},
		{"sw_clobbered", false, nil},
	} {
		n := node(c.fn)
		jmp := jumpIn(n)
		insts, from, ok := g.decodeLinear(m, n)
		if ok != c.ok {
			t.Errorf("%s: decodeLinear ok=%v, want %v (frame: %d jump tables)", c.fn, ok, c.ok, n.Frame.JumpTables)
			continue
		}
		if !ok {
			continue
		}
		i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == jmp })
		if i < 0 {
			t.Fatalf("%s: the jump at %#x is not an instruction of the decode", c.fn, jmp)
		}
		var want []uint64
		for _, k := range c.lands {
			want = append(want, insts[i+k].addr)
		}
		var got []uint64
		for to, srcs := range from {
			if slices.Contains(srcs, jmp) {
				got = append(got, to)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the jump at %#x lands on %#x, want %#x", c.fn, jmp, got, want)
		}
	}
}

// TestDecodeLinearMatchesObjdump: decodeLinear's instructions of libc
// functions (a program followed into libc) start where objdump's do, up
// to where the decode stops, and each carries the Effect the decoder
// gives for its bytes on their own.
func TestDecodeLinearMatchesObjdump(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	prog := buildC(t, t.TempDir(), "lin", `#include <stdio.h>
int main(int argc, char **argv) { printf("%s %d\n", argv[0], argc); return 0; }
`)
	g := buildModelled(t, prog)
	dec := x86.Decoder{}
	checked, insts := 0, 0
	for id, n := range g.Nodes {
		if checked == 40 {
			break
		}
		if n.Func == nil || n.Module == nil || !strings.HasPrefix(n.Module.Name, "libc.so") || g.Original(id) != id ||
			n.Func.Size < 64 || n.Func.Size > 2048 || id%7 != 0 {
			continue
		}
		lin, _, ok := g.decodeLinear(n.Module, n)
		if !ok {
			continue
		}
		out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(n.Func.Addr, 10),
			"--stop-address="+strconv.FormatUint(n.Func.Addr+n.Func.Size, 10), n.Module.File.Path).Output()
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, l := range strings.Split(string(out), "\n") {
			head, _, found := strings.Cut(l, ":\t")
			if !found {
				continue
			}
			if a, err := strconv.ParseUint(strings.TrimSpace(head), 16, 64); err == nil {
				want = append(want, a)
			}
		}
		if len(lin) == 0 || len(lin) > len(want) {
			t.Fatalf("%s: decodeLinear gave %d instructions, objdump %d", n.Name(), len(lin), len(want))
		}
		code, err := n.Module.File.Code(n.Func.Addr, n.Func.Size)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range lin {
			if in.addr != want[i] {
				t.Fatalf("%s: instruction %d at %#x, objdump's at %#x", n.Name(), i, in.addr, want[i])
			}
			e, err := dec.Decode(code[in.addr-n.Func.Addr:], in.addr)
			if err != nil || e != in.e {
				t.Fatalf("%s: the Effect at %#x is not the decoder's (%v)", n.Name(), in.addr, err)
			}
		}
		checked++
		insts += len(lin)
	}
	if checked < 20 {
		t.Fatalf("only %d libc functions compared", checked)
	}
	t.Logf("%d functions, %d instructions", checked, insts)
}
