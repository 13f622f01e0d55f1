package callgraph

import (
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// pltStubSize is the size of an x86-64 PLT entry (.plt, .plt.sec and
// .plt.got alike): the walk of a stub never goes past its own jump.
const pltStubSize = 16

// PLTName is the name of the PLT stub that jumps through GOT slot slot of
// f, as objdump writes it: "printf@plt", or, for a local ifunc's slot,
// its resolver's name. Empty when the slot is neither.
func PLTName(f *binfile.File, slot uint64) string {
	if name, ok := f.Slots[slot]; ok {
		return name + "@plt"
	}
	if resolver, ok := f.IRelative[slot]; ok {
		if fn, ok := f.FunctionAt(resolver); ok {
			return fn.Name() + "@plt"
		}
	}
	return ""
}

// pltNode returns the node of the PLT stub at addr of module m, creating
// it: a function of its own, named after the import it jumps to
// ("strcmp@plt"), whose code (`jmp [slot]`) the graph links like any call
// through a GOT slot, plus the lazy-binding resolver when the slot is
// bound lazily. A call straight to a stub is linked to the import itself
// (linkPLT); the stub is a node when code reaches it some other way: its
// address taken (a non-PIE program passes `strcmp` to qsort as the
// address of strcmp@plt, and qsort's indirect call lands there), or a
// jump into the PLT. Not ok when addr starts no stub whose slot is known.
func (g *Graph) pltNode(m *Module, addr uint64) (int, bool) {
	if id, ok := m.code[addr]; ok {
		return id, true
	}
	slot, ok := m.pltSlots[addr]
	if !ok {
		slot = g.pltSlot(m, addr)
		m.pltSlots[addr] = slot
	}
	name := PLTName(m.File, slot)
	if slot == 0 || name == "" {
		return 0, false
	}
	// The stub's code is `jmp [slot]` (and, in .plt, `push N; jmp .plt0`
	// for the first call): it moves no SP of its own, and the frame
	// walker would take the indirect jump for a jump table. Its frame is
	// the return address of the call that entered it, and the jump a
	// tail call through the slot.
	size := min(uint64(pltStubSize), m.File.CodeEnd(addr)-addr)
	fn := &binfile.Function{LinkName: name, Addr: addr, Size: size, Source: "plt"}
	jump := frame.CallSite{Addr: addr, Kind: frame.IndirectTailCall, Slot: slot, HasSlot: true, Depth: ra}
	fr := frame.Frame{Kind: frame.Static, Size: ra, Calls: []frame.CallSite{jump}}
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, Func: fn, name: name, Frame: fr})
	m.code[addr] = id
	g.pending = append(g.pending, id)
	if m.File.LazySlots[slot] && !g.isInterpreter(m) {
		// The first call runs the resolver: a jump too, with the two
		// words the stub and .plt0 push in the resolver's frame.
		g.linkLazy(id, m, slot, jump)
		n := g.Nodes[id]
		n.Edges[len(n.Edges)-1].Kind = frame.TailCall
	}
	return id, true
}

// ra is the size of the return address an x86-64 call pushes.
const ra = 8
