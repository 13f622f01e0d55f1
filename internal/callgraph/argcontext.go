package callgraph

import "slices"

// Constant-argument callbacks per call site. The model of argcallback.go
// proves that a call through a parameter goes only to the constants the
// callers of its chain pass; the union of those constants is sound but
// joins every caller to every callback: glibc's __gconv_load_conf calls
// pthread_once with its own init routine, yet through the union it
// reaches mq_notify's init_mq_netlink, and from there pthread_create,
// clone3 and most of libc. So, where it is cheap, each distinct constant
// gets its own copy of the chain: the node of every chain function the
// constant flows through is copied (same function, frame, edges, reasons
// and premises, same name), the copies call one another where the
// original passes the value on, the copy of the function that calls it
// calls that constant alone, and each caller that passes the constant
// calls the copy. The proof is the same one (the chain's conditions were
// checked for the union), now kept apart per constant: every caller
// passes a constant or its own parameter, so the value a copy holds is
// the constant its callers passed, no other.
//
// Not copied (the union stays, which is sound): a chain whose functions
// take the value in more than one register, that shares a function with
// another call's chain, that has a function of the program itself (its
// functions are listed one per function), or whose copies would exceed
// maxChainCopies. A caller that passes a null callback keeps calling the
// original, which keeps the union.

// maxChainCopies caps the nodes copied for one chain: a chain of a
// few functions times the distinct constants passed into it (glibc's
// pthread_once is passed some 20 init routines; tfind, a few
// comparators). Beyond it, the union is used.
const maxChainCopies = 256

// argChain is the chain of one proved call: the keys (function, register)
// the callback flows through, and the calls that pass it.
type argChain struct {
	sites []argSite // the calls through the sink's register
	sink  argKey
	keys  map[argKey]bool
	node  map[int]argKey // the key of each node (one register a node)
	pass  []chainPass
	enter []chainEnter
}

// chainPass is a call from a chain function that passes its own
// parameter (from.reg at entry) on as the callee's to.reg.
type chainPass struct {
	from, to argKey
	site     uint64
}

// chainEnter is a call that passes a constant callback (target, a node)
// into key to.
type chainEnter struct {
	caller int
	site   uint64
	to     argKey
	target int
}

// chainOf follows the callers of key back as targets does, recording the
// calls (sites are the calls through key's register, one chain for all:
// twalk's trecurse calls its action at four places); false when a value is other than a constant or a parameter (the
// union then stays).
func (a *argModel) chainOf(sites []argSite, key argKey) (*argChain, bool) {
	ch := &argChain{sites: sites, sink: key, keys: map[argKey]bool{key: true}, node: map[int]argKey{key.id: key}}
	queue := []argKey{key}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range a.callsOf(k.id) {
			v, ok := a.valueAt(int(c.from), c.site, k.reg)
			if !ok {
				return nil, false
			}
			switch v.kind {
			case valConst:
				if v.c == 0 {
					continue
				}
				t, ok := a.function(a.g.Nodes[int(c.from)].Module, v.c)
				if !ok {
					return nil, false
				}
				ch.enter = append(ch.enter, chainEnter{caller: int(c.from), site: c.site, to: k, target: t})
			case valEntry:
				nk := argKey{int(c.from), v.reg}
				ch.pass = append(ch.pass, chainPass{from: nk, to: k, site: c.site})
				if ch.keys[nk] {
					continue
				}
				if other, ok := ch.node[nk.id]; ok && other != nk {
					return nil, false // the value in two registers of one function
				}
				ch.keys[nk] = true
				ch.node[nk.id] = nk
				queue = append(queue, nk)
			default:
				return nil, false
			}
		}
	}
	return ch, true
}

// specialiseArgumentCallbacks gives the proved calls' chains a copy per
// constant (see above). linked are the calls linkArgumentCallbacks gave
// constant-argument edges, with the key of each.
func (g *Graph) specialiseArgumentCallbacks(a *argModel, linked []argSite, keys []argKey) {
	var chains []*argChain
	owner := map[int]int{} // node -> how many chains hold it
	bySink := map[argKey][]argSite{}
	var sinks []argKey
	for i, s := range linked {
		if _, ok := bySink[keys[i]]; !ok {
			sinks = append(sinks, keys[i])
		}
		bySink[keys[i]] = append(bySink[keys[i]], s)
	}
	for _, k := range sinks {
		ch, ok := a.chainOf(bySink[k], k)
		if !ok {
			continue
		}
		for id := range ch.node {
			owner[id]++
		}
		chains = append(chains, ch)
	}
	var plans []*chainPlan
	for _, ch := range chains {
		if p, ok := g.planChain(ch, owner); ok {
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return
	}
	if g.cloneOf == nil {
		g.cloneOf = map[int]int{}
	}
	copiesOf := map[int][]int{} // an original node -> its copies
	for _, p := range plans {
		p.copies = map[copyKey]int{}
		for _, t := range p.targets {
			for _, k := range p.reach[t] {
				id := g.copyNode(k.id)
				p.copies[copyKey{t, k.id}] = id
				copiesOf[k.id] = append(copiesOf[k.id], id)
			}
		}
		// Within each constant's copies: a call that passes the value on
		// goes to the callee's copy; the call through it, to the constant.
		for ck, id := range p.copies {
			n := g.Nodes[id]
			for _, ps := range p.ch.pass {
				if ps.from.id != ck.node {
					continue
				}
				to := p.copies[copyKey{ck.target, ps.to.id}]
				for i := range n.Edges {
					if n.Edges[i].Site == ps.site && n.Edges[i].To == ps.to.id {
						n.Edges[i].To = to
					}
				}
			}
			if ck.node == p.ch.sink.id {
				for _, s := range p.ch.sites {
					site := s.cs.Addr
					n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == site })
					g.addEdge(id, ck.target, s.cs, MethodArgument)
				}
			}
		}
	}
	// Each caller that passes a constant calls that constant's copy; so
	// do the caller's own copies (a chain function of another call).
	for _, p := range plans {
		for _, en := range p.ch.enter {
			to := p.copies[copyKey{en.target, en.to.id}]
			for _, from := range append([]int{en.caller}, copiesOf[en.caller]...) {
				edges := g.Nodes[from].Edges
				for i := range edges {
					if edges[i].Site == en.site && edges[i].To == en.to.id {
						edges[i].To = to
					}
				}
			}
		}
	}
}

// chainPlan is a chain to copy: the distinct constants passed into it,
// and for each the keys its value flows through.
type chainPlan struct {
	ch      *argChain
	targets []int
	reach   map[int][]argKey
	copies  map[copyKey]int
}

// copyKey names the copy of a chain node for one constant.
type copyKey struct {
	target, node int
}

// planChain decides whether ch is copied per constant, and which keys
// each constant's copies hold: those its value flows to from where it
// enters.
func (g *Graph) planChain(ch *argChain, owner map[int]int) (*chainPlan, bool) {
	for id := range ch.node {
		n := g.Nodes[id]
		if owner[id] > 1 || n.Module == g.Modules[0] || n.Hub || n.Summary != "" {
			return nil, false
		}
	}
	down := map[argKey][]argKey{}
	for _, ps := range ch.pass {
		if !slices.Contains(down[ps.from], ps.to) {
			down[ps.from] = append(down[ps.from], ps.to)
		}
	}
	p := &chainPlan{ch: ch, reach: map[int][]argKey{}}
	entries := map[int][]argKey{}
	for _, en := range ch.enter {
		if !slices.Contains(entries[en.target], en.to) {
			entries[en.target] = append(entries[en.target], en.to)
		}
		if !slices.Contains(p.targets, en.target) {
			p.targets = append(p.targets, en.target)
		}
	}
	if len(p.targets) < 2 {
		return nil, false // one constant: the union is already it
	}
	slices.Sort(p.targets)
	total := 0
	for _, t := range p.targets {
		seen := map[argKey]bool{}
		stack := slices.Clone(entries[t])
		for _, k := range stack {
			seen[k] = true
		}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			p.reach[t] = append(p.reach[t], k)
			for _, d := range down[k] {
				if !seen[d] {
					seen[d] = true
					stack = append(stack, d)
				}
			}
		}
		if !seen[ch.sink] {
			return nil, false // (every key reaches the sink: not expected)
		}
		total += len(p.reach[t])
	}
	if total > maxChainCopies {
		return nil, false
	}
	return p, true
}

// copyNode adds a copy of node id: the same function, frame, edges,
// reasons and premises, under the same name.
func (g *Graph) copyNode(id int) int {
	orig := g.Nodes[id]
	n := *orig
	n.Edges = slices.Clone(orig.Edges)
	n.Unresolved = slices.Clone(orig.Unresolved)
	n.Assumed = slices.Clone(orig.Assumed)
	if orig.rare != nil {
		n.rare = &nodeRare{badTargets: slices.Clone(orig.rare.badTargets), excReturns: slices.Clone(orig.rare.excReturns)}
	}
	n.Premises = slices.Clone(orig.Premises)
	c := len(g.Nodes)
	g.Nodes = append(g.Nodes, &n)
	g.cloneOf[c] = id
	return c
}

// Original returns the node a copy was made from (see
// specialiseArgumentCallbacks), or id itself for a node that is no copy.
func (g *Graph) Original(id int) int {
	if o, ok := g.cloneOf[id]; ok {
		return o
	}
	return id
}
