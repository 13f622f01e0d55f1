// Package bound computes the worst-case stack depth of each entry point
// over the call graph: the bound, the path that reaches it, and every
// reason an entry has no bound (recursion, an unresolved indirect call, a
// dynamic or unknown frame, an external callee). It never turns an
// unknown into a number.
package bound

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/scc"
	"github.com/stackscope/stackscope/internal/size"
)

// Reason kinds, part of the JSON contract.
const (
	ReasonRecursion = "recursion"
	ReasonIndirect  = "indirect"
	ReasonDynamic   = "dynamic"
	ReasonUnknown   = "unknown"
	ReasonExternal  = "external"
)

// Reason is one thing that keeps an entry from being bounded, and where.
type Reason struct {
	Kind     string `json:"kind"`
	Function string `json:"function"`
	Addr     uint64 `json:"addr"`
	Detail   string `json:"detail"`
	// Library names the shared library the function is in; empty for the
	// analysed file itself.
	Library string `json:"library,omitempty"`
	// File and Line are where Addr is in the source, from the DWARF line
	// table of the analysed file (empty without one).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Cycle is, for a recursion, the cycle shown: real calls from the
	// program's own code into it, the first name repeating at its end.
	Cycle []string `json:"cycle,omitempty"`
	// Group names the reasons a report shows on one line: the same kind
	// in the same function; Suggestion is what a person can do about it
	// (stackscope.toml, a link flag, a package); both set by analysis.
	Group      string `json:"group,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
	node       int
}

// Assumption kinds, part of the JSON contract.
const (
	AssumeIndirect  = "indirect"  // an indirect call's targets were assumed
	AssumeFrame     = "frame"     // a declared worst case ([[frame]])
	AssumeRecursion = "recursion" // a declared recursion depth
	AssumeExcluded  = "excluded"  // paths through the function were set aside
	AssumeVTOR      = "vtor"      // an SP reset read through VTOR (Cortex-M)
	// AssumeExcReturn: an indirect jump in handler mode taken for an
	// exception return, through a word of the context the code restores
	// (Cortex-M RTOS ports: the saved EXC_RETURN).
	AssumeExcReturn = "exc-return"
	// AssumeNoCancel: the C library's cancellation and unwinding paths
	// were cut because nothing loaded at start cancels a thread or
	// throws, and the entry reaches dlopen (callgraph.PremiseNoCancel).
	AssumeNoCancel = callgraph.PremiseNoCancel
)

// Assumption is something the bound holds only under: an indirect call
// given targets by assumption, not proof (the call reaches no other
// function), or a declaration of stackscope.toml.
type Assumption struct {
	Kind     string `json:"kind"`
	Function string `json:"function"`
	Addr     uint64 `json:"addr"`
	Detail   string `json:"detail"`
	Library  string `json:"library,omitempty"`
	File     string `json:"file,omitempty"` // source of Addr, as for Reason
	Line     int    `json:"line,omitempty"`
	// WithoutExclusion is, for an "excluded" assumption, what the entry
	// would have been had nothing been excluded (filled in by the caller,
	// which runs both analyses).
	WithoutExclusion *Outcome `json:"without_exclusion,omitempty"`
}

// Outcome is an entry's verdict in numbers.
type Outcome struct {
	Bounded bool   `json:"bounded"`
	Bound   *int64 `json:"bound"` // null unless bounded
	AtLeast int64  `json:"at_least"`
}

// Step is one function on a worst path.
type Step struct {
	Node     int
	Name     string
	Frame    int64 // the function's frame (Size), or its known part
	RedZone  int64
	Kind     frame.Kind
	TailCall bool // reached from the previous step by a tail call
	// Kept is, for a step reached by a tail call, how many bytes of the
	// caller's frame are still on the stack at the jump (usually 0: the
	// frame is released first). The caller then adds Kept, not its frame.
	Kept int64
	// Cycle is set on a step that stands for a recursive cycle bounded by
	// a declared depth: Frame is then Cycle.Depth trips of Cycle.Trip bytes.
	Cycle *Cycle
	// Depth is the total below the entry's caller SP when this function's
	// SP is deepest (the running sum of the path).
	Depth int64
}

// Cycle is a recursion with a declared depth, as one step of a path: at
// most Depth trips around it, each at most Trip bytes (the sum of its
// members' frames).
type Cycle struct {
	Depth   int64    `json:"depth"`
	Trip    int64    `json:"trip"`
	Members []string `json:"members"`
}

// Spec names an entry point to bound.
type Spec struct {
	Name string
	Node int
	Kind string // main, start, export, reset, exception, irq, user...
}

// Entry is the result for one entry point.
type Entry struct {
	Spec
	Bounded bool
	// Bound is the worst case in bytes when Bounded; AtLeast is always a
	// depth some real path reaches (a lower bound when not Bounded).
	Bound   int64
	AtLeast int64
	Path    []Step
	Reasons []Reason
	// Assumptions are the assumed indirect-call edges the bound relies on.
	Assumptions []Assumption
	// Relative is the depth below the entry's SP (a bound when Bounded):
	// without SP resets it equals AtLeast. AfterReset, when the entry
	// reaches code that sets SP to the top of the main stack, is the part
	// measured from that top instead; Bound and AtLeast are the larger
	// of the two, and Path is that part's path.
	Relative   int64
	AfterReset *ResetPart
}

// ResetPart is what an entry runs after SP is set to the top of the main
// stack: its depth from that top, the reset on its worst path, and the path
// from the function that resets on (Depth from the top).
type ResetPart struct {
	AtLeast  int64
	Function string
	Addr     uint64
	Detail   string
	// Stack is the top of the other stack the reset switches to (a RISC-V
	// trap handler's own stack, frame.Reset.Stack); 0 for the main stack.
	Stack uint64
	Path  []Step
}

// Analysis holds per-node results shared by all entries.
type Analysis struct {
	g     *callgraph.Graph
	ra    int64
	value []int64 // worst depth from a node, ignoring what is unknown
	next  []int   // the edge index on the worst path, -1 at the end
	// after is the worst depth below the top of the main stack reached
	// after an SP reset at or below a node (-1: none), afterNext the edge
	// on that path (-1: the node's own reset part ends it).
	after     []int64
	afterNext []int
	// afterInto: afterNext's callee is followed into its own after-reset
	// part (its reset, not this node's).
	afterInto []bool
	scc       []int  // strongly connected component of each node
	cyclic    []bool // per component: does it contain a cycle
	// followed holds the targets of the edges the bound follows, node by
	// node (components' copy; reachedTop reads it too): released when
	// New returns, not kept with the analysis.
	followed scc.Adjacency
	// memberList holds each component's members in node order:
	// memberList[memberStart[c]:memberStart[c+1]] (componentMembers).
	// Made once: a scan of every node per cyclic component was most of
	// the recursion reasons' time on a large library.
	memberStart []int32
	memberList  []int
	depth       []int64 // per component: declared recursion depth (0: none)
	// modelDepth: the component's depth is a model's (callgraph.Node.
	// RecursionDepth), whose premise the node carries, not stackscope.toml's.
	modelDepth map[int]bool
	own        [][]Reason
	opts       Options
	// exit is, per component with a declared recursion depth, the node and
	// edge its deepest call out of the cycle leaves by (edge -1: none, the
	// cycle's red zone is deeper), for the path.
	exit map[int]cycleExit
	// Reasons and assumptions: the tables in priority order, and per
	// component the ranks it reaches (see facts).
	reasonTable []Reason
	assumeTable []Assumption
	reasonsOf   [][]int32
	assumesOf   [][]int32
	// reasonTiesMixed and assumeTiesMixed: two items of different
	// content sort as equal (the stable sort then orders them by node, and
	// their ranks by the first of each: see CoversAsOwn).
	reasonTiesMixed, assumeTiesMixed bool
	// search is shortestCycle's scratch (ownReasons' goroutine only).
	search *searchScratch
	// followsAll: nothing declared a worst case or set aside, so follows
	// is true of every edge, said without two map lookups per edge of
	// each pass over the graph's edges (node: 1.6 million). (No caller
	// adds to Options' maps once New has them: --own-code changes the
	// values of its overrides between analyses, never its keys.)
	followsAll bool
}

// New analyses every node of g reachable from the given entries.
func New(g *callgraph.Graph, roots []int, opts Options) *Analysis {
	g.Resolve()
	n := len(g.Nodes)
	a := &Analysis{g: g, ra: g.Decoder.ReturnAddressSize(), value: make([]int64, n), next: make([]int, n), opts: opts,
		after: make([]int64, n), afterNext: make([]int, n), afterInto: make([]bool, n),
		followsAll: len(opts.Overrides) == 0 && len(opts.Excluded) == 0}
	a.components(roots)
	a.listMembers()
	a.applyDepths()
	// The values and the facts read the components and the graph and
	// write apart (values: value, next, after..., exit; the reasons:
	// own, the tables, reasonsOf, assumesOf): made on two cores, the
	// assumptions' facts on a goroutine of their own beside the reasons'.
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.values()
	}()
	assumed := make(chan any, 1)
	go func() {
		defer func() { assumed <- recover() }()
		a.assumptionFacts()
	}()
	a.ownReasons()
	a.reasonFacts()
	if fault := <-assumed; fault != nil {
		panic(fault)
	}
	<-done
	a.followed = scc.Adjacency{}
	return a
}

// Options carry what the configuration knows that the code does not.
type Options struct {
	// Overrides gives nodes a known worst case (bytes, callees included):
	// external functions and hand-written code annotated in stackscope.toml.
	Overrides map[int]int64
	// Depths bounds recursion: at most Depth activations of the cycle
	// that contains the node.
	Depths map[int]int64
	// Excluded nodes are set aside ([[exclude]]): no path goes through
	// them, and each node that calls one carries an "excluded" assumption.
	Excluded map[int]bool
}

// follows reports whether the bound follows edge e out of node id: not
// out of a node with a declared worst case (its callees are included in
// it: the node is a leaf), and not into an excluded node.
func (a *Analysis) follows(id int, e callgraph.Edge) bool {
	if a.followsAll {
		return true
	}
	if _, ok := a.opts.Overrides[id]; ok {
		return false
	}
	return !a.opts.Excluded[e.To]
}

// listMembers makes the member lists of the components (memberList).
func (a *Analysis) listMembers() {
	a.memberStart = make([]int32, len(a.cyclic)+1)
	for _, c := range a.scc {
		if c >= 0 {
			a.memberStart[c+1]++
		}
	}
	for c := range a.cyclic {
		a.memberStart[c+1] += a.memberStart[c]
	}
	a.memberList = make([]int, a.memberStart[len(a.cyclic)])
	fill := slices.Clone(a.memberStart[:len(a.cyclic)])
	for id, c := range a.scc {
		if c >= 0 {
			a.memberList[fill[c]] = id
			fill[c]++
		}
	}
}

// componentMembers are component c's members in node order (shared:
// not to be changed).
func (a *Analysis) componentMembers(c int) []int {
	return a.memberList[a.memberStart[c]:a.memberStart[c+1]:a.memberStart[c+1]]
}

// applyDepths turns declared recursion depths into per-component depths.
func (a *Analysis) applyDepths() {
	a.depth = make([]int64, len(a.cyclic))
	a.modelDepth = map[int]bool{}
	for id, n := range a.g.Nodes {
		// A depth a model of the call graph gives (its premise is the
		// node's): taken as a declared one, unless the file declares one.
		if d := n.RecursionDepth; d > 0 && a.scc[id] >= 0 {
			if c := a.scc[id]; a.cyclic[c] && d > a.depth[c] {
				a.depth[c] = d
				a.modelDepth[c] = true
			}
		}
	}
	for id, d := range a.opts.Depths {
		if id < len(a.scc) {
			if c := a.scc[id]; c >= 0 && a.cyclic[c] && (d > a.depth[c] || a.modelDepth[c]) {
				a.depth[c] = d
				a.modelDepth[c] = false
			}
		}
	}
}

func (a *Analysis) ownReasons() {
	g := a.g
	defer func() { a.search = nil }() // (the recursion reasons' scratch)
	a.own = make([][]Reason, len(g.Nodes))
	cycleDone := map[int]bool{}
	for id, n := range g.Nodes {
		if a.scc[id] < 0 {
			continue
		}
		name := "" // made for the first reason: most functions have none (and a C++ name is demangled when made)
		lib := ""
		if n.Module != nil && n.Module != g.Modules[0] {
			lib = n.Module.Name
		}
		var rs []Reason
		add := func(kind string, addr uint64, detail string) {
			if rs == nil {
				name = g.QualifiedName(id)
			}
			rs = append(rs, Reason{Kind: kind, Function: name, Addr: addr, Detail: detail, Library: lib, node: id})
		}
		switch {
		case n.External:
			add(ReasonExternal, 0, "external function: no library on the search path defines it")
		case n.Frame.Kind == frame.Dynamic:
			add(ReasonDynamic, n.Frame.ReasonAddr, n.Frame.Reason)
		case n.Frame.Kind == frame.Unknown:
			add(ReasonUnknown, n.Frame.ReasonAddr, n.Frame.Reason)
		}
		for _, cs := range n.Unresolved {
			if cs.Target != 0 {
				// callgraph.linkConstant: a constant that is no function's entry.
				add(ReasonIndirect, cs.Addr, fmt.Sprintf("%s at %#x to the constant %#x, which starts no function", cs.Kind, cs.Addr, cs.Target))
				continue
			}
			if why := g.UnresolvedWhy(id, cs.Addr); why != "" {
				add(ReasonIndirect, cs.Addr, fmt.Sprintf("%s at %#x of an ifunc: target not known (%s)", cs.Kind, cs.Addr, why))
				continue
			}
			add(ReasonIndirect, cs.Addr, fmt.Sprintf("%s at %#x: target not known", cs.Kind, cs.Addr))
		}
		for _, cs := range n.BadTargets() {
			add(ReasonUnknown, cs.Addr, fmt.Sprintf("%s at %#x to %#x, which starts no known function", cs.Kind, cs.Addr, cs.Target))
		}
		if _, ok := a.opts.Overrides[id]; ok {
			a.own[id] = nil
			continue
		}
		if c := a.scc[id]; a.cyclic[c] && a.depth[c] == 0 && !cycleDone[c] {
			cycleDone[c] = true
			rs = append(rs, a.recursion(c, id))
		}
		a.own[id] = rs
	}
}

func (a *Analysis) cycleMembers(c int) []string {
	var names []string
	for _, id := range a.componentMembers(c) {
		names = append(names, a.g.QualifiedName(id))
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], fmt.Sprintf("and %d more", len(names)-8))
	}
	return names
}

// values computes, in reverse topological order of the components (Tarjan
// numbers them that way), the worst depth below each node. Edges inside a
// cycle are not followed: a recursive node's value is one trip, a lower
// bound, and its entries carry the recursion reason.
func (a *Analysis) values() {
	g := a.g
	for c := range a.cyclic {
		members := a.componentMembers(c)
		for _, id := range members {
			a.next[id] = -1
			n := g.Nodes[id]
			if v, ok := a.opts.Overrides[id]; ok {
				a.value[id] = v
				continue
			}
			best := n.Frame.Size + n.Frame.RedZone
			if n.External {
				best = 0
			}
			for ei, e := range n.Edges {
				if a.scc[e.To] == a.scc[id] || e.AfterReset || !a.follows(id, e) {
					continue
				}
				var v int64
				if e.Kind == frame.TailCall {
					v = e.Depth - a.ra + a.value[e.To]
				} else {
					v = n.Frame.Size + a.value[e.To]
				}
				if v > best || (v == best && a.next[id] < 0) {
					best, a.next[id] = v, ei
				}
			}
			a.value[id] = best
		}
		if d := a.depth[c]; d > 0 {
			a.recursionValue(c, members, d)
		}
		a.afterValues(members)
	}
}

// afterValues computes, for the members of one component, the deepest
// point below the top of the main stack reached after an SP reset: the
// node's own code after its reset and the calls it makes there (measured
// from the top, whatever the node's callers used), or a callee's.
func (a *Analysis) afterValues(members []int) {
	worst, worstNext := int64(-1), -1
	for _, id := range members {
		a.after[id], a.afterNext[id] = -1, -1
		n := a.g.Nodes[id]
		if _, ok := a.opts.Overrides[id]; ok || n.External {
			continue
		}
		best, next, into := int64(-1), -1, false
		if len(n.Frame.Resets) > 0 {
			best = n.Frame.ResetSize
		}
		for ei, e := range n.Edges {
			if a.scc[e.To] == a.scc[id] || !a.follows(id, e) {
				continue
			}
			if v := a.after[e.To]; v > best {
				best, next, into = v, ei, true
			}
			if !e.AfterReset {
				continue
			}
			v := n.Frame.ResetSize + a.value[e.To]
			if e.Kind == frame.TailCall {
				v = e.Depth - a.ra + a.value[e.To]
			}
			if v > best {
				best, next, into = v, ei, false
			}
		}
		a.after[id], a.afterNext[id], a.afterInto[id] = best, next, into
		if best > worst {
			worst, worstNext = best, id
		}
	}
	if len(members) > 1 && worst >= 0 {
		// A cycle: any member can reach the worst member's reset.
		for _, id := range members {
			if a.after[id] < worst {
				a.after[id], a.afterNext[id] = worst, -2-worstNext
			}
		}
	}
}

// recursionValue bounds a cycle with a declared depth d: d trips around
// it, each at most the sum of its members' frames (any simple cycle visits
// a member once; for one recursive function this is exact), then the
// deepest call out of the cycle.
func (a *Analysis) recursionValue(c int, members []int, d int64) {
	var trip, exit int64
	way := [2]int{members[0], -1}
	for _, id := range members {
		n := a.g.Nodes[id]
		trip += n.Frame.Size
		if n.Frame.RedZone > exit {
			exit, way = n.Frame.RedZone, [2]int{id, -1}
		}
		for ei, e := range n.Edges {
			if a.scc[e.To] != a.scc[id] && a.follows(id, e) && a.value[e.To] > exit {
				exit, way = a.value[e.To], [2]int{id, ei}
			}
		}
	}
	if a.exit == nil {
		a.exit = map[int]cycleExit{}
	}
	a.exit[c] = cycleExit{node: way[0], edge: way[1], trip: trip}
	for _, id := range members {
		a.value[id] = d*trip + exit
	}
}

// cycleExit is how the path leaves a cycle with a declared depth: by edge
// edge of node (edge -1: it ends there, the red zone of node is deepest),
// after trips of trip bytes.
type cycleExit struct {
	node, edge int
	trip       int64
}

// Entry returns the result for one entry.
func (a *Analysis) Entry(s Spec) Entry { return a.entry(s, nil, nil, false) }

// EntrySharing is Entry with reasons as its reasons: a list the caller
// made from the same ReasonRanks before (a copy of the items those ranks
// name, which Entry would make again: 840 MB of copies on libLLVM-15,
// whose 36,687 entries share a few thousand lists). With reasons nil, or
// for an entry that was not analysed, it is Entry.
func (a *Analysis) EntrySharing(s Spec, reasons []Reason) Entry {
	return a.entry(s, reasons, nil, false)
}

// EntrySharingPathless is EntrySharing, and takes assumptions (when not
// nil) as the entry's assumptions, as reasons: a list made before from
// the same AssumptionRanks, under no exclusions (it is taken as it is).
// With pathless an entry with no bound and no part after an SP reset
// gets no Path: for a caller that gives such entries another path
// (analysis: the lower bound's chain), which need not have this one made
// first (36,000 paths on libLLVM-15, and as many copies of lists).
func (a *Analysis) EntrySharingPathless(s Spec, reasons []Reason, assumptions []Assumption, pathless bool) Entry {
	return a.entry(s, reasons, assumptions, pathless)
}

func (a *Analysis) entry(s Spec, reasons []Reason, assumptions []Assumption, pathless bool) Entry {
	e := Entry{Spec: s}
	if a.scc[s.Node] < 0 {
		e.Reasons = []Reason{{Kind: ReasonUnknown, Function: s.Name, Detail: "entry was not analysed"}}
		return e
	}
	if reasons != nil {
		e.Reasons = reasons
	} else {
		e.Reasons = a.reachableReasons(s.Node)
	}
	if assumptions != nil {
		e.Assumptions = assumptions
	} else {
		e.Assumptions = dedupeExcluded(a.reachableAssumptions(s.Node))
	}
	e.AtLeast = a.value[s.Node]
	e.Relative = e.AtLeast
	if !pathless || len(e.Reasons) == 0 || a.after[s.Node] >= 0 {
		e.Path = a.path(s.Node)
	}
	if a.after[s.Node] >= 0 {
		e.AfterReset = a.resetPart(s.Node)
		if e.AfterReset.AtLeast > e.AtLeast {
			e.AtLeast, e.Path = e.AfterReset.AtLeast, e.AfterReset.Path
		}
	}
	if len(e.Reasons) == 0 {
		e.Bounded = true
		e.Bound = e.AtLeast
	}
	return e
}

// dedupeExcluded keeps one "excluded" assumption per function: each
// caller of an excluded function contributes one.
func dedupeExcluded(as []Assumption) []Assumption {
	seen := map[string]bool{}
	out := as[:0]
	for _, x := range as {
		if x.Kind == AssumeExcluded {
			if seen[x.Function] {
				continue
			}
			seen[x.Function] = true
		}
		out = append(out, x)
	}
	return out
}

// resetPart follows the after-reset values from id down to the function
// whose reset starts the worst of them, and that part's path.
func (a *Analysis) resetPart(id int) *ResetPart {
	part := &ResetPart{AtLeast: a.after[id]}
	seen := map[int]bool{}
	for !seen[id] {
		seen[id] = true
		ei := a.afterNext[id]
		if ei <= -2 { // a cycle member: go to the one that resets
			id = -2 - ei
			continue
		}
		n := a.g.Nodes[id]
		if ei >= 0 && a.afterInto[id] {
			id = n.Edges[ei].To
			continue
		}
		// id resets SP; its post-reset part, then a callee's path.
		r := n.Frame.Resets[0]
		part.Function, part.Addr, part.Detail, part.Stack = a.g.QualifiedName(id), r.Addr, r.Detail, r.Stack
		st := Step{Node: id, Name: a.g.QualifiedName(id), Frame: n.Frame.ResetSize, Kind: n.Frame.Kind, Depth: n.Frame.ResetSize}
		part.Path = []Step{st}
		if ei >= 0 {
			e := n.Edges[ei]
			depth, tail := n.Frame.ResetSize, false
			if e.Kind == frame.TailCall {
				depth, tail = e.Depth-a.ra, true
			}
			kept := int64(0)
			if tail {
				kept = depth
			}
			part.Path = append(part.Path, a.pathFrom(e.To, depth, tail, kept)...)
		}
		return part
	}
	return part
}

func (a *Analysis) path(id int) []Step { return a.pathFrom(id, 0, false, 0) }

// pathFrom follows the choices values made from node id, so that the
// steps' frames add up to the node's value: each step adds its frame (or,
// when the next step is reached by a tail call, the part of it kept at
// the jump), and the last one its red zone. The caller's SP is depth bytes
// deep; tail and kept say how id was reached.
func (a *Analysis) pathFrom(id int, depth int64, tail bool, kept int64) []Step {
	var out []Step
	seen := map[int]bool{}
	for id >= 0 && !seen[id] {
		seen[id] = true
		n := a.g.Nodes[id]
		st := Step{Node: id, Name: a.g.QualifiedName(id), Frame: n.Frame.Size, RedZone: n.Frame.RedZone, Kind: n.Frame.Kind, TailCall: tail, Kept: kept}
		if n.External {
			st.Frame, st.Kind = 0, frame.Unknown
		}
		if v, ok := a.opts.Overrides[id]; ok {
			// A declared frame ([[frame]] in stackscope.toml) is the
			// node's whole depth, callees included: the path ends here.
			st.Frame, st.RedZone, st.Kind = v, 0, frame.Static
		}
		ei := a.next[id]
		if c := a.scc[id]; a.depth[c] > 0 {
			// A recursion with a declared depth is one step of its
			// trips, then the deepest call out of it.
			ex := a.exit[c]
			st.Cycle = &Cycle{Depth: a.depth[c], Trip: ex.trip, Members: a.cycleMembers(c)}
			st.Frame, st.RedZone = a.depth[c]*ex.trip, 0
			id, ei = ex.node, ex.edge
			if ei < 0 {
				st.RedZone = a.g.Nodes[id].Frame.RedZone
			}
			for _, m := range a.componentMembers(c) {
				seen[m] = true
			}
			n = a.g.Nodes[id]
		}
		if ei >= 0 {
			st.RedZone = 0 // below a call the red zone is not in use
		}
		st.Depth = depth + st.Frame + st.RedZone
		out = append(out, st)
		if ei < 0 {
			break
		}
		e := n.Edges[ei]
		tail, kept = false, 0
		switch {
		case st.Cycle != nil:
			depth += st.Frame // values adds the exit's whole value
		case e.Kind == frame.TailCall:
			kept = e.Depth - a.ra
			depth += kept
			tail = true
		default:
			depth += st.Frame
		}
		id = e.To
	}
	return out
}

// Per entry, at most this many reasons and assumptions are listed: a
// shared object with thousands of exported functions that each reach most
// of libc would otherwise hold millions of copies (one did not fit in 24 GB).
// The lists keep the first ones in priority order (the program's own
// first), exactly: each component keeps the top of the union of its own
// and its callees' lists, and the top of a union is the top of the union
// of tops.
const (
	MaxReasons     = 200
	MaxAssumptions = 50
)

// The facts number every reason and assumption in priority order and
// give each component the sorted, truncated list of those it can reach.
// The reasons and the assumptions are made apart (they read the
// components and the graph and write apart), the assumptions on a
// goroutine of their own beside the reasons (New): libLLVM-15's facts
// were 0.3 s of the bound's phase on one core.

// reasonFacts is facts of the reasons (reasonTable, reasonsOf).
func (a *Analysis) reasonFacts() {
	g := a.g
	var reasons []Reason
	var reasonNode []int
	for id := range g.Nodes {
		if a.scc[id] < 0 {
			continue
		}
		for _, r := range a.own[id] {
			reasons = append(reasons, r)
			reasonNode = append(reasonNode, id)
		}
	}
	// Priority order (reasonBefore). Equal reasons share a rank: the
	// copies of one function made per constant callback (callgraph's
	// argcontext.go) have the same reasons, which an entry reaching
	// several copies lists once.
	order := stableOrder(reasons, reasonBefore)
	var rank []int32
	a.reasonTable, rank, a.reasonTiesMixed = rankTable(reasons, order, keyOf, reasonBefore)
	ownR := make([][]int32, len(a.cyclic))
	for _, i := range order {
		c := a.scc[reasonNode[i]]
		ownR[c] = append(ownR[c], rank[i])
	}
	a.reasonsOf = a.reachedTop(ownR, MaxReasons)
}

// assumptionFacts is facts of the assumptions (assumeTable, assumesOf).
func (a *Analysis) assumptionFacts() {
	g := a.g
	// Room for the indirect calls' assumptions and the premises, most of
	// the list (the others append past it): grown by append, the list of
	// libLLVM-15's 70,000 was 40 MB of garbage while the graph is live.
	room := 0
	for id, n := range g.Nodes {
		if a.scc[id] >= 0 {
			room += len(n.Assumed) + len(n.Premises)
		}
	}
	assumes := make([]Assumption, 0, room)
	assumeNode := make([]int, 0, room)
	depthSeen := map[int]bool{}
	excludedFrom := map[[2]int]bool{}
	for id, n := range g.Nodes {
		c := a.scc[id]
		if c < 0 {
			continue
		}
		lib := ""
		if n.Module != nil && n.Module != g.Modules[0] && !n.Hub {
			lib = n.Module.Name
		}
		if v, ok := a.opts.Overrides[id]; ok {
			assumes = append(assumes, Assumption{Kind: AssumeFrame, Function: g.QualifiedName(id), Detail: fmt.Sprintf("declared worst case %s, callees included (stackscope.toml)", size.Format(v))})
			assumeNode = append(assumeNode, id)
			continue
		}
		if a.depth[c] > 0 && !depthSeen[c] && !a.modelDepth[c] {
			depthSeen[c] = true
			assumes = append(assumes, Assumption{Kind: AssumeRecursion, Function: g.QualifiedName(id), Detail: fmt.Sprintf("declared recursion depth %d through %s (stackscope.toml)", a.depth[c], strings.Join(a.cycleMembers(c), " -> "))})
			assumeNode = append(assumeNode, id)
		}
		for _, as := range n.Assumed {
			assumes = append(assumes, Assumption{Kind: AssumeIndirect, Function: g.QualifiedName(id), Addr: as.Site, Library: lib,
				Detail: as.Detail})
			assumeNode = append(assumeNode, id)
		}
		for _, p := range n.Premises {
			assumes = append(assumes, Assumption{Kind: p.Kind, Function: g.QualifiedName(id), Addr: p.Site, Library: lib, Detail: p.Detail})
			assumeNode = append(assumeNode, id)
		}
		for _, r := range n.Frame.Resets {
			if r.VTOR {
				assumes = append(assumes, Assumption{Kind: AssumeVTOR, Function: g.QualifiedName(id), Addr: r.Addr, Library: lib,
					Detail: "SP reset to the top of the main stack, read through VTOR: assumes VTOR points at the ELF's vector table"})
				assumeNode = append(assumeNode, id)
			}
		}
		for _, x := range n.ExcReturns() {
			if x.Assumed {
				assumes = append(assumes, Assumption{Kind: AssumeExcReturn, Function: g.QualifiedName(id), Addr: x.Site, Library: lib,
					Detail: "exception return (handler mode): " + x.Detail})
				assumeNode = append(assumeNode, id)
			}
		}
		if len(a.opts.Excluded) == 0 {
			continue // (not a map lookup per edge for nothing: 1.6 million on node)
		}
		for _, e := range n.Edges {
			if a.opts.Excluded[e.To] && !excludedFrom[[2]int{id, e.To}] {
				excludedFrom[[2]int{id, e.To}] = true
				assumes = append(assumes, a.excludedAssumption(e.To))
				assumeNode = append(assumeNode, id)
			}
		}
	}
	// Equal assumptions share a rank, as equal reasons do.
	order := assumptionOrder(assumes)
	var rank []int32
	a.assumeTable, rank, a.assumeTiesMixed = rankTable(assumes, order, func(x Assumption) Assumption { return x }, assumptionBefore)
	ownA := make([][]int32, len(a.cyclic))
	for _, i := range order {
		c := a.scc[assumeNode[i]]
		ownA[c] = append(ownA[c], rank[i])
	}
	a.assumesOf = a.reachedTop(ownA, MaxAssumptions)
}

// rankTable orders items by before, stably (items it orders neither way
// keep their order), and numbers their contents in that order: table is
// each content once, in order, and rank[i] the place of items[i]'s content
// (key) in it. order is the items' indexes in that order. tiesMixed says
// that two items of different content sorted as equal (their order then
// comes from the items' order: see CoversAsOwn). Items of equal keys must
// be ones before orders neither way.
//
// Equal contents are then in one run of the sorted items that before
// orders neither way (a tie run: before is a strict weak order), so a
// content is looked for among its run's alone (runContents), not in a
// map of all: that map (node: 32,800 assumptions, 4.7 MB) was most of
// rankTable's time, its fresh memory read before it was written (the
// kernel mapped the zero page, then faulted again at the write).
//
// order is the items' indexes sorted stably by before: stableOrder's
// answer, or one of a faster sort that gives the same (assumptionOrder).
func rankTable[T any, K comparable](items []T, order []int, key func(T) K, before func(x, y *T) bool) (table []T, rank []int32, tiesMixed bool) {
	table = make([]T, 0, len(items))
	rank = make([]int32, len(items))
	var run runContents[K]
	prev, prevRank := -1, int32(-1)
	for _, i := range order {
		if prev < 0 || before(&items[prev], &items[i]) {
			run.start(int32(len(table)))
		}
		k := key(items[i])
		r, ok := run.find(k)
		if !ok {
			r = int32(len(table))
			run.add(k)
			table = append(table, items[i])
		}
		if prev >= 0 && r != prevRank && !before(&items[prev], &items[i]) {
			tiesMixed = true
		}
		prev, prevRank = i, r
		rank[i] = r
	}
	return table, rank, tiesMixed
}

// stableOrder is the items' indexes sorted stably by before.
func stableOrder[T any](items []T, before func(x, y *T) bool) []int {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return before(&items[order[i]], &items[order[j]]) })
	return order
}

// runContents are the contents of one tie run of rankTable, in table
// order from rank first: looked for one by one while they are few (a run
// is nearly always one content), through a map once there are more.
type runContents[K comparable] struct {
	first int32
	keys  []K
	index map[K]int32 // (nil while keys are few)
}

// runScanLimit is how many contents a run's lookups scan one by one.
const runScanLimit = 16

// start begins a run whose first new content will be ranked first.
func (rc *runContents[K]) start(first int32) {
	rc.first, rc.keys, rc.index = first, rc.keys[:0], nil
}

// find returns the rank of k in the run, if it is there.
func (rc *runContents[K]) find(k K) (int32, bool) {
	if rc.index != nil {
		r, ok := rc.index[k]
		return r, ok
	}
	for j, c := range rc.keys {
		if c == k {
			return rc.first + int32(j), true
		}
	}
	return 0, false
}

// add appends k, the run's next content.
func (rc *runContents[K]) add(k K) {
	rc.keys = append(rc.keys, k)
	switch {
	case rc.index != nil:
		rc.index[k] = rc.first + int32(len(rc.keys)-1)
	case len(rc.keys) > runScanLimit:
		rc.index = make(map[K]int32, 2*len(rc.keys))
		for j, c := range rc.keys {
			rc.index[c] = rc.first + int32(j)
		}
	}
}

// reasonBefore is the reasons' priority order: the program's own first,
// they are the ones its author can act on; then by kind, function and
// address. (Reasons it orders neither way keep the order of their nodes.)
func reasonBefore(x, y *Reason) bool {
	if x.Library != y.Library {
		return x.Library < y.Library
	}
	if x.Kind != y.Kind {
		return x.Kind < y.Kind
	}
	if x.Function != y.Function {
		return x.Function < y.Function
	}
	return x.Addr < y.Addr
}

// assumptionBefore is the assumptions' order, as reasonBefore's.
func assumptionBefore(x, y *Assumption) bool {
	// A premise of the whole runtime model first: one line the cap on
	// the list must not drop among libc's indirect calls.
	if px, py := x.Kind == AssumeNoCancel, y.Kind == AssumeNoCancel; px != py {
		return px
	}
	if px, py := glibcPremise(x.Kind), glibcPremise(y.Kind); px != py {
		return px // (the models of glibc's own code: a few lines, each for the whole run)
	}
	if x.Library != y.Library {
		return x.Library < y.Library
	}
	if x.Function != y.Function {
		return x.Function < y.Function
	}
	return x.Addr < y.Addr
}

// reachedTop gives each component the first k of the ranks it or its
// callees hold (own[c]: its own, sorted here). Components are numbered
// callees first (Tarjan), so each one's callees are done before it. The
// callees are read from the followed edges' targets components copied
// (a.followed): read from the nodes' edges, an edge's and its target's
// cache misses were 9 ms a run of node's assumptions' goroutine, the last
// of bound.New's to end (perf, issue 19).
func (a *Analysis) reachedTop(own [][]int32, k int) [][]int32 {
	of := make([][]int32, len(a.cyclic))
	stamp := make([]int, len(a.cyclic)) // stamp[d] == c+1: d already merged into c
	var merge topMerger
	for c := range a.cyclic {
		r := sortedTop(own[c], k)
		stamp[c] = c + 1
		for _, id := range a.componentMembers(c) {
			for _, to := range a.followed.Of(id) {
				d := a.scc[to]
				if d < 0 || stamp[d] == c+1 {
					continue
				}
				stamp[d] = c + 1
				r = merge.merge(r, of[d], k)
			}
		}
		of[c] = merge.kept(r)
	}
	return of
}

// topMerger merges a component's sorted rank lists with its callees' in
// two scratch lists in turn (a new list at each callee was
// 40 MB of garbage on libLLVM-15, made while the graph is live), and
// copies the result out once.
type topMerger struct {
	buf    [2][]int32
	turn   int
	merged bool // the last list merge returned is in buf
}

// merge merges x and y, two sorted lists without duplicates, keeping
// the first k, in a scratch list (x itself when y is empty).
//
// Most merges change nothing: the callee's list is all in the caller's
// already, or past its k-th (node: the same libc assumptions reach most
// components), and x is the answer without writing a list; into an empty
// x, the answer is y itself (the lists are never written once made).
func (m *topMerger) merge(x, y []int32, k int) []int32 {
	if addsNothing(x, y, k) {
		return x
	}
	if len(x) == 0 {
		return y
	}
	m.turn ^= 1 // (x may be the other scratch list, never this one)
	m.buf[m.turn] = appendMergeTop(m.buf[m.turn][:0], x, y, k)
	m.merged = true
	return m.buf[m.turn]
}

// kept is the component's list r (merge's last answer, or a list of its
// own) in an array of its own, and readies m for the next component.
func (m *topMerger) kept(r []int32) []int32 {
	if !m.merged {
		return r
	}
	m.merged = false
	return slices.Clone(r)
}

// glibcPremise says whether an assumption of this kind is a premise of a
// model of glibc's own code (ld.so's resolver modelled on this CPU among
// them): one line for the whole run, listed first.
func glibcPremise(kind string) bool {
	return kind == callgraph.PremiseGlibcModel || kind == callgraph.PremiseLibcChecks || kind == callgraph.PremiseCPU
}

// excludedAssumption is the assumption an entry that calls excluded node
// id carries: the same for every caller, so that an entry lists it once.
func (a *Analysis) excludedAssumption(id int) Assumption {
	n := a.g.Nodes[id]
	as := Assumption{Kind: AssumeExcluded, Function: a.g.QualifiedName(id), Detail: "paths through it set aside ([[exclude]] or --exclude)"}
	if n.Func != nil && n.Module == a.g.Modules[0] {
		as.Addr = n.Func.Addr
	}
	return as
}

// reasonKey is a reason's content, for finding equal ones.
type reasonKey struct {
	kind, function, detail, library, file, cycle string
	addr                                         uint64
	line                                         int
}

func keyOf(r Reason) reasonKey {
	return reasonKey{kind: r.Kind, function: r.Function, detail: r.Detail, library: r.Library, file: r.File,
		cycle: strings.Join(r.Cycle, "\x00"), addr: r.Addr, line: r.Line}
}

func sortedTop(v []int32, k int) []int32 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	v = slices.Compact(v)
	if len(v) > k {
		v = v[:k]
	}
	return v
}

// addsNothing says whether the first k of x and y merged are x: every
// item of y before x's k-th is in x. (Both sorted, without duplicates, of
// at most k items.)
func addsNothing(x, y []int32, k int) bool {
	i := 0
	for _, v := range y {
		if len(x) == k && v > x[k-1] {
			return true // (and so is the rest of y: past the first k)
		}
		for i < len(x) && x[i] < v {
			i++
		}
		if i == len(x) || x[i] != v {
			return false
		}
		i++
	}
	return true
}

// appendMergeTop merges two sorted lists without duplicates, keeping the
// first k, appended to out (empty, and no array of x or y).
func appendMergeTop(out, x, y []int32, k int) []int32 {
	i, j := 0, 0
	for len(out) < k && (i < len(x) || j < len(y)) {
		switch {
		case j >= len(y) || (i < len(x) && x[i] < y[j]):
			out = append(out, x[i])
			i++
		case i >= len(x) || y[j] < x[i]:
			out = append(out, y[j])
			j++
		default:
			out = append(out, x[i])
			i++
			j++
		}
	}
	return out
}

// reachableReasons returns the reasons reachable from id, first ones
// first, at most MaxReasons (reachableAssumptions: the assumptions, at
// most MaxAssumptions).
func (a *Analysis) reachableReasons(id int) []Reason {
	var rs []Reason
	if ranks := a.reasonsOf[a.scc[id]]; len(ranks) > 0 {
		rs = make([]Reason, len(ranks))
		for k, i := range ranks {
			rs[k] = a.reasonTable[i]
		}
	}
	return rs
}

// reachableAssumptions are the assumptions reachable from id.
func (a *Analysis) reachableAssumptions(id int) []Assumption {
	var as []Assumption
	if ranks := a.assumesOf[a.scc[id]]; len(ranks) > 0 {
		as = make([]Assumption, len(ranks))
		for k, i := range ranks {
			as[k] = a.assumeTable[i]
		}
	}
	return as
}

// ReasonRanks are the reasons Entry gives node id, as ranks for
// ReasonAt, in Entry's order (nil when id was not analysed: Entry then
// gives the one reason "entry was not analysed"). It copies nothing: for
// callers that look at the reasons of many nodes.
func (a *Analysis) ReasonRanks(id int) []int32 {
	if !a.Analysed(id) {
		return nil
	}
	return a.reasonsOf[a.scc[id]]
}

// AssumptionRanks are, as ReasonRanks, the ranks of the assumptions
// node id reaches (Entry gives them with one "excluded" per function).
func (a *Analysis) AssumptionRanks(id int) []int32 {
	if !a.Analysed(id) {
		return nil
	}
	return a.assumesOf[a.scc[id]]
}

// ReasonAt is the reason of rank i (see ReasonRanks).
func (a *Analysis) ReasonAt(i int32) Reason { return a.reasonTable[i] }

// Reasons is how many ranks there are.
func (a *Analysis) Reasons() int { return len(a.reasonTable) }

// Value is the worst depth below node id ignoring unknowns (a lower bound
// when the node reaches an unknown).
func (a *Analysis) Value(id int) int64 { return a.value[id] }

// Bounded reports whether node id was analysed and reaches nothing that
// keeps it from a bound; Value(id) is then its bound.
func (a *Analysis) Bounded(id int) bool {
	if id < 0 || id >= len(a.scc) || a.scc[id] < 0 {
		return false
	}
	return len(a.reasonsOf[a.scc[id]]) == 0
}

// ResetsAfter reports whether node id was analysed and reaches an SP
// reset (Entry then gives it an AfterReset part).
func (a *Analysis) ResetsAfter(id int) bool { return a.Analysed(id) && a.after[id] >= 0 }

// Analysed reports whether node id is reachable from the roots (and so
// has a value).
func (a *Analysis) Analysed(id int) bool { return id >= 0 && id < len(a.scc) && a.scc[id] >= 0 }

// CoversAsOwn says whether Entry gives every node of roots what an
// analysis of roots alone, New(g, roots, opts) on the same graph with the
// same options, would give it: then that analysis need not be made (the
// threads' entries, on a program's: analysis.findThreads).
//
// It does when every root was analysed here and no two reasons (or
// assumptions) of different content sort as equal. Why: what Entry says
// of a node is made from what the node reaches alone. Its component is
// the same in any analysis that reaches it (its members in node order,
// and the recursion reason found from its first member), and so are the
// components it reaches, so its value, path, after-reset part and the
// set of reasons and assumptions it reaches are too. Which of those are
// listed, and in what order, follows their ranks; a rank is the place of
// an item's content in the table of every item analysed, and two
// analyses' tables order the items both hold alike when the order of
// the sort is the order of their content. When two items of different
// content sort as equal, the stable sort orders them by node, and an
// item equal to one the other analysis holds first could come first
// here: not covered.
func (a *Analysis) CoversAsOwn(roots []int) bool {
	if a.reasonTiesMixed || a.assumeTiesMixed {
		return false
	}
	for _, r := range roots {
		if !a.Analysed(r) {
			return false
		}
	}
	return true
}
