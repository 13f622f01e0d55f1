package html

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// The function table's callers and callees. Each is a number, to keep a
// big program's page small: below len(functions) it is a row of the table,
// else an entry of htmlData.Others (a library's function, an external, or
// an indirect-call set). A set's members and callers are listed once, on
// the set, and each member lists the set among its callers: a set of
// thousands is written once, not once per function that calls through it.

// htmlOther is a callee or caller that is no row of the table.
type htmlOther struct {
	Name string `json:"name"`
	// Set: the node stands for the targets of indirect calls; Method is
	// how they were found (as the JSON's assumed_indirect_methods names
	// it), Assumed whether that is an assumption rather than a proof.
	Set     bool   `json:"set,omitempty"`
	Method  string `json:"method,omitempty"`
	Assumed bool   `json:"assumed,omitempty"`
	Members []int  `json:"members,omitempty"`
	Callers []int  `json:"callers,omitempty"`
}

// callRefs fills the functions' callers and callees (data.Functions must
// be in its final order) and data.Others.
func callRefs(r *analysis.Result, data *htmlData, nodeOf []int) {
	g := r.Graph
	if g == nil || len(g.Modules) == 0 {
		return
	}
	main := g.Modules[0]
	ref := map[int]int{} // node -> reference
	for i, n := range nodeOf {
		ref[n] = i
	}
	sets := map[int]bool{} // the nodes written as sets
	var otherNode []int    // the node of each of data.Others
	refOf := func(node int) int {
		if v, ok := ref[node]; ok {
			return v
		}
		n := g.Nodes[node]
		o := htmlOther{Name: g.QualifiedName(node)}
		if n.Hub && n.Module != nil && n.Module != main {
			o.Name += " (" + n.Module.Name + ")" // QualifiedName leaves a set's library out
		}
		// Only the program's own sets are listed with their members: a
		// library's set (thousands of its functions) is named only.
		if n.Hub && n.Module == main {
			o.Set = true
			sets[node] = true
		}
		v := len(data.Functions) + len(data.Others)
		data.Others = append(data.Others, o)
		otherNode = append(otherNode, node)
		ref[node] = v
		return v
	}
	callers := map[int][]int{} // node -> caller nodes, each once
	addCaller := func(to, from int) {
		if l := callers[to]; len(l) == 0 || l[len(l)-1] != from {
			callers[to] = append(l, from)
		}
	}
	for from, n := range g.Nodes {
		for _, e := range n.Edges {
			addCaller(e.To, from)
		}
	}
	for i, node := range nodeOf {
		f := &data.Functions[i]
		f.Callees = []int{}
		for k, e := range g.Nodes[node].Edges {
			if !calledBefore(g.Nodes[node].Edges[:k], e.To) { // as the JSON's calls
				f.Callees = append(f.Callees, refOf(e.To))
			}
		}
		f.Callers = []int{}
		for _, c := range unique(callers[node]) {
			f.Callers = append(f.Callers, refOf(c))
		}
	}
	// The sets: members and callers once each, and the method that
	// found them.
	for k := 0; k < len(data.Others); k++ { // a set's members may add others
		node := otherNode[k]
		if !sets[node] {
			continue
		}
		// refOf may grow data.Others: its entry k is written at the end.
		o := data.Others[k]
		o.Members = []int{}
		for j, e := range g.Nodes[node].Edges {
			if !calledBefore(g.Nodes[node].Edges[:j], e.To) {
				o.Members = append(o.Members, refOf(e.To))
			}
		}
		o.Callers = []int{}
		for _, c := range unique(callers[node]) {
			o.Callers = append(o.Callers, refOf(c))
			for _, e := range g.Nodes[c].Edges {
				if e.To != node {
					continue
				}
				if o.Method == "" {
					o.Method = e.Method
				}
				for _, a := range g.Nodes[c].Assumed {
					o.Assumed = o.Assumed || a.Site == e.Site
				}
			}
		}
		if o.Method == "" && len(g.Nodes[node].Edges) > 0 {
			o.Method = g.Nodes[node].Edges[0].Method
		}
		data.Others[k] = o
	}
}

// calledBefore reports whether one of edges already goes to node to.
func calledBefore(edges []callgraph.Edge, to int) bool {
	for _, e := range edges {
		if e.To == to {
			return true
		}
	}
	return false
}

// unique drops repeated nodes, keeping the first of each.
func unique(nodes []int) []int {
	seen := make(map[int]bool, len(nodes))
	out := nodes[:0:0]
	for _, n := range nodes {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
