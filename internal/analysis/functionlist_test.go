package analysis

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
)

// TestSortByAddrIsSortSlice: the function list's sort puts functions in
// the order sort.Slice on the list itself gives, functions at one
// address (copies of a function) included, whatever order they come in:
// lists of every length up to a few hundred and larger ones, most
// addresses shared by several functions.
func TestSortByAddrIsSortSlice(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 2, 3, 7, 12, 13, 50, 200, 1000, 5000} {
		for trial := 0; trial < 20; trial++ {
			list := make([]Function, n)
			for i := range list {
				list[i] = Function{Name: fmt.Sprint(i), Addr: uint64(r.Intn(max(n/3, 1)))}
				if trial%4 == 0 {
					list[i].Addr = uint64(i / 3) // nearly sorted: pdqsort's other paths
				}
			}
			want := append([]Function(nil), list...)
			sort.Slice(want, func(i, j int) bool { return want[i].Addr < want[j].Addr })
			sortByAddr(list)
			for i := range list {
				if list[i].Name != want[i].Name {
					t.Fatalf("%d functions, trial %d: at %d %s (%#x), sort.Slice gives %s (%#x)", n, trial, i, list[i].Name, list[i].Addr, want[i].Name, want[i].Addr)
				}
			}
		}
	}
}

// TestCalleeNamesOncePerCallee: each callee named once, in the order of
// its first edge, the list exactly that long, across lists made one
// after the other (the marks of one list are not the next one's).
func TestCalleeNamesOncePerCallee(t *testing.T) {
	g := &callgraph.Graph{Modules: []*callgraph.Module{{}}}
	for i := 0; i < 6; i++ {
		n := callgraph.NewNode(fmt.Sprint("f", i), frame.Frame{})
		n.Module = g.Modules[0]
		g.Nodes = append(g.Nodes, n)
	}
	c := newCalleeNames(g, false)
	edges := func(to ...int) []callgraph.Edge {
		var out []callgraph.Edge
		for _, x := range to {
			out = append(out, callgraph.Edge{To: x})
		}
		return out
	}
	for _, tc := range []struct {
		to   []int
		want string
	}{
		{nil, "[]"},
		{[]int{3, 1, 3, 3, 1, 5}, "[f3 f1 f5]"},
		{[]int{1, 3}, "[f1 f3]"},
		{[]int{5, 5, 5}, "[f5]"},
	} {
		got := c.calls(edges(tc.to...))
		if fmt.Sprint(got) != tc.want || len(got) != cap(got) || got == nil {
			t.Errorf("calls %v: %v (cap %d), want %s", tc.to, got, cap(got), tc.want)
		}
	}
	c.mark = ^uint32(0) // the marks wrap: a node marked long ago is not taken as named
	c.seen[2] = 1       // (the mark the next list's count will use)
	if got := c.calls(edges(2, 2, 4, 5)); fmt.Sprint(got) != "[f2 f4 f5]" || cap(got) != 3 {
		t.Errorf("after the marks wrapped: %v (cap %d)", got, cap(got))
	}
}
