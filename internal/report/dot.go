package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/frame"
)

// AnalyzeDOT writes the call graph reachable from the entries in Graphviz
// DOT: one box per function of the analysed file with its frame and source
// line, the entries drawn bold, each entry's worst path in red, a function
// of a shared library as a grey box that is not expanded (its bound says
// what lies below), the address-taken set as one dashed node, and every
// unresolved indirect call as a red "?" node of its own, so nothing the
// bound could not see is left out of the picture.
func AnalyzeDOT(w io.Writer, r *analysis.Result) error {
	g := r.Graph
	if g == nil {
		return fmt.Errorf("%s: no call graph", r.Binary)
	}
	main := g.Modules[0]
	onPath := map[[2]int]bool{}
	pathNode := map[int]bool{}
	entryNode := map[int]string{}
	entryText := map[int]string{}
	var roots []int
	for _, e := range r.Entries {
		if _, dup := entryNode[e.Node]; !dup {
			roots = append(roots, e.Node)
		}
		entryNode[e.Node] = e.Kind
		if e.Bounded {
			entryText[e.Node] = fmt.Sprintf("%s entry: bound %s", e.Kind, Bytes(*e.Bound))
		} else {
			entryText[e.Node] = fmt.Sprintf("%s entry: NOT BOUNDED (≥ %s)", e.Kind, Bytes(e.AtLeast))
		}
		for i, id := range e.PathNodes {
			if i > 0 {
				onPath[[2]int{e.PathNodes[i-1], id}] = true
			}
		}
	}
	// The nodes to draw: the analysed file's functions reachable from the
	// entries, and the first node outside it on each edge that leaves it.
	drawn := map[int]bool{}
	var order []int
	expand := func(id int) bool {
		n := g.Nodes[id]
		return n.Module == main && !n.External
	}
	queue := append([]int(nil), roots...)
	for _, id := range roots {
		drawn[id] = true
		order = append(order, id)
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if !expand(id) {
			continue
		}
		for _, e := range g.Nodes[id].Edges {
			if !drawn[e.To] {
				drawn[e.To] = true
				order = append(order, e.To)
				queue = append(queue, e.To)
			}
		}
	}
	sort.Ints(order)
	// A node is marked as on a worst path where the path's arrow into it
	// is drawn (the path goes on inside libraries, which are not drawn).
	for _, e := range r.Entries {
		for i, id := range e.PathNodes {
			if i == 0 || (expand(e.PathNodes[i-1]) && drawn[e.PathNodes[i-1]]) {
				pathNode[id] = true
			} else {
				break
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote("stackscope: "+r.Binary))
	b.WriteString("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	fmt.Fprintf(&b, "  labelloc=t; label=%s;\n", dotQuote(fmt.Sprintf("%s (%s): call graph from %d entries; red: worst paths", r.Binary, r.Arch, len(r.Entries))))
	for _, id := range order {
		n := g.Nodes[id]
		label := nodeLabel(r, id)
		if t, ok := entryText[id]; ok {
			label += "\n" + t
		}
		attrs := []string{"label=" + dotQuote(label)}
		switch {
		case n.Hub:
			attrs = append(attrs, "style=dashed", "shape=ellipse")
		case n.External:
			attrs = append(attrs, "style=\"filled,dashed\"", "fillcolor=\"#f3d0d0\"", "color=red")
		case n.Module != main:
			attrs = append(attrs, "style=filled", "fillcolor=\"#e8e8e8\"")
		case n.Frame.Kind != frame.Static:
			attrs = append(attrs, "style=filled", "fillcolor=\"#fde2c0\"", "color=darkorange")
		}
		if kind, ok := entryNode[id]; ok {
			attrs = append(attrs, "penwidth=2.5", "peripheries=2", "tooltip="+dotQuote(kind+" entry"))
		}
		if pathNode[id] {
			attrs = append(attrs, "color=red")
		}
		fmt.Fprintf(&b, "  n%d [%s];\n", id, strings.Join(attrs, ", "))
	}
	for _, id := range order {
		n := g.Nodes[id]
		if !expand(id) {
			continue
		}
		seen := map[int]bool{}
		for _, e := range n.Edges {
			if seen[e.To] {
				continue // one arrow per callee
			}
			seen[e.To] = true
			var attrs []string
			if e.Kind == frame.TailCall || e.Kind == frame.IndirectTailCall {
				attrs = append(attrs, "label=\"tail\"")
			}
			if g.Nodes[e.To].Hub {
				attrs = append(attrs, "style=dashed", "label=\"assumed\"")
			}
			if onPath[[2]int{id, e.To}] {
				attrs = append(attrs, "color=red", "penwidth=2.5")
			}
			fmt.Fprintf(&b, "  n%d -> n%d [%s];\n", id, e.To, strings.Join(attrs, ", "))
		}
		for i, cs := range n.Unresolved {
			fmt.Fprintf(&b, "  u%d_%d [shape=diamond, style=filled, fillcolor=\"#f3d0d0\", color=red, label=%s];\n",
				id, i, dotQuote(fmt.Sprintf("?\nunresolved %s\nat %#x%s", cs.Kind, cs.Addr, dotAt(r, cs.Addr))))
			fmt.Fprintf(&b, "  n%d -> u%d_%d [color=red, style=dashed];\n", id, id, i)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// nodeLabel is a node's text: name, frame and (for the analysed file)
// source line; the address-taken set says how many functions it stands for.
func nodeLabel(r *analysis.Result, id int) string {
	g := r.Graph
	n := g.Nodes[id]
	if n.Hub {
		return fmt.Sprintf("%s\n%d edges", n.Name(), len(n.Edges))
	}
	name := g.QualifiedName(id)
	if n.External {
		return name + "\nexternal: not found"
	}
	lines := []string{name}
	fr := n.Frame
	switch fr.Kind {
	case frame.Static:
		lines = append(lines, "frame "+Bytes(fr.Size))
	default:
		lines = append(lines, fmt.Sprintf("frame %s (%s)", fr.Kind, "at least "+Bytes(fr.Size)))
	}
	if n.Module != g.Modules[0] {
		lines = append(lines, "not expanded (deepest known: "+Bytes(r.Bounds.Value(id))+")")
	} else if n.Func != nil {
		if l, ok := r.Lines.Func(n.Func.Addr); ok {
			lines = append(lines, SourceLine(l.File, l.Line))
		}
	}
	return strings.Join(lines, "\n")
}

func dotAt(r *analysis.Result, addr uint64) string {
	if l, ok := r.Lines.At(addr); ok {
		return "\n" + SourceLine(l.File, l.Line)
	}
	return ""
}

// dotQuote makes a DOT string literal (newlines become line breaks).
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}
