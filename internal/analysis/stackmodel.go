package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// The Cortex-M stack model: which stack pointer a function's code runs on.
//
// Handler mode always runs on MSP. Thread mode runs on MSP from reset, and
// on PSP once CONTROL.SPSEL is set (by msr control in thread mode, which
// stays a reason, or by an exception return into a task, which resumes a
// task's code). So a function runs only on MSP when nothing but the vector
// table's handlers and the reset handler reach it; it may run on PSP when a
// function whose address the program takes reaches it (a task's or
// thread's entry is passed to the RTOS by its address), or an entry the
// user named. The frame walk went past msr psp and msr control as if SP
// did not move, and took msr msp to the initial SP for a reset; here each
// is checked against that:
//
//   - msr psp: the running SP does not move on MSP (handler mode, or thread
//     mode from reset);
//   - msr control: SPSEL is ignored in handler mode (ARMv6-M, ARMv7-M and
//     ARMv8-M write it only in thread mode), so only handler-only code;
//   - msr msp to the initial SP: a reset when the code runs on MSP.
//
// Otherwise the function's frame becomes unknown, with the address. A
// vector handler is taken to run in handler mode only (see findModes).

// stackModes says, per call-graph node, from which kinds of code it can be
// reached.
type stackModes struct {
	handler []bool // from a vector handler other than reset
	reset   []bool // from the reset handler (thread mode, MSP)
	process []bool // from code that may run on PSP
	// why names, per node in process, the root that reaches it.
	why []int
}

// checkStackModes makes unknown the frames whose msr writes are not shown
// to leave the running SP where the walk assumed, and ends the handlers'
// paths at their exception returns (see excReturns).
func checkStackModes(f *binfile.File, g *callgraph.Graph, vt *binfile.VectorTable, userEntries []int, strict bool) {
	cands := excReturnCandidates(g, strict)
	if vt == nil || (!hasStackWrites(g) && len(cands) == 0) {
		return
	}
	m := excReturns(f, g, vt, userEntries, cands)
	for id, n := range g.Nodes {
		if n.Frame.Kind == frame.Unknown {
			continue
		}
		if addr, why, bad := m.refuse(g, id); bad {
			n.Frame.Kind, n.Frame.ReasonAddr = frame.Unknown, addr
			n.Frame.Reason = why
		}
	}
}

func hasStackWrites(g *callgraph.Graph) bool {
	for _, n := range g.Nodes {
		if len(n.Frame.SysWrites) > 0 || len(n.Frame.Resets) > 0 {
			return true
		}
	}
	return false
}

// refuse returns the first of node id's stack writes its modes do not allow.
func (m *stackModes) refuse(g *callgraph.Graph, id int) (uint64, string, bool) {
	n := g.Nodes[id]
	onPSP := func() string {
		return fmt.Sprintf("may run in thread mode on the process stack (reached from %s, whose address is taken or which is an entry)", g.QualifiedName(m.why[id]))
	}
	for _, w := range n.Frame.SysWrites {
		switch {
		case m.process[id]:
			return w.Addr, fmt.Sprintf("msr %s at %#x: %s", w.Reg, w.Addr, onPSP()), true
		case w.Reg == isa.SysControl && w.Known && w.Value&2 == 0:
			// SPSEL stays 0: code on MSP stays on MSP (CM4F ports
			// clear CONTROL.FPCA this way before the first task).
		case w.Reg == isa.SysControl && m.reset[id]:
			return w.Addr, fmt.Sprintf("msr control at %#x in thread mode (reached from the reset handler): can switch the running stack", w.Addr), true
		}
	}
	for _, r := range n.Frame.Resets {
		if r.Reg == isa.SysMSP && m.process[id] {
			return r.Addr, fmt.Sprintf("msr msp at %#x: %s", r.Addr, onPSP()), true
		}
	}
	return 0, "", false
}

// An indirect jump whose target may be an EXC_RETURN value (frame's
// ExcReturnKind: a constant 0xFFFFFFxx, or a word of the context the code
// restores below the PSP it writes) returns from the exception when it
// runs in handler mode: the handler's use of the main stack ends there, as
// at a return, and what runs next (the task whose context was restored)
// runs on its own stack. In thread mode the same jump is an ordinary
// branch (to a faulting address, for a constant). So such a jump ends the
// path only in a function that nothing but handlers reaches: not the
// reset path, not code that may run on the process stack. Those sets
// depend on the jumps' own edges (a jump kept as an indirect call reaches
// the address-taken set), so they are found by a fixed point: take every
// candidate as an exception return, find the modes without their edges,
// give back the candidates whose function is not handler-only (their
// edges then count), until none is given back. The result is consistent:
// each jump ended is handler-only in the graph without the jumps ended.

// excSite is one candidate: a node's jump at an address.
type excSite struct {
	node int
	site uint64
}

type excCandidate struct {
	assumed bool
	detail  string
}

// excReturnCandidates lists the main module's jumps the frame walk found
// may be exception returns. With strict, only those through a constant:
// one through a restored context assumes what the context holds, and
// --strict assumes no indirect jump's target.
func excReturnCandidates(g *callgraph.Graph, strict bool) map[excSite]excCandidate {
	out := map[excSite]excCandidate{}
	for id, n := range g.Nodes {
		if n.Module != g.Modules[0] || n.Hub {
			continue
		}
		for _, cs := range n.Frame.Calls {
			if cs.ExcReturn == frame.ExcReturnConstant || cs.ExcReturn == frame.ExcReturnContext && !strict {
				out[excSite{id, cs.Addr}] = excCandidate{assumed: cs.ExcReturn == frame.ExcReturnContext, detail: n.Frame.ExcDetail(cs.Addr)}
			}
		}
	}
	return out
}

// excReturns decides which candidates are exception returns, ends the
// paths there (callgraph.EndAtExcReturn: an "exc-return" assumption of the
// entries that reach one through a restored context) and returns the
// modes of the resulting graph.
func excReturns(f *binfile.File, g *callgraph.Graph, vt *binfile.VectorTable, userEntries []int, cands map[excSite]excCandidate) *stackModes {
	accepted := map[excSite]bool{}
	for c := range cands {
		accepted[c] = true
	}
	skip := func(from int, e callgraph.Edge) bool { return accepted[excSite{from, e.Site}] }
	for {
		m := findModes(f, g, vt, userEntries, skip)
		refused := false
		for c := range accepted {
			if !m.handlerOnly(c.node) {
				delete(accepted, c)
				refused = true
			}
		}
		if !refused {
			for c := range accepted {
				g.EndAtExcReturn(c.node, c.site, cands[c].assumed, cands[c].detail)
			}
			return m
		}
	}
}

// handlerOnly says whether node id runs only in handler mode: reached
// from a vector handler, not from the reset path nor from code that may
// run on the process stack.
func (m *stackModes) handlerOnly(id int) bool {
	return m.handler[id] && !m.reset[id] && !m.process[id]
}

// findModes finds which code reaches each node, not following the edges
// skip names (besides the assumed calls of vector handlers, below).
func findModes(f *binfile.File, g *callgraph.Graph, vt *binfile.VectorTable, userEntries []int, skip func(from int, e callgraph.Edge) bool) *stackModes {
	main := g.Modules[0]
	nodeAt := func(addr uint64) (int, bool) {
		fi, ok := f.FunctionIndex(addr)
		if !ok {
			return 0, false
		}
		return g.Node(main, fi), true
	}
	handlers := map[int]bool{}
	var handlerRoots, resetRoots []int
	for _, v := range vt.Vectors {
		id, ok := nodeAt(v.Handler)
		if !ok {
			continue
		}
		handlers[id] = true
		if v.Index == 1 {
			resetRoots = append(resetRoots, id)
		} else {
			handlerRoots = append(handlerRoots, id)
		}
	}
	// A vector handler is not taken to be called by an indirect call
	// whose targets are only assumed (the address-taken set lists it
	// because of the table's words, or because code compares it with the
	// table, as FreeRTOS's xPortStartScheduler does), nor to be a task's
	// entry: it runs in handler mode. A direct or annotated call from
	// thread code is still followed.
	assumedCall := func(from int, e callgraph.Edge) bool {
		return handlers[e.To] && g.Nodes[from].Hub || skip(from, e)
	}
	n := len(g.Nodes)
	m := &stackModes{handler: make([]bool, n), reset: make([]bool, n), process: make([]bool, n), why: make([]int, n)}
	reach(g, handlerRoots, assumedCall, m.handler, nil)
	reach(g, resetRoots, assumedCall, m.reset, nil)
	// An address that only handler-mode code takes is a branch target
	// (SVC_Handler's ldr r3,=vPortSVCHandler_C; bx r3), not a task's entry:
	// tasks are created in thread mode.
	handlerOnly := func(id int) bool { return m.handler[id] && !m.reset[id] }
	elsewhere := takenOutsideVectorTable(f, g, handlerOnly)
	var processRoots []int
	for _, id := range userEntries {
		if !handlers[id] {
			processRoots = append(processRoots, id)
		}
	}
	for id := range elsewhere {
		if !handlers[id] {
			processRoots = append(processRoots, id)
		}
	}
	reach(g, processRoots, assumedCall, m.process, m.why)
	return m
}

// reach marks in seen every node reachable from roots, not following the
// edges skip names; why records each one's root.
func reach(g *callgraph.Graph, roots []int, skip func(from int, e callgraph.Edge) bool, seen []bool, why []int) {
	for _, r := range roots {
		if seen[r] {
			continue
		}
		seen[r] = true
		if why != nil {
			why[r] = r
		}
		stack := []int{r}
		for len(stack) > 0 {
			id := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range g.Nodes[id].Edges {
				if seen[e.To] || skip(id, e) {
					continue
				}
				seen[e.To] = true
				if why != nil {
					why[e.To] = r
				}
				stack = append(stack, e.To)
			}
		}
	}
}

// takenOutsideVectorTable returns the main module's functions whose
// address the program takes other than by a word of the vector table:
// callgraph.TakenAddresses, the same addresses the address-taken set
// starts from (in code: a literal or adr, frame.Refs; in data: a word
// outside the table; a literal-pool word unless only constant branches
// read it). References in the code of functions skipRefs names do not
// count.
func takenOutsideVectorTable(f *binfile.File, g *callgraph.Graph, skipRefs func(int) bool) map[int]bool {
	main := g.Modules[0]
	out := map[int]bool{}
	for _, addr := range g.TakenAddresses(main, skipRefs) {
		if fi, ok := f.FunctionIndex(addr); ok {
			out[g.Node(main, fi)] = true
		}
	}
	return out
}
