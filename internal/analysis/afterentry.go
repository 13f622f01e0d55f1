package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/threads"
)

// AfterEntry is what glibc's start_thread runs on a pthread's stack
// besides the start routine (the "after_entry" key of a thread): the
// thread-specific data and thread_local destructors, __libc_thread_freeres,
// exit for the last thread, ... (threads.StartThread). Its depths are
// measured from the same place as the entry's bound, the routine's CFA,
// so the thread needs context + the larger of the two.
type AfterEntry struct {
	// Counted: start_thread was identified and its calls are in the
	// thread's need; otherwise Note says why they are not.
	Counted bool `json:"counted"`
	// Bound is the deepest of start_thread's other calls below the
	// routine's CFA (null when one is not bounded). AtLeast is only
	// start_thread's own frame below that CFA (0 when none): each of its
	// calls runs on some paths only (a key given a value, the process's
	// last thread, a thread that registered an RPC service: the chain
	// __libc_thread_freeres -> __rpc_thread_destroy -> svc_unregister ->
	// perror -> buffered_vfprintf names 40 KB of calls on x86-64 glibc
	// 2.36), so none is a depth the thread certainly reaches, and an
	// "overflow by at least" never rests on them.
	Bound   *int64 `json:"bound"`
	AtLeast int64  `json:"at_least"`
	// Path is the deepest call's chain, from start_thread.
	Path        []string           `json:"path"`
	Reasons     []bound.Reason     `json:"reasons"`
	Assumptions []bound.Assumption `json:"assumptions"`
	Note        string             `json:"note,omitempty"`
}

// afterEntryRoots are start_thread's calls other than the routine's, to be
// analysed with the thread entries.
func afterEntryRoots(ae threads.AfterEntry) []int {
	var out []int
	for _, c := range ae.Calls {
		out = append(out, c.To)
	}
	return out
}

// afterEntryPart bounds start_thread's other calls. The arithmetic: the
// measured context (glibcFacts.top) runs from the top of the stack to the
// routine's CFA, so it already holds start_thread's frame down to the
// routine's call (RoutineDepth below start_thread's CFA). A call made at
// depth D below start_thread's CFA puts the callee's CFA D - RoutineDepth
// below the routine's CFA (Offset), and the callee reaches its bound below
// its own CFA: Offset + bound below the routine's CFA, the same origin as
// the routine's bound. start_thread's own deepest point counts too (Own).
func afterEntryPart(res *Result, g *callgraph.Graph, ae threads.AfterEntry, ba *bound.Analysis, bo bound.Options) *AfterEntry {
	p := &AfterEntry{Path: []string{}, Reasons: []bound.Reason{}, Assumptions: []bound.Assumption{}}
	if ae.Node < 0 {
		p.Note = "not counted: what glibc's start_thread runs after the start routine returns (thread-specific data and thread_local destructors, exit for the last thread): " + ae.Why
		return p
	}
	p.Counted = true
	bounded := true
	worst := max(ae.Own, 0)
	lower := worst
	seenReason := map[string]bool{}
	seenAssume := map[string]bool{}
	for _, c := range ae.Calls {
		name := g.QualifiedName(c.To)
		if ba == nil || !ba.Analysed(c.To) {
			bounded = false
			p.Reasons = append(p.Reasons, bound.Reason{Kind: bound.ReasonUnknown, Function: "start_thread", Addr: c.Site, Detail: "the call of " + name + " was not analysed"})
			continue
		}
		e := ba.Entry(bound.Spec{Name: name, Node: c.To, Kind: "thread"})
		for _, a := range e.Assumptions {
			k := a.Kind + "\x00" + a.Function + "\x00" + fmt.Sprint(a.Addr)
			if !seenAssume[k] {
				seenAssume[k] = true
				p.Assumptions = append(p.Assumptions, a)
			}
		}
		if e.Bounded {
			if v := c.Offset + e.Bound; v > worst {
				worst = v
				p.Path = append([]string{"start_thread"}, stepNames(e.Path)...)
			}
			continue
		}
		bounded = false
		for _, r := range e.Reasons {
			k := r.Kind + "\x00" + r.Function + "\x00" + fmt.Sprint(r.Addr)
			if !seenReason[k] {
				seenReason[k] = true
				r.Detail = "after the start routine, start_thread calls " + name + ": " + r.Detail
				p.Reasons = append(p.Reasons, r)
			}
		}
	}
	for _, site := range ae.Unresolved {
		bounded = false
		p.Reasons = append(p.Reasons, bound.Reason{Kind: bound.ReasonIndirect, Function: "start_thread", Addr: site,
			Detail: "an indirect call start_thread makes besides the start routine's, whose targets are not known"})
	}
	res.locateReasons(p.Reasons)
	p.AtLeast = lower
	if bounded {
		p.Bound = &worst
	}
	return p
}

func stepNames(steps []bound.Step) []string {
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// withAfterEntry is the entry's bound joined with start_thread's other
// calls: the larger of the two, bounded only when both are. Not bounded,
// its AtLeast is the larger of the certain depths: the entry's (lower, a
// chain of calls the code names) and the part's. A part that is not
// bounded puts its reasons first, so the verdict names them.
//
// A part that was not counted (start_thread not read: no libc6-dbg names,
// another architecture's libc) is an unknown like any other: the entry is
// not bounded, with the reason first, and its AtLeast is the entry's
// certain depth. Its own bound alone would call a thread "ok" whose
// destructors overflow it.
func withAfterEntry(b bound.Entry, lower int64, p *AfterEntry) bound.Entry {
	if p == nil {
		return b
	}
	out := b
	if !p.Counted {
		out.Bounded = false
		if b.Bounded {
			out.AtLeast = lower
		}
		out.Reasons = append([]bound.Reason{{Kind: bound.ReasonUnknown, Function: "start_thread", Detail: p.Note}}, b.Reasons...)
		return out
	}
	if p.Bound != nil && b.Bounded {
		out.Bound = max(b.Bound, *p.Bound)
		out.AtLeast = out.Bound
		return out
	}
	out.Bounded = false
	out.AtLeast = max(lower, p.AtLeast)
	if p.Bound == nil {
		out.Reasons = append(append([]bound.Reason{}, p.Reasons...), b.Reasons...)
	}
	return out
}
