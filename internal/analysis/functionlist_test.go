package analysis

import (
	"fmt"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
)

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
