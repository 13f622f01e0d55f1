package callgraph

import (
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/riscv"
	"github.com/stackscope/stackscope/internal/isa/thumb"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestFuncNodes: the table of a module's function nodes answers as the
// map it replaced did: no node until set (node 0 too is a node), the
// count of functions with one, a function index past the file's (grown
// to), and every node once, in function order.
func TestFuncNodes(t *testing.T) {
	tab := newFuncNodes(4)
	if _, ok := tab.get(2); ok || tab.has(2) || tab.len() != 0 {
		t.Fatal("an empty table has a node")
	}
	tab.set(2, 0)
	tab.set(0, 7)
	tab.set(2, 0) // again: counted once
	tab.set(6, 9) // past the file's functions
	if id, ok := tab.get(2); !ok || id != 0 {
		t.Errorf("function 2: %d %v, want node 0", id, ok)
	}
	if id, ok := tab.get(6); !ok || id != 9 {
		t.Errorf("function 6: %d %v, want node 9", id, ok)
	}
	for _, fi := range []int{-1, 1, 3, 5, 7, 100} {
		if tab.has(fi) {
			t.Errorf("function %d has a node", fi)
		}
	}
	if tab.len() != 3 {
		t.Errorf("len %d, want 3", tab.len())
	}
	if got := slices.Collect(tab.all()); !slices.Equal(got, []int{7, 0, 9}) {
		t.Errorf("nodes %v, want [7 0 9] (function order)", got)
	}
	var first []int
	for id := range tab.all() {
		first = append(first, id)
		break
	}
	if !slices.Equal(first, []int{7}) {
		t.Errorf("all, stopped after one: %v", first)
	}
}

// TestNoLinkRegister: checkReturn is skipped only for a decoder the frame
// walker follows no link register with (x86-64): a Thumb or RISC-V frame
// can return elsewhere.
func TestNoLinkRegister(t *testing.T) {
	if hasLinkRegister(x86.Decoder{}) {
		t.Error("x86-64 has a link register")
	}
	if !hasLinkRegister(thumb.Decoder{}) || !hasLinkRegister(riscv.Decoder{}) {
		t.Error("Thumb or RISC-V has no link register")
	}
	if (&Graph{}).noLinkRegister {
		t.Error("a graph not made by Build skips checkReturn")
	}
}
