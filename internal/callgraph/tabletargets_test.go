package callgraph

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestTableTargetsFollowTheFrame: decodeLinear's answer for a function
// follows the frame of the node asked about, also when a model replaced
// the frame after an earlier ask in the same graph (tableTargetsOnce
// keeps its answers by function and jumps). sw_tail (testdata/tabletail.S,
// assembled at test time) has a switch read through a table and a tail
// call through its third argument. With the frame walk's frame (both
// jumps counted as tables) the tail call's jump is no table: not ok. With
// a frame that lists that jump as a tail call and has no table, the
// decode is ok and the table's jump lands on the three cases (objdump's
// jump addresses). Each answer must be the same whichever frame was asked
// about first, and the same as a graph that saw only that frame.
func TestTableTargetsFollowTheFrame(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	f := asmLib(t, "tabletail")
	build := func() (*Graph, *Node) {
		g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
		ids := g.NodesNamed("sw_tail")
		if len(ids) == 0 {
			t.Fatal("no sw_tail")
		}
		return g, g.Nodes[ids[0]]
	}
	g, n := build()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(n.Func.Addr, 10),
		"--stop-address="+strconv.FormatUint(n.Func.Addr+n.Func.Size, 10), f.Path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var jumps []uint64 // the table's jump, then the tail call's
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "jmp    *%rax") {
			a, _ := strconv.ParseUint(strings.TrimSpace(strings.Split(l, ":")[0]), 16, 64)
			jumps = append(jumps, a)
		}
	}
	if len(jumps) != 2 {
		t.Fatalf("objdump shows %d jmp *%%rax in sw_tail, want 2:\n%s", len(jumps), out)
	}
	tableJump, tailJumpAt := jumps[0], jumps[1]

	// The walk's frame: the cases are reached only through the table,
	// so both jumps count as tables and neither is a tail call.
	tables := n.Frame
	if tables.JumpTables == 0 || slices.ContainsFunc(tables.Calls, func(cs frame.CallSite) bool { return cs.Kind == frame.IndirectTailCall }) {
		t.Fatalf("the walk's frame of sw_tail: %d jump tables, calls %+v; want tables and no indirect tail call", tables.JumpTables, tables.Calls)
	}
	// A frame as a walk that reached the cases by direct paths would
	// make it: no table, the second jump a tail call.
	tail := tables
	tail.JumpTables = 0
	tail.Calls = append(slices.Clone(tables.Calls), frame.CallSite{Addr: tailJumpAt, Kind: frame.IndirectTailCall, Depth: 8})

	// answer is decodeLinear's answer for n: ok, and where the table's
	// jump lands.
	answer := func(g *Graph, n *Node) (bool, []uint64) {
		insts, from, ok := g.decodeLinear(n.Module, n)
		if !ok {
			return false, nil
		}
		var lands []uint64
		for to, srcs := range from {
			if slices.Contains(srcs, tableJump) {
				lands = append(lands, to)
			}
		}
		slices.Sort(lands)
		if len(insts) == 0 {
			t.Fatal("an ok decode with no instructions")
		}
		return true, lands
	}
	// The cases: the 1st, 3rd and 5th instructions after the table's
	// jump (mov; ret each).
	var cases []uint64
	{
		insts, _, _ := g.decodeLinearNow(n.Module, &Node{Func: n.Func, Module: n.Module, Frame: tail})
		i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == tableJump })
		if i < 0 || i+5 >= len(insts) {
			t.Fatalf("the table's jump at %#x is not an instruction of the decode", tableJump)
		}
		cases = []uint64{insts[i+1].addr, insts[i+3].addr, insts[i+5].addr}
	}
	want := func(what string, fr frame.Frame, ok bool, lands []uint64) {
		t.Helper()
		if !ok {
			lands = nil
		}
		wantOK, wantLands := fr.JumpTables == 0, []uint64(nil)
		if wantOK {
			wantLands = cases
		}
		if ok != wantOK || !slices.Equal(lands, wantLands) {
			t.Errorf("%s: decodeLinear ok=%v, the table lands on %#x; want ok=%v, %#x", what, ok, lands, wantOK, wantLands)
		}
	}

	// Each frame alone, in a graph of its own.
	for _, c := range []struct {
		what string
		fr   frame.Frame
	}{{"the walk's frame alone", tables}, {"the tail-call frame alone", tail}} {
		g, n := build()
		n.Frame = c.fr
		ok, lands := answer(g, n)
		want(c.what, c.fr, ok, lands)
	}
	// One frame asked about, then replaced by the other (as
	// boundLoaderVLAs replaces a frame), in either order.
	for _, c := range []struct {
		what          string
		first, second frame.Frame
	}{{"the walk's frame, then the tail-call frame", tables, tail}, {"the tail-call frame, then the walk's frame", tail, tables}} {
		g, n := build()
		n.Frame = c.first
		ok, lands := answer(g, n)
		want(c.what+" (first ask)", c.first, ok, lands)
		n.Frame = c.second
		ok, lands = answer(g, n)
		want(c.what+" (second ask)", c.second, ok, lands)
	}
}
