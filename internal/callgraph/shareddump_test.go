package callgraph

import (
	"fmt"
	"strings"
)

// The tests of what a run over many programs shares (argshared_test.go,
// sharedmodels_test.go, sharedresolve_test.go) compare a program's graph
// built after or beside another with its graph built alone, through one
// dump of everything a report reads of each node.

// graphLines is one line per node of g, in id order: its module and
// name, summary, hub and external marks, the copy it is of, its frame
// (kind, size, reason, calls with their kind and depth), recursion depth,
// premises, edges, unresolved calls with why, and assumed calls.
func graphLines(g *Graph) []string {
	var out []string
	for id, n := range g.Nodes {
		mod := ""
		if n.Module != nil {
			mod = n.Module.Name
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d %s!%q summary=%q hub=%v ext=%v copy-of=%d kind=%v size=%d reason=%q depth=%d",
			id, mod, n.Name(), n.Summary, n.Hub, n.External, g.Original(id), n.Frame.Kind, n.Frame.Size, n.Frame.Reason, n.RecursionDepth)
		for _, cs := range n.Frame.Calls {
			fmt.Fprintf(&b, " call{%#x %v %d}", cs.Addr, cs.Kind, cs.Depth)
		}
		for _, p := range n.Premises {
			fmt.Fprintf(&b, " premise{%v %#x %q}", p.Kind, p.Site, p.Detail)
		}
		for _, e := range n.Edges {
			fmt.Fprintf(&b, " edge{%d %s %#x %v %v %d}", e.To, g.QualifiedName(e.To), e.Site, e.Method, e.Kind, e.Depth)
		}
		for _, cs := range n.Unresolved {
			fmt.Fprintf(&b, " unresolved{%#x %q}", cs.Addr, g.UnresolvedWhy(id, cs.Addr))
		}
		for _, a := range n.Assumed {
			fmt.Fprintf(&b, " assumed{%#x %d %v}", a.Site, a.Targets, a.Method)
		}
		out = append(out, b.String())
	}
	return out
}

// graphDump is graphLines as one text.
func graphDump(g *Graph) string { return strings.Join(graphLines(g), "\n") }

// firstDiff is the first line where a dump differs from the dump alone.
func firstDiff(got, alone string) string {
	g, a := strings.Split(got, "\n"), strings.Split(alone, "\n")
	for i := range min(len(g), len(a)) {
		if g[i] != a[i] {
			return fmt.Sprintf("line %d:\n got   %s\n alone %s", i+1, g[i], a[i])
		}
	}
	return fmt.Sprintf("%d lines, alone %d", len(g), len(a))
}
