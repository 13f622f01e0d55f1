package analysis

import (
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/threads"
)

// An entry with no bound says how deep it goes at least. The bound's own
// deepest path follows every edge, assumed ones too: through an
// address-taken set it can run from _start into ld.so's audit hooks and
// report a depth no run reaches (a false alarm against --budget with
// --allow-unbounded). A program's entry therefore gives, as at_least and
// its path, the deepest chain of calls the code names (threads.LowerBound,
// the chain threads are judged by): a depth a real run reaches when those
// calls run. Firmware keeps the bound's depth, which its interrupt totals
// are made of (its vector table makes every handler address-taken).

// provedAtLeast replaces an unbounded entry's at_least and path by the
// deepest chain of named calls from it.
func (res *Result) provedAtLeast(e *Entry, pl *provedLower) {
	if e.Bounded || e.AfterReset != nil {
		return
	}
	lo := pl.lo
	depth, chain := pl.lower().Bound(e.Node)
	e.AtLeast = depth
	e.Path, e.Steps, e.PathNodes = res.chainSteps(chain, lo)
	for i := range e.Assumptions {
		// What the entry would be without an exclusion: the same kind of
		// depth, from the same chains with the excluded functions back.
		if x := e.Assumptions[i].WithoutExclusion; x != nil && !x.Bounded {
			x.AtLeast, _ = pl.plainLower().Bound(e.Node)
		}
	}
}

// provedLower shares the lower bounds of all entries (threads.Lower): with
// the user's exclusions, and without them, each made when first needed.
type provedLower struct {
	g           *callgraph.Graph
	lo          threads.LowerOptions
	with, plain *threads.Lower
}

func (pl *provedLower) lower() *threads.Lower {
	if pl.with == nil {
		pl.with = threads.NewLower(pl.g, pl.lo)
	}
	return pl.with
}

func (pl *provedLower) plainLower() *threads.Lower {
	if pl.plain == nil {
		plain := pl.lo
		plain.Excluded = nil
		pl.plain = threads.NewLower(pl.g, plain)
	}
	return pl.plain
}

// chainSteps turns a lower-bound chain into a printed path that adds up
// as a worst path does (docs/analyze.md): each step its frame, or what
// the caller kept at a tail call, and the last step its red zone.
func (res *Result) chainSteps(chain []threads.Step, lo threads.LowerOptions) ([]string, []PathStep, []int) {
	g := res.Graph
	// Made to the chain's length: 35,000 entries of a large library keep
	// a million steps, and the spare room append leaves was a third more.
	names, steps, nodes := make([]string, 0, len(chain)), make([]PathStep, 0, len(chain)), make([]int, 0, len(chain))
	for i, st := range chain {
		n := g.Nodes[st.Node]
		base := st.Depth - st.Frame
		ps := PathStep{Function: st.Name, Kind: n.Frame.Kind.String(), TailCall: st.TailCall, CallerKept: st.Kept}
		fr, rz := n.Frame.Size, n.Frame.RedZone
		switch {
		case n.External || n.Hub:
			fr, rz, ps.Kind = 0, 0, frame.Unknown.String()
		case lo.Overrides[st.Node] != 0:
			fr, rz, ps.Kind = st.Frame, 0, frame.Static.String() // a declared frame
		}
		ps.Frame = fr
		if i == len(chain)-1 {
			ps.RedZone = rz
		}
		ps.Depth = base + ps.Frame + ps.RedZone
		if n.Module == g.Modules[0] && n.Func != nil {
			if l, ok := res.Lines.Func(n.Func.Addr); ok {
				ps.File, ps.Line = l.File, l.Line
			}
		}
		names = append(names, st.Name)
		steps = append(steps, ps)
		nodes = append(nodes, st.Node)
	}
	return names, steps, nodes
}

// lowerOptions are the user's declarations as the lower bound takes them,
// and the error paths it leaves out: a call to a function that never
// returns (abort, __assert_fail, __stack_chk_fail, a program's own fatal
// error reporter) runs when the program is failing, not on a path a run
// takes to do its work. A program's start and end never return either but
// are every run's path: they are followed.
func lowerOptions(bo bound.Options, nr *noReturn) threads.LowerOptions {
	g := nr.g
	stop := func(id int) bool {
		n := g.Nodes[id]
		if n.Hub || n.External || lifecycle[n.Name] {
			return false
		}
		return nr.why(id) != ""
	}
	return threads.LowerOptions{Excluded: bo.Excluded, Overrides: bo.Overrides, Stop: stop}
}

// lifecycle are functions that never return and that every run goes
// through: the C library's start of main, the end of the program, a
// thread's end, and the non-local jumps that carry on elsewhere.
var lifecycle = map[string]bool{
	"__libc_start_main": true, "__libc_start_main_impl": true, "__libc_start_call_main": true,
	"exit": true, "_exit": true, "_Exit": true, "quick_exit": true, "pthread_exit": true,
	"longjmp": true, "_longjmp": true, "siglongjmp": true, "__longjmp_chk": true,
	"__cxa_throw": true, "__cxa_rethrow": true, "_Unwind_Resume": true,
}
