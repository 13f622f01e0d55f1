package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/threads"
)

// --own-code: the bound of the analysed file's own functions, each call
// into a shared library counted as that library function's own bound
// (callees included) when it has one, and spelled out as a requirement
// when it has not, with the depth it is called at. That is the number a
// person sizing a thread stack writes down: the code they can change,
// with the library part named.

// OwnCode is an entry's own-code bound (JSON key "own_code").
type OwnCode struct {
	// Bounded: the file's own code has a bound, its library calls
	// counted by their bounds; Bound is then that bound, else null and
	// AtLeast the depth the own code's deepest known path reaches.
	// Library calls that have no bound are not in the number: they are
	// LibraryCalls with bounded false, each needing its own depth on top
	// of CallDepth.
	Bounded bool           `json:"bounded"`
	Bound   *int64         `json:"bound"`
	AtLeast int64          `json:"at_least"`
	Path    []string       `json:"path"`
	Steps   []PathStep     `json:"path_frames"`
	Reasons []bound.Reason `json:"reasons"`
	// Assumptions are those of the own code (not of the libraries).
	Assumptions  []bound.Assumption `json:"assumptions"`
	LibraryCalls []LibraryCall      `json:"library_calls"`
}

// LibraryCall is a library function the entry's own code calls.
type LibraryCall struct {
	Function string `json:"function"`
	Library  string `json:"library"`
	Bounded  bool   `json:"bounded"`
	Bound    *int64 `json:"bound"` // null unless bounded
	AtLeast  int64  `json:"at_least"`
	// CallDepth is the deepest the own code's SP is when it calls the
	// function (its bound starts there); set for unbounded ones.
	CallDepth int64 `json:"call_depth"`
	// Reasons are the library function's first reasons (at most
	// maxCallReasons), of ReasonCount (at most bound.MaxReasons).
	Reasons     []bound.Reason `json:"reasons"`
	ReasonCount int            `json:"reason_count"`
	// Assumes counts what its bound assumes (assumed indirect-call targets).
	Assumes int `json:"assumptions"`
	node    int
}

// libraryCalls returns the library functions the own code reachable from
// entry node id calls (external functions too), in first-call order: it
// walks the file's own functions and its address-taken sets, not into
// libraries, with the user's exclusions and declared frames.
func (res *Result) libraryCalls(id int, bo bound.Options) []int {
	g := res.Graph
	main := g.Modules[0]
	own := func(n *callgraph.Node) bool { return !n.External && n.Module == main }
	var out []int
	seen := map[int]bool{id: true}
	stack := []int{id}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, leaf := bo.Overrides[v]; leaf {
			continue
		}
		for _, e := range g.Nodes[v].Edges {
			w := e.To
			if seen[w] || bo.Excluded[w] {
				continue
			}
			seen[w] = true
			if own(g.Nodes[w]) {
				stack = append(stack, w)
				continue
			}
			if _, declared := bo.Overrides[w]; !declared {
				out = append(out, w)
			}
		}
	}
	return out
}

// maxCallReasons is how many of a library call's reasons its entry in
// library_calls lists: the entry's own reasons list them all.
const maxCallReasons = 10

// libraryCall describes library node id from the whole analysis.
func (res *Result) libraryCall(id int, lo threads.LowerOptions) LibraryCall {
	g := res.Graph
	n := g.Nodes[id]
	lc := LibraryCall{Function: n.Name(), node: id, Reasons: []bound.Reason{}}
	if n.Module != nil {
		lc.Library = n.Module.Name
	}
	b := res.Bounds.Entry(bound.Spec{Name: g.QualifiedName(id), Node: id})
	lc.Bounded, lc.AtLeast, lc.Assumes = b.Bounded, b.AtLeast, len(b.Assumptions)
	if b.Bounded {
		v := b.Bound
		lc.Bound = &v
	}
	onChain := map[string]bool{}
	if !b.Bounded {
		// The depth it certainly reaches, as an entry's at_least.
		var chain []threads.Step
		lc.AtLeast, chain = threads.LowerBound(g, id, lo)
		for _, st := range chain {
			onChain[st.Name] = true
		}
	}
	lc.ReasonCount = len(b.Reasons)
	// The reasons of the functions its deepest known chain goes through
	// first (printf: the alloca of vfprintf), then its own library's,
	// then the rest (the program's reasons it reaches are the entry's).
	rank := func(r bound.Reason) int {
		switch {
		case onChain[r.Function]:
			return 0
		case r.Library == lc.Library:
			return 1
		}
		return 2
	}
	for k := 0; k < 3; k++ {
		for _, r := range b.Reasons {
			if rank(r) == k && len(lc.Reasons) < maxCallReasons {
				lc.Reasons = append(lc.Reasons, r)
			}
		}
	}
	return lc
}

// ownCode bounds every entry's own code (--own-code).
func (res *Result) ownCode(specs []bound.Spec, bo bound.Options, lo threads.LowerOptions) {
	g := res.Graph
	calls := map[int]LibraryCall{}
	perEntry := make([][]int, len(specs))
	own := bo
	own.Overrides = map[int]int64{}
	for k, v := range bo.Overrides {
		own.Overrides[k] = v
	}
	var roots, open []int
	for i, s := range specs {
		roots = append(roots, s.Node)
		perEntry[i] = res.libraryCalls(s.Node, bo)
		for _, id := range perEntry[i] {
			if _, done := calls[id]; done {
				continue
			}
			lc := res.libraryCall(id, lo)
			calls[id] = lc
			// A library function is a leaf of its bound, or of nothing
			// when it has none: the requirement is listed instead.
			own.Overrides[id] = 0
			if lc.Bounded {
				own.Overrides[id] = *lc.Bound
			} else {
				open = append(open, id)
			}
		}
	}
	oa := bound.New(g, roots, own)
	// The depth each unbounded call is made at: weigh it so heavily that
	// the deepest path goes through it, and take the weight off again.
	const weight = int64(1) << 40
	callDepth := map[int]map[int]int64{} // library node -> entry index -> depth
	for _, id := range open {
		own.Overrides[id] = weight
		wa := bound.New(g, roots, own)
		own.Overrides[id] = 0
		callDepth[id] = map[int]int64{}
		for i, s := range specs {
			if v := wa.Value(s.Node); v >= weight {
				callDepth[id][i] = v - weight
			}
		}
	}
	for i, s := range specs {
		b := oa.Entry(s)
		oc := &OwnCode{Bounded: b.Bounded, AtLeast: b.AtLeast, Reasons: b.Reasons, Assumptions: []bound.Assumption{}, LibraryCalls: []LibraryCall{}}
		if oc.Reasons == nil {
			oc.Reasons = []bound.Reason{}
		}
		if b.Bounded {
			v := b.Bound
			oc.Bound = &v
		}
		res.locateReasons(oc.Reasons)
		injected := map[string]bool{}
		for _, id := range perEntry[i] {
			injected[g.QualifiedName(id)] = true
		}
		for _, a := range b.Assumptions {
			if a.Kind == bound.AssumeFrame && injected[a.Function] {
				continue // a library call counted by its own bound, not a declaration
			}
			if a.Library == "" {
				a.File, a.Line = res.lineAt(a.Addr)
			}
			oc.Assumptions = append(oc.Assumptions, a)
		}
		oc.Path, oc.Steps, _ = res.pathSteps(b.Path)
		for k, st := range b.Path {
			if lc, ok := calls[st.Node]; ok && lc.Bounded {
				oc.Steps[k].LibraryBound = true
			}
		}
		for _, id := range perEntry[i] {
			lc := calls[id]
			lc.CallDepth = callDepth[id][i]
			oc.LibraryCalls = append(oc.LibraryCalls, lc)
		}
		res.Entries[i].OwnCode = oc
	}
}

// OwnCodeEntries are the entries' own-code bounds as entries named
// "NAME (own code)", for comparisons (diff --own-code): its number, path
// and own reasons; each library call without a bound is a reason of kind
// external, so that one that appears or goes is a change.
func (res *Result) OwnCodeEntries() []Entry {
	var out []Entry
	for _, e := range res.Entries {
		oc := e.OwnCode
		if oc == nil {
			continue
		}
		x := Entry{Name: e.Name + " (own code)", Kind: e.Kind, Bounded: oc.Bounded, Bound: oc.Bound, AtLeast: oc.AtLeast,
			Path: oc.Path, Steps: oc.Steps, Reasons: append([]bound.Reason{}, oc.Reasons...), Assumptions: oc.Assumptions}
		for _, lc := range oc.LibraryCalls {
			if !lc.Bounded {
				x.Reasons = append(x.Reasons, bound.Reason{Kind: bound.ReasonExternal, Function: lc.Function, Library: lc.Library,
					Detail: fmt.Sprintf("library call without a bound, made %s deep", size.Format(lc.CallDepth))})
			}
		}
		out = append(out, x)
	}
	return out
}
