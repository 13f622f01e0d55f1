package callgraph

import (
	"fmt"
	"slices"
)

// Transliteration in the C locale (model 4 of gconvstep.go).
//
// A wide stream's output step is flagged __GCONV_TRANSLIT (libio/
// iofwide.c), so the C locale's internal -> ASCII step calls
// __gconv_transliterate for a character over 0x7f, and that function
// converts the replacement with the same step's function (gconv_trans.c:
// DL_CALL_FCT (fct, (step, ...)) on the locale's replacement text): in
// the graph, step function -> __gconv_transliterate -> step node -> step
// function, a recursion. It is not one while the locale stays "C": the
// replacement text is then the C locale's (locale/C-translit.h's table
// and its default missing character, '?'), all ASCII, which the C
// locale's steps convert without an error, so without calling
// __gconv_transliterate again. The calls of __gconv_transliterate go to a
// node of copies of the step functions without their calls of
// __gconv_transliterate; a premise says so. It holds while the c-locale
// and one-step models do (no locale changer, no __gconv_find_transform,
// no gconv module reachable); then the calls go back to the step node.

// premiseTranslit is the detail of model 4's premise.
const premiseTranslit = "__gconv_transliterate converts only the C locale's replacement text (glibc 2.36's locale/C-translit.h and its " +
	"default missing character '?', all ASCII) while the locale stays \"C\", which the C locale's steps convert without calling " +
	"__gconv_transliterate again: the step functions it calls do not recurse"

// gconvTranslit is model 4 applied: the transliteration function's
// node, the node of the copies, and the copies of the step functions.
type gconvTranslit struct {
	translit int
	hub      int
	done     bool
}

// cutTranslit sends __gconv_transliterate's step calls (already given
// c.hubs[0]) to copies of the step functions that do not call it back.
func (c *gconvCut) cutTranslit(m *Module) {
	g := c.g
	fn, ok := m.File.Lookup("__gconv_transliterate")
	if !ok || c.hubs[0] < 0 || c.chainsDone {
		return
	}
	fi, _ := m.File.FunctionIndex(fn.Addr)
	t := g.nodeFor(m, fi)
	calls := slices.ContainsFunc(g.Nodes[t].Edges, func(e Edge) bool { return e.Method == MethodGconvStep && e.To == c.hubs[0] })
	if !calls {
		return
	}
	if g.cloneOf == nil {
		g.cloneOf = map[int]int{}
	}
	hub := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, Hub: true, Frame: g.Nodes[c.hubs[0]].Frame,
		Premises: []Premise{{Kind: PremiseGlibcModel, Detail: premiseTranslit}}})
	for _, e := range g.Nodes[c.hubs[0]].Edges {
		cp := g.copyNode(e.To)
		n := g.Nodes[cp]
		n.Edges = slices.DeleteFunc(n.Edges, func(x Edge) bool { return x.To == t })
		// The copy's cut next-step calls follow the original's.
		for _, nx := range c.nexts {
			if nx.id == e.To {
				c.nexts = append(c.nexts, gconvNextCut{cp, nx.cs, nx.k})
			}
		}
		g.Nodes[hub].Edges = append(g.Nodes[hub].Edges, Edge{To: cp, Kind: e.Kind, Method: MethodGlibcModel})
	}
	g.Nodes[hub].name = fmt.Sprintf("[gconv step conversion functions on the C locale's replacement text: %d]", len(g.Nodes[hub].Edges))
	for i, e := range g.Nodes[t].Edges {
		if e.Method == MethodGconvStep && e.To == c.hubs[0] {
			g.Nodes[t].Edges[i].To = hub
		}
	}
	c.tr = &gconvTranslit{translit: t, hub: hub}
}

// undoTranslit gives __gconv_transliterate's step calls back to the step
// node, once one of the models it rests on is undone.
func (c *gconvCut) undoTranslit() {
	if c.tr == nil || c.tr.done {
		return
	}
	c.tr.done = true
	n := c.g.Nodes[c.tr.translit]
	for i, e := range n.Edges {
		if e.To == c.tr.hub {
			n.Edges[i].To = c.hubs[0]
		}
	}
}
