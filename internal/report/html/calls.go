package html

import (
	"slices"
	"sort"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// The function table's callers and callees. Each is a number, to keep a
// big program's page small: below len(functions) it is a row of the table,
// else an entry of htmlData.Others (a library's function, an external, or
// an indirect-call set).
//
// A function's callers that are rows of the table are not written: the
// script finds them from the rows' callees.
//
// An indirect-call set of the program is written once, with its members;
// a member's row does not list the sets it belongs to (the script finds
// them), or a program such as node (155 sets of about 23,000 functions
// each) would repeat millions of references. Sets that differ from a
// larger one by a few functions (a prototype's narrowing of the
// address-taken set) are written as that set, minus and plus those.

// htmlOther is a callee or caller that is no row of the table.
type htmlOther struct {
	Name string `json:"name"`
	// Set: the node stands for the targets of indirect calls; Method is
	// how they were found (as the JSON's assumed_indirect_methods names
	// it), Assumed whether that is an assumption rather than a proof.
	Set     bool   `json:"set,omitempty"`
	Method  string `json:"method,omitempty"`
	Assumed bool   `json:"assumed,omitempty"`
	Size    int    `json:"size,omitempty"`
	// Members are the set's references, or, when Base is set, those of
	// the set Others[*Base] without Minus and with Plus.
	Members []int `json:"members,omitempty"`
	Base    *int  `json:"base,omitempty"`
	Minus   []int `json:"minus,omitempty"`
	Plus    []int `json:"plus,omitempty"`
	Callers []int `json:"callers,omitempty"`
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
	isSet := func(node int) bool { n := g.Nodes[node]; return n.Hub && n.Module == main }
	var setNodes []int // the sets, in the order of their references
	refOf := func(node int) int {
		if v, ok := ref[node]; ok {
			return v
		}
		n := g.Nodes[node]
		o := htmlOther{Name: g.QualifiedName(node)}
		if n.Hub && n.Module != nil && n.Module != main {
			// A library's set (thousands of its functions) is named
			// only; QualifiedName leaves its library out.
			o.Name += " (" + n.Module.Name + ")"
		}
		if isSet(node) {
			o.Set = true
			setNodes = append(setNodes, node)
		}
		v := len(data.Functions) + len(data.Others)
		data.Others = append(data.Others, o)
		ref[node] = v
		return v
	}
	callers := map[int][]int{} // node -> caller nodes, each once
	for from, n := range g.Nodes {
		for _, e := range n.Edges {
			if l := callers[e.To]; len(l) == 0 || l[len(l)-1] != from {
				callers[e.To] = append(l, from)
			}
		}
	}
	for i, node := range nodeOf {
		f := &data.Functions[i]
		for _, to := range targets(g.Nodes[node].Edges) { // as the JSON's calls
			f.Callees = append(f.Callees, refOf(to))
		}
		for _, c := range uniqueInts(callers[node]) {
			// The script adds the rows and the sets that call it, from
			// their callees and members.
			if _, row := ref[c]; !isSet(c) && !(row && ref[c] < len(nodeOf)) {
				f.Callers = append(f.Callers, refOf(c))
			}
		}
	}
	// The sets: members and callers once each, and the method that found
	// them. refOf may add sets (a set in a set) and grow data.Others.
	members := map[int][]int{} // set's reference -> its members' references
	for k := 0; k < len(setNodes); k++ {
		node := setNodes[k]
		var ms []int
		for _, to := range targets(g.Nodes[node].Edges) {
			ms = append(ms, refOf(to))
		}
		sort.Ints(ms)
		o := htmlOther{Size: len(ms), Callers: []int{}}
		for _, c := range uniqueInts(callers[node]) {
			o.Callers = append(o.Callers, refOf(c))
			for _, e := range g.Nodes[c].Edges {
				if e.To != node {
					continue
				}
				if o.Method == "" {
					o.Method = e.Method.String()
				}
				for _, a := range g.Nodes[c].Assumed {
					o.Assumed = o.Assumed || a.Site == e.Site
				}
			}
		}
		if o.Method == "" && len(g.Nodes[node].Edges) > 0 {
			o.Method = g.Nodes[node].Edges[0].Method.String()
		}
		v := ref[node]
		members[v] = ms
		old := &data.Others[v-len(data.Functions)]
		old.Size, old.Callers, old.Method, old.Assumed = o.Size, o.Callers, o.Method, o.Assumed
	}
	encodeMembers(data, members)
}

// encodeMembers writes each set's members: in full, or as a set written
// in full (the one it differs least from) minus and plus a few, when that
// is less than half as long.
func encodeMembers(data *htmlData, members map[int][]int) {
	var order []int
	for v := range members {
		order = append(order, v)
	}
	// Largest first: a narrowed set is written against a larger one.
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if len(members[a]) != len(members[b]) {
			return len(members[a]) > len(members[b])
		}
		return a < b
	})
	var full []int
	for _, v := range order {
		ms := members[v]
		o := &data.Others[v-len(data.Functions)]
		best, bestCost := -1, len(ms)/2
		var minus, plus []int
		for _, b := range full {
			m, p := difference(members[b], ms), difference(ms, members[b])
			if len(m)+len(p) < bestCost {
				best, bestCost, minus, plus = b, len(m)+len(p), m, p
			}
		}
		if best < 0 {
			o.Members = slices.Clip(append([]int{}, ms...))
			if o.Members == nil {
				o.Members = []int{}
			}
			full = append(full, v)
			continue
		}
		base := best - len(data.Functions)
		o.Base, o.Minus, o.Plus = &base, minus, plus
	}
}

// difference returns the elements of a not in b (both sorted).
func difference(a, b []int) []int {
	var out []int
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			out = append(out, x)
		}
	}
	return out
}

// targets are the nodes edges go to, each once, in order (as the JSON's
// calls list them). A set's hub has tens of thousands of edges: a map, not
// a scan per edge.
func targets(edges []callgraph.Edge) []int {
	out := make([]int, 0, len(edges))
	seen := make(map[int]bool, len(edges))
	for _, e := range edges {
		if !seen[e.To] {
			seen[e.To] = true
			out = append(out, e.To)
		}
	}
	return out
}

// uniqueInts drops repeated values, keeping the first of each.
func uniqueInts(v []int) []int {
	seen := make(map[int]bool, len(v))
	out := v[:0:0]
	for _, n := range v {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
