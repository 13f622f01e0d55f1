package threads

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
)

// What glibc's start_thread runs after the start routine. start_thread
// (nptl/pthread_create.c, glibc 2.34 to 2.36) calls the routine through
// pd->start_routine (twice in the code: the POSIX call and the C11 one,
// whose int result it casts) and then, on the same stack and from the same
// frame: __call_tls_dtors (C++ thread_local destructors), the
// thread-specific data destructors (__nptl_deallocate_tsd),
// __libc_thread_freeres, exit(0) when the thread is the process's last,
// __nptl_free_tcb, ... Before the routine it calls _setjmp and
// __ctype_init (and pthread_exit or a cancellation unwinds back to that
// setjmp and runs the same code after it). A destructor with a big frame
// on a thread whose routine is shallow overflows the stack after the
// routine has returned: the thread's need is the larger of the routine's
// bound and these calls', each measured from the same place, the
// routine's CFA.

// AfterEntry is glibc's start_thread as read from the call graph: the calls
// it makes besides the start routine, each at its depth relative to the
// routine's CFA.
type AfterEntry struct {
	// Node is start_thread's node, -1 when it could not be identified
	// (Why says why: the post-routine work is then not counted).
	Node int
	Why  string
	// RoutineDepth is start_thread's depth at the call of the routine
	// (frame.CallSite.Depth: below start_thread's CFA, before the call
	// pushes anything): the routine's CFA is that far below
	// start_thread's.
	RoutineDepth int64
	// Own is how far start_thread's own deepest point (its frame and red
	// zone) is below the routine's CFA; <= 0 when the routine is called
	// from its deepest point.
	Own int64
	// Calls are start_thread's other calls.
	Calls []AfterCall
	// Unresolved are indirect calls, other than the routine's, whose
	// targets the graph does not know.
	Unresolved []uint64
}

// AfterCall is one call start_thread makes besides the routine's.
type AfterCall struct {
	Site uint64
	To   int
	// Offset is where the callee's bound starts, relative to the routine's
	// CFA: the callee reaches Offset + its bound below that CFA.
	Offset int64
}

// StartThread reads glibc's start_thread in g: the function of that name
// in the module that also defines __nptl_deallocate_tsd (glibc 2.34 and
// later; a program's own start_thread is another function). ra is the
// size of the return address a call pushes (a tail call's callee starts
// that much higher than the jump's depth).
func StartThread(g *callgraph.Graph, ra int64) AfterEntry {
	out := AfterEntry{Node: -1}
	if g == nil {
		out.Why = "no call graph"
		return out
	}
	for _, m := range g.Modules {
		if m == nil || m.File == nil {
			continue
		}
		if _, ok := m.File.Lookup("__nptl_deallocate_tsd"); !ok {
			continue
		}
		fn, ok := m.File.Lookup("start_thread")
		if !ok {
			continue
		}
		fi, ok := m.File.FunctionIndex(fn.Addr)
		if !ok {
			continue
		}
		out.Node = g.Node(m, fi)
		break
	}
	if out.Node < 0 {
		out.Why = "glibc's start_thread was not found by name (libc without its symbols: install its debug symbols, libc6-dbg on Debian)"
		return out
	}
	g.Resolve()
	n := g.Nodes[out.Node]
	if n.Frame.Kind != frame.Static {
		out.Why = fmt.Sprintf("start_thread's frame is not static (%s)", n.Frame.Reason)
		out.Node = -1
		return out
	}
	routine, depth, why := routineCalls(n)
	if why != "" {
		out.Why = why
		out.Node = -1
		return out
	}
	out.RoutineDepth = depth
	out.Own = n.Frame.Size + n.Frame.RedZone - depth
	kinds := map[uint64]frame.CallKind{}
	for _, c := range n.Frame.Calls {
		kinds[c.Addr] = c.Kind
	}
	for _, e := range n.Edges {
		if routine[e.Site] || e.AfterReset {
			continue
		}
		off := e.Depth - depth
		if e.Kind == frame.TailCall || kinds[e.Site] == frame.IndirectTailCall {
			// the jump pushes nothing: the callee's frame starts at the
			// jump's depth less the return address its bound counts
			off -= ra
		}
		out.Calls = append(out.Calls, AfterCall{Site: e.Site, To: e.To, Offset: off})
	}
	for _, u := range n.Unresolved {
		if !routine[u.Addr] {
			out.Unresolved = append(out.Unresolved, u.Addr)
		}
	}
	return out
}

// routineCalls finds start_thread's calls of the start routine: its
// indirect calls, which glibc 2.34-2.36 makes only through
// pd->start_routine. That is checked as far as the code shows it: one or
// two indirect calls (not jumps), at one depth, each of a word loaded at
// the same offset from a base ("call *0x638(%rbx)" and "call
// *0x638(%rax)" on x86-64). Anything else is not this glibc's start_thread,
// and the caller falls back.
func routineCalls(n *callgraph.Node) (map[uint64]bool, int64, string) {
	calls := map[uint64]bool{}
	var depth int64
	var off int64
	for _, c := range n.Frame.Calls {
		if !c.Kind.Indirect() {
			continue
		}
		if c.Kind != frame.IndirectCall {
			return nil, 0, fmt.Sprintf("start_thread jumps through a pointer at %#x: not the shape of glibc 2.34-2.36's call of the start routine", c.Addr)
		}
		if c.From == nil || c.From.Kind != frame.ValueLoad || c.From.Off != 0 || c.From.Addr == nil || c.From.Addr.Indexed {
			return nil, 0, fmt.Sprintf("start_thread's indirect call at %#x is not seen to load its target from a fixed offset of a structure (pd->start_routine)", c.Addr)
		}
		if len(calls) == 0 {
			depth, off = c.Depth, c.From.Addr.Off
		} else if c.Depth != depth || c.From.Addr.Off != off {
			return nil, 0, fmt.Sprintf("start_thread's indirect calls at %#x and before differ in depth or in the offset they load from: not only pd->start_routine", c.Addr)
		}
		calls[c.Addr] = true
	}
	switch {
	case len(calls) == 0:
		return nil, 0, "start_thread makes no indirect call: the start routine's call was not found"
	case len(calls) > 2:
		return nil, 0, fmt.Sprintf("start_thread makes %d indirect calls, glibc 2.34-2.36 two (pd->start_routine)", len(calls))
	}
	return calls, depth, ""
}

// Pthread reports whether the site creates a thread through glibc's
// pthread_create or thrd_create (whose start_thread runs the entry).
func (s Site) Pthread() bool {
	k := creatorKind[s.Creator]
	return k == "pthread" || k == "c11"
}
