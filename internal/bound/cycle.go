package bound

import (
	"fmt"
	"strings"
)

// A recursion reason names one cycle a person can read, not the whole
// strongly connected component: through an assumed address-taken set a
// component can hold a thousand functions, listed alphabetically they say
// nothing. The cycle shown is made of real calls (no assumed set) where
// one exists, from the program's own code into it; then, when that cycle
// does not lead back, the way back through the assumed sets; each set is
// named once with its size.

// cycleSearchBudget caps the edges the search for a real cycle looks at
// in one component (libc's component has thousands of members).
const cycleSearchBudget = 200000

// recursionReason describes component c's recursion, starting from node
// from (the component's first member): the node the shown cycle starts at,
// the call site that enters it, the detail and the cycle's names.
func (a *Analysis) recursionReason(c, from int) (start int, site uint64, detail string, names []string) {
	g := a.g
	members := a.componentMembers(c)
	budget := cycleSearchBudget
	start = a.cycleStart(c, from, members, &budget)
	nodes := a.realCycle(c, start, &budget)
	back := []int(nil)
	if nodes == nil {
		nodes = a.shortestCycle(c, start, start, true, &budget)
	} else if nodes[len(nodes)-1] != start {
		// A real cycle the start only leads into: how it comes back,
		// from the nearest of its members.
		back = a.wayBack(c, nodes, start, &budget)
	}
	if len(nodes) == 0 {
		nodes = []int{start}
	}
	site = a.edgeSite(nodes[0], nodes)
	names = a.displayNames(nodes)
	detail = "recursion through " + strings.Join(names, " -> ")
	if back != nil {
		detail += fmt.Sprintf(", and from %s back to %s through %s", g.Nodes[back[0]].Name(), g.Nodes[start].Name(), strings.Join(shorten(a.displayNames(back[1:]), 6), " -> "))
	}
	shown := map[int]bool{}
	for _, id := range nodes {
		shown[id] = true
	}
	for _, id := range back {
		shown[id] = true
	}
	var hubs []string
	functions, others := 0, 0
	for _, id := range members {
		switch n := g.Nodes[id]; {
		case n.Hub && !shown[id]:
			hubs = append(hubs, a.hubName(id))
		case !n.Hub:
			functions++
			if !shown[id] {
				others++
			}
		}
	}
	if len(hubs) > 0 || others > 0 {
		detail += fmt.Sprintf("; %d functions in the cycle's component", functions)
		if len(hubs) > 0 {
			also := ""
			if back != nil {
				also = "also "
			}
			detail += ", joined " + also + "by the assumed " + strings.Join(shortenHubs(hubs, 4), ", ")
		}
	}
	return nodes[0], site, detail, names
}

// realCycle returns a cycle of real calls (no assumed set) reachable from
// start inside component c, with the way from start into it: the nodes
// start ... v ... v, the last one repeating the one the cycle begins at.
// It prefers a cycle through start, then the nearest self-call, then the
// nearest other cycle; nil when none is found within the budget.
func (a *Analysis) realCycle(c, start int, budget *int) []int {
	if a.g.Nodes[start].Hub {
		return nil
	}
	if p := a.shortestCycle(c, start, start, false, budget); p != nil {
		return p
	}
	order, parent := a.bfs(c, start, false, budget)
	lead := func(v int) []int {
		var p []int
		for x := v; x >= 0; x = parent[x] {
			p = append([]int{x}, p...)
		}
		return p
	}
	for _, v := range order {
		for _, e := range a.g.Nodes[v].Edges {
			if e.To == v && a.follows(v, e) {
				return append(lead(v), v)
			}
		}
	}
	for _, v := range order {
		if *budget <= 0 {
			break
		}
		if p := a.shortestCycle(c, v, v, false, budget); p != nil {
			return append(lead(v), p[1:]...)
		}
	}
	return nil
}

// shortestCycle returns the shortest path from -> ... -> to of at least
// one call inside component c (from, ..., to), through assumed sets only
// when hubs is set; nil when there is none within the budget.
func (a *Analysis) shortestCycle(c, from, to int, hubs bool, budget *int) []int {
	s := a.cycleSearch()
	s.begin()
	s.see(from, -1)
	queue := append(s.queue[:0], int32(from))
	defer func() { s.queue = queue[:0] }()
	for head := 0; head < len(queue) && *budget > 0; head++ {
		v := int(queue[head])
		for _, e := range a.g.Nodes[v].Edges {
			*budget--
			w := e.To
			if a.scc[w] != c || !a.follows(v, e) || (!hubs && a.g.Nodes[w].Hub) {
				continue
			}
			if w == to {
				p := []int{to}
				for x := v; x >= 0; x = s.parentOf(x) {
					p = append([]int{x}, p...)
				}
				return p
			}
			if !s.seen(w) {
				s.see(w, v)
				queue = append(queue, int32(w))
			}
		}
	}
	return nil
}

// searchScratch is what shortestCycle's searches share, on the goroutine
// that lists the reasons (ownReasons): which nodes a search has seen, by
// whom first, and its queue. A map of the nodes seen per search, grown
// as it went, was most of the recursion reasons' time on /usr/bin/node,
// whose large components are searched 16 times each (cycleStart), and
// its page faults.
type searchScratch struct {
	mark   []uint32 // mark[v] == round: seen in this search
	parent []int32  // (valid where marked)
	round  uint32
	queue  []int32
}

// cycleSearch returns the analysis' search scratch, made on first use.
func (a *Analysis) cycleSearch() *searchScratch {
	if a.search == nil {
		n := len(a.g.Nodes)
		a.search = &searchScratch{mark: make([]uint32, n), parent: make([]int32, n)}
	}
	return a.search
}

// begin starts a search: no node seen.
func (s *searchScratch) begin() {
	s.round++
	if s.round == 0 { // (wrapped: marks of 2^32 searches ago would match)
		clear(s.mark)
		s.round = 1
	}
}

func (s *searchScratch) seen(v int) bool { return s.mark[v] == s.round }

// see marks v seen, first from parent (-1: none).
func (s *searchScratch) see(v, parent int) {
	s.mark[v], s.parent[v] = s.round, int32(parent)
}

func (s *searchScratch) parentOf(v int) int { return int(s.parent[v]) }

// bfs lists the members of component c that start reaches, nearest first,
// with each one's predecessor (-1 for start).
func (a *Analysis) bfs(c, start int, hubs bool, budget *int) ([]int, map[int]int) {
	parent := map[int]int{start: -1}
	order := []int{start}
	for i := 0; i < len(order) && *budget > 0; i++ {
		v := order[i]
		for _, e := range a.g.Nodes[v].Edges {
			*budget--
			w := e.To
			if a.scc[w] != c || !a.follows(v, e) || (!hubs && a.g.Nodes[w].Hub) {
				continue
			}
			if _, seen := parent[w]; !seen {
				parent[w] = v
				order = append(order, w)
			}
		}
	}
	return order, parent
}

// edgeSite is the address of the call from nodes[0] to nodes[1].
func (a *Analysis) edgeSite(id int, nodes []int) uint64 {
	if len(nodes) < 2 {
		return 0
	}
	for _, e := range a.g.Nodes[id].Edges {
		if e.To == nodes[1] && a.follows(id, e) {
			return e.Site
		}
	}
	return 0
}

// displayNames names a chain of nodes, the library only where it changes
// ("sort_tree -> qsort (libc.so.6) -> msort_with_tmp -> msort_with_tmp"),
// an assumed set by its size.
func (a *Analysis) displayNames(nodes []int) []string {
	g := a.g
	var out []string
	var module any
	for _, id := range nodes {
		n := g.Nodes[id]
		name := n.Name()
		switch {
		case n.Hub:
			name = a.hubName(id)
		case n.Module != module && n.Module != nil && n.Module != g.Modules[0]:
			name = g.QualifiedName(id)
		}
		if !n.Hub {
			module = n.Module
		}
		out = append(out, name)
	}
	return out
}

// hubName is an assumed set's name with its module and what it is.
func (a *Analysis) hubName(id int) string {
	n := a.g.Nodes[id]
	name := n.Name()
	if n.Module != nil {
		name += " (" + n.Module.Name + ")"
	}
	return name
}

// shorten keeps the first and last of a long chain of names.
func shorten(names []string, k int) []string {
	if len(names) <= k {
		return names
	}
	out := append([]string{}, names[:k-2]...)
	out = append(out, fmt.Sprintf("... %d more", len(names)-k+1))
	return append(out, names[len(names)-1])
}

// recursion is the reason of component c, found from its member id.
func (a *Analysis) recursion(c, id int) Reason {
	start, site, detail, names := a.recursionReason(c, id)
	n := a.g.Nodes[start]
	lib := ""
	if n.Module != nil && n.Module != a.g.Modules[0] && !n.Hub {
		lib = n.Module.Name
	}
	return Reason{Kind: ReasonRecursion, Function: a.g.QualifiedName(start), Addr: site, Detail: detail, Library: lib, Cycle: names, node: id}
}

// wayBack is the shortest path from any node of a real cycle (cycle
// holds the way into it too) back to start, through assumed sets too:
// cycle node, ..., start.
func (a *Analysis) wayBack(c int, cycle []int, start int, budget *int) []int {
	parent := map[int]int{}
	var queue []int
	for _, v := range cycle[1:] {
		if _, ok := parent[v]; !ok {
			parent[v] = -1
			queue = append(queue, v)
		}
	}
	for len(queue) > 0 && *budget > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range a.g.Nodes[v].Edges {
			*budget--
			w := e.To
			if a.scc[w] != c || !a.follows(v, e) {
				continue
			}
			if _, seen := parent[w]; seen {
				continue
			}
			parent[w] = v
			if w == start {
				var p []int
				for x := w; x >= 0; x = parent[x] {
					p = append([]int{x}, p...)
				}
				return p
			}
			queue = append(queue, w)
		}
	}
	return nil
}

// startupCode names the compiler's and the C runtime's own functions that
// a program carries (crtstuff, crt1): they are the program's module, but
// not code its author wrote or can annotate.
var startupCode = map[string]bool{
	"_start": true, "__do_global_dtors_aux": true, "frame_dummy": true,
	"register_tm_clones": true, "deregister_tm_clones": true,
	"__libc_csu_init": true, "__libc_csu_fini": true, "_init": true, "_fini": true,
}

// cycleStart picks the member of component c a recursion reason starts
// at: the program's own code first (that is what its author can
// annotate), not its startup code, and among the first few such members
// the one on the shortest cycle (its own recursion rather than a long way
// round through exit handlers and the address-taken sets); from when the
// component has none.
func (a *Analysis) cycleStart(c, from int, members []int, budget *int) int {
	const tries = 16
	var own, startup []int
	for _, id := range members {
		n := a.g.Nodes[id]
		if n.Hub || n.Module != a.g.Modules[0] {
			continue
		}
		if startupCode[n.CName()] { // (C names: demangles no C++ name)
			startup = append(startup, id)
			continue
		}
		own = append(own, id)
		if len(own) == tries {
			// The first few are all that is tried: the rest of a large
			// component (node's recursion: thousands of members, each
			// name looked at, 0.014 s) need not be.
			break
		}
	}
	if len(own) == 0 {
		own = startup
	}
	if len(own) == 0 {
		return from
	}
	if len(own) > tries {
		own = own[:tries] // (startup's)
	}
	best, bestLen := own[0], -1
	for _, id := range own {
		cyc := a.shortestCycle(c, id, id, true, budget)
		if len(cyc) > 0 && (bestLen < 0 || len(cyc) < bestLen) {
			best, bestLen = id, len(cyc)
		}
	}
	return best
}

// shortenHubs keeps the first k assumed sets of a list and counts the
// rest: a component of libc joins a dozen FILE jump-table calls, which say
// nothing more one by one (the JSON's reasons keep the cycle; the text
// must stay readable).
func shortenHubs(hubs []string, k int) []string {
	if len(hubs) <= k {
		return hubs
	}
	return append(hubs[:k:k], fmt.Sprintf("and %d more assumed sets", len(hubs)-k))
}
