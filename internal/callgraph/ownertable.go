package callgraph

import (
	"github.com/stackscope/stackscope/internal/frame"
)

// linkOwnersTable links an indirect jump that node id's walk reached past
// its own function, in the code of another function F of its module (an
// assembly entry that jumps into a shared body: glibc's __mempcpy_ssse3
// runs __memcpy_ssse3's code, whose `lea r9,[rip+L]; shl ecx,6; add
// rcx,r9; jmp rcx` picks one of 16 blocks of that body), to F, as a tail
// call at the jump's depth, when F's own walk took that jump for a jump
// table: F has jump tables, and the jump is none of F's calls. F's walk
// then went through every part of F no direct path reaches (the table's
// targets, frame.Frame.JumpTables), so F's value from its entry covers
// whatever runs after the jump: the blocks reach at most F's frame below
// F's entry, and at the jump F's depth is at least the return address,
// so (depth at the jump - return address + F's value) is not less than
// the real depth. Without it the jump went to the address-taken set (the
// deepest path of anything calling memcpy ran into any function of
// libc).
func (g *Graph) linkOwnersTable(id int, cs frame.CallSite) bool {
	n := g.Nodes[id]
	m := n.Module
	if cs.Kind != frame.IndirectTailCall || cs.HasSlot || m == nil || n.Func == nil {
		return false
	}
	if cs.Addr >= n.Func.Addr && cs.Addr < n.Func.Addr+n.Func.Size {
		return false // the node's own jump: its own walk decided
	}
	owner, ok := m.File.Containing(cs.Addr)
	if !ok || owner.Addr == n.Func.Addr {
		return false
	}
	fi, ok := m.File.FunctionIndex(owner.Addr)
	if !ok {
		return false
	}
	to := g.nodeFor(m, fi)
	fr := g.Nodes[to].Frame
	if fr.JumpTables == 0 {
		return false
	}
	for _, c := range fr.Calls {
		if c.Addr == cs.Addr {
			return false // F's walk took it for a call too
		}
	}
	g.addEdge(id, to, cs, MethodOwnersTable)
	return true
}
