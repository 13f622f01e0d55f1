package callgraph

import (
	"debug/dwarf"
	"fmt"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/dwtypes"
	"github.com/stackscope/stackscope/internal/frame"
)

// narrowed is a subset of the address-taken set that one kind of indirect
// call can reach, with the node that stands for it.
type narrowed struct {
	hub    int
	count  int
	detail string
}

// narrow finds a smaller target set for an indirect call than the
// address-taken set, when the code before the call shows how the target
// is read:
//   - a virtual call, `mov rax,[obj]; call [rax+k]` in C++ code: the
//     functions in slot k of the module's vtables (every overrider, whatever
//     the object's class);
//   - a call through a word of a global variable whose DWARF type says it
//     holds a `T (*)(P...)`: the address-taken functions whose prototype
//     fits (dwtypes.Fits), and those whose prototype is not known.
//
// ok is false when neither applies: the call keeps the whole set.
func (g *Graph) narrow(id int, cs frame.CallSite) (nw narrowed, method Method, ok bool) {
	n := g.Nodes[id]
	m := n.Module
	v := cs.From
	if v == nil || v.Kind != frame.ValueLoad || v.Off != 0 || v.Addr == nil {
		return nw, MethodNone, false
	}
	info := g.dwarfOf(m)
	slot, isSlot := vtableSlot(v)
	if info != nil {
		if called, ok := info.CalledTypes(v); ok {
			if called.Vtable && isSlot {
				if nw, ok := g.vtableHub(m, slot, "read through a _vptr, by DWARF"); ok {
					return nw, MethodVtableTyped, true
				}
			} else if !called.Vtable {
				if nw, ok := g.prototypeHub(m, called.Types); ok {
					return nw, MethodPrototype, true
				}
			}
			return nw, MethodNone, false
		}
	}
	// Without types, by the code's shape. In C the same shape is an ops
	// table at the start of a struct: only C++ code counts (or code no
	// DWARF describes, in a module that has vtables).
	if isSlot && (info == nil || !info.Covers(cs.Addr) || info.CPlusPlus(cs.Addr)) {
		if nw, ok := g.vtableHub(m, slot, "by the code's shape"); ok {
			return nw, MethodVtableSlot, true
		}
	}
	return nw, MethodNone, false
}

// vtableSlot recognises Load(Load(obj)+k): the word k bytes into the table
// the object's first word (its vptr) points to.
func vtableSlot(v *frame.Value) (int64, bool) {
	a := v.Addr
	if a.Kind != frame.ValueLoad || a.Indexed || a.Off < 0 || a.Addr == nil || a.Addr.Indexed {
		return 0, false
	}
	return a.Off, true
}

// dwarfOf loads the module's DWARF type information once (nil without);
// the program's may be loading ahead, on another goroutine
// (loadProgramDWARFAhead), and is then waited for.
func (g *Graph) dwarfOf(m *Module) *dwtypes.Info {
	m.dwarfOnce.Do(func() { m.dwarf = dwtypes.Load(m.File.ELF) })
	return m.dwarf
}

// vtableHub returns the node standing for slot off of the module's
// vtables (and the program's, for a library: a program class may derive
// from a library's).
func (g *Graph) vtableHub(m *Module, off int64, how string) (narrowed, bool) {
	// The hub found again by slot, not by its key's text: formatting the
	// key at each virtual call was 0.005 s of node's resolution.
	if nw, ok := m.vtableHubs[vtableHubKey{off, how}]; ok {
		return nw, nw.count > 0
	}
	nw, ok := g.makeVtableHub(m, off, how)
	if m.vtableHubs == nil {
		m.vtableHubs = map[vtableHubKey]narrowed{}
	}
	m.vtableHubs[vtableHubKey{off, how}] = nw
	return nw, ok
}

// vtableHubKey names the hub of one vtable slot, read as how says.
type vtableHubKey struct {
	off int64
	how string
}

// makeVtableHub is vtableHub the first time the slot is asked.
func (g *Graph) makeVtableHub(m *Module, off int64, how string) (narrowed, bool) {
	key := fmt.Sprintf("vtable slot +%d %s", off, how)
	if nw, ok := m.narrowed[key]; ok {
		return nw, nw.count > 0
	}
	var targets []int
	for _, mod := range g.withProgram(m) {
		for _, addr := range mod.File.VtableSlot(off) {
			if fi, ok := mod.File.FunctionIndex(addr); ok {
				targets = append(targets, g.nodeFor(mod, fi))
			}
		}
	}
	nw := g.subsetHub(m, key, MethodVtableSlot, targets, func(n int) string {
		return fmt.Sprintf("assumed: virtual call through vtable slot +%d: %d %s (%s)", off, n, plural(n, "function"), how)
	})
	return nw, nw.count > 0
}

// prototypeHub returns the node standing for the address-taken functions
// that fit one of the function types.
func (g *Graph) prototypeHub(m *Module, types []*dwarf.FuncType) (narrowed, bool) {
	var sigs []string
	for _, t := range types {
		sigs = append(sigs, dwtypes.Signature(t))
	}
	sort.Strings(sigs)
	sigs = dedupeStrings(sigs)
	key := "prototype " + strings.Join(sigs, " | ")
	if nw, ok := m.narrowed[key]; ok {
		return nw, nw.count > 0
	}
	g.takenHub(m)
	info := g.dwarfOf(m) // the calling convention of the call's module
	// The fitting functions, in the graph's scratch list: subsetHub
	// copies them to the hub's edges, and a list grown by append at
	// every prototype asked was 34 MB of node's allocations.
	targets := g.prototypeScratch[:0]
	defer func() { g.prototypeScratch = targets[:0] }()
	total := 0
	for _, mod := range g.withProgram(m) {
		total += len(mod.taken)
		for i, tp := range g.takenPrototypes(mod) {
			if tp.noFunc {
				continue
			}
			for _, ft := range types {
				if tp.p == nil || info.Fits(tp.p, ft) {
					targets = append(targets, mod.taken[i])
					break
				}
			}
		}
	}
	// Every function fits (a program with DWARF for a few files only):
	// nothing is gained, and a copy of the whole set per prototype would
	// cost memory in a big program. Keep the address-taken set.
	if len(targets) >= total {
		if m.narrowed == nil {
			m.narrowed = map[string]narrowed{}
		}
		m.narrowed[key] = narrowed{}
		return narrowed{}, false
	}
	nw := g.subsetHub(m, key, MethodPrototype, targets, func(n int) string {
		return fmt.Sprintf("assumed: %d %s with prototype %s", n, plural(n, "function"), strings.Join(sigs, " or "))
	})
	if nw.count > 0 {
		g.linkLookupHub(nw.hub) // (dlsym.go, once a lookup is reachable)
	}
	// None at all: the pointer holds a function of another module (a
	// library's, which the address-taken set does not list either), so
	// nothing is gained by narrowing.
	return nw, nw.count > 0
}

// takenPrototype is what prototypeHub needs of one address-taken node:
// its function's prototype, nil when the module's DWARF has none (or the
// module no DWARF); noFunc when the node is no function (a PLT stub's).
type takenPrototype struct {
	p      *dwtypes.Proto
	noFunc bool
}

// takenPrototypes returns the prototypes of the functions of mod.taken,
// in its order, looked up once per module: prototypeHub asks them for
// each new prototype an indirect call reads (node: hundreds, each over
// thousands of functions). Only once mod's address-taken set is made
// (takenHub), which does not change after.
func (g *Graph) takenPrototypes(mod *Module) []takenPrototype {
	if mod.takenProtos != nil || len(mod.taken) == 0 {
		return mod.takenProtos
	}
	info := g.dwarfOf(mod)
	out := make([]takenPrototype, len(mod.taken))
	for i, t := range mod.taken {
		fn := g.Nodes[t].Func
		if fn == nil {
			out[i].noFunc = true
			continue
		}
		if info != nil {
			out[i].p, _ = info.Prototype(fn.Addr)
		}
	}
	mod.takenProtos = out
	return out
}

// withProgram is m, and the program after it when m is a library.
func (g *Graph) withProgram(m *Module) []*Module {
	if m == g.Modules[0] {
		return []*Module{m}
	}
	return []*Module{m, g.Modules[0]}
}

// subsetHub makes a hub node whose edges go to targets.
func (g *Graph) subsetHub(m *Module, key string, method Method, targets []int, detail func(int) string) narrowed {
	sort.Ints(targets)
	// One exact-size edge list (a big program has many such hubs of tens
	// of thousands of edges each; growing them by append cost 10% of
	// analysing node).
	uniq := 0
	for i, t := range targets {
		if i == 0 || t != targets[i-1] {
			uniq++
		}
	}
	edges := make([]Edge, 0, uniq+hubEdgeRoom)
	for i, t := range targets {
		if i == 0 || t != targets[i-1] {
			edges = append(edges, Edge{To: t, Kind: frame.Call, Method: method})
		}
	}
	hub := len(g.Nodes)
	d := detail(uniq)
	g.Nodes = append(g.Nodes, &Node{Module: m, Hub: true, name: "[" + strings.TrimPrefix(d, "assumed: ") + "]", Frame: frame.Frame{Kind: frame.Static}, Edges: edges})
	nw := narrowed{hub: hub, count: uniq, detail: d}
	if m.narrowed == nil {
		m.narrowed = map[string]narrowed{}
	}
	m.narrowed[key] = nw
	return nw
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "ry"):
		return strings.TrimSuffix(word, "y") + "ies" // library, libraries
	}
	return word + "s"
}

func dedupeStrings(v []string) []string {
	out := v[:0]
	for i, s := range v {
		if i == 0 || s != v[i-1] {
			out = append(out, s)
		}
	}
	return out
}
