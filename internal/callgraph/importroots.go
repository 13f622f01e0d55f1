package callgraph

import (
	"fmt"
	"maps"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// Imported addresses that only calls use. A module imports the address
// of a function of another module through a GOT word (R_X86_64_GLOB_DAT)
// both when its code holds the pointer as a value (a PIE program's
// pointer to fopencookie, passed to qsort or stored in a table) and when
// it only calls through the word (`call *__libc_start_main@GOTPCREL(%rip)`
// in a PIE program's _start, every call of code built with -fno-plt).
// Only the first lets the function be called from anywhere; the second is
// a call edge of the graph (method "got"), reached when its caller is.
//
// escapingImports tells them apart from the module's code: a linear
// decode of all of it (sweepCode), every instruction whose fixed-address
// operand (isa.FixedRefReader) touches a GOT word classified. An address
// is only called when each instruction that touches its word is an
// indirect call or jump through that word (isa.Effect.Slot), no data word
// or relocation holds the word's address (binfile.File.PointersTo), and
// no absolute relocation stores the function's address elsewhere.
// Anything else keeps it
// escaping, for the whole module when the code could reach the GOT in a
// way the operands do not show: a byte that did not decode, a lea into
// the GOT (the base of the large code model's GOT-relative accesses), or
// a lea of its own address (the large model's way to find that base).

// escapingImports returns the names of the symbols whose address module
// m imports (binfile.File.AddressImports) and may hold as a value: all of
// them but those of other modules' functions whose GOT words m's code
// only calls or jumps through. ok is false when the file cannot say
// (AddressImports' ok).
func (g *Graph) escapingImports(m *Module) (map[string]bool, bool) {
	return g.escaping.get(g, m)
}

// escapingCache keeps each module's escapingImports for as long as the
// graph's modules stay the same (exportedElsewhere asks the others):
// programRoots asks it of every module twice (ModelReachableTables and
// loaderReached), and for the program itself (no libcache store) the
// answer was a second sweep of all its code, 0.4 s of node's.
type escapingCache struct {
	modules  int // len(g.Modules) when the answers were computed
	byModule map[*Module]escapingAnswer
}

type escapingAnswer struct {
	names map[string]bool
	ok    bool
}

// get returns escapingImports' answer for m, computing it once per set
// of modules. The map returned is the caller's to change.
func (c *escapingCache) get(g *Graph, m *Module) (map[string]bool, bool) {
	if c.byModule == nil || c.modules != len(g.Modules) {
		c.byModule, c.modules = map[*Module]escapingAnswer{}, len(g.Modules)
	}
	a, seen := c.byModule[m]
	if !seen {
		a.names, a.ok = g.computeEscapingImports(m)
		c.byModule[m] = a
	}
	return maps.Clone(a.names), a.ok
}

// computeEscapingImports is escapingImports without the cache.
func (g *Graph) computeEscapingImports(m *Module) (map[string]bool, bool) {
	imp, ok := m.File.AddressImports()
	if !ok {
		return nil, false
	}
	slots, absolute, ok := m.File.AddressImportSlots()
	fr, frOK := g.Decoder.(isa.FixedRefReader)
	if !ok || !frOK || g.Arch != binfile.ArchX86_64 {
		return imp, true
	}
	// Only a function of another module can be a root or an escaping
	// callback: the other names (data, a module's own functions) stay as
	// they are, and the sweep is made only when one is left.
	var candidates []string
	for name := range imp {
		if absolute[name] || len(slots[name]) == 0 || !g.exportedElsewhere(m, name) {
			continue
		}
		candidates = append(candidates, name)
	}
	if len(candidates) == 0 {
		return imp, true
	}
	var uses *gotUses
	usesOf := func() *gotUses {
		if uses == nil {
			uses = g.sweepGOTUses(m, fr, slots, candidates)
		}
		return uses
	}
	out := make(map[string]bool, len(imp))
	for name := range imp {
		out[name] = true
	}
	for _, name := range candidates {
		key := fmt.Sprintf("got-called-only %s %x", name, slots[name])
		called := g.libraryStore(m).Fact(key, func() int64 {
			u := usesOf()
			if !u.complete {
				return 0
			}
			for _, s := range slots[name] {
				if u.escaped[s] || m.File.PointersTo(s, s+8) {
					return 0
				}
			}
			return 1
		})
		if called == 1 {
			delete(out, name)
		}
	}
	return out, true
}

// exportedElsewhere says whether a module other than m exports a function
// of that name.
func (g *Graph) exportedElsewhere(m *Module, name string) bool {
	name, _, _ = strings.Cut(name, "@")
	for _, mod := range g.Modules {
		if mod == m {
			continue
		}
		if fn, ok := mod.File.LookupExported(name); ok && !fn.IFunc {
			return true
		}
	}
	return false
}

// gotUses is what a sweep of a module's code found of its GOT words:
// those some instruction uses other than by calling or jumping through
// them, and whether every instruction was read and none could reach the
// GOT unseen.
type gotUses struct {
	escaped  map[uint64]bool
	complete bool
}

// sweepGOTUses classifies every use, in m's code, of the GOT words of the
// candidates (see escapingImports).
func (g *Graph) sweepGOTUses(m *Module, fr isa.FixedRefReader, slots map[string][]uint64, candidates []string) *gotUses {
	u := &gotUses{escaped: map[uint64]bool{}}
	words := map[uint64]bool{}
	lo, hi := ^uint64(0), uint64(0)
	for _, name := range candidates {
		for _, s := range slots[name] {
			words[s] = true
			lo, hi = min(lo, s), max(hi, s+8)
		}
	}
	type span struct{ lo, hi uint64 }
	var gots []span
	for _, s := range m.File.ELF.Sections {
		if s.Name == ".got" || s.Name == ".got.plt" {
			gots = append(gots, span{s.Addr, s.Addr + s.Size})
			lo, hi = min(lo, s.Addr), max(hi, s.Addr+s.Size)
		}
	}
	// node's 26 MiB of code: the sweep runs on every core, each worker
	// with its own findings, merged below (a union and an or: the same
	// in any order).
	workers := g.sweepWorkers()
	escaped := make([]map[uint64]bool, workers)
	unseenBy := make([]bool, workers)
	// An incomplete sweep, or code that reaches the GOT unseen, keeps
	// every name (the callers read escaped of a complete sweep only): the
	// sweep ends at the first.
	halt := &sweepHalt{onIncomplete: true}
	complete := g.sweepFlowUntil(m, workers, halt, func(w int) func(pc uint64, code []byte, e *isa.Effect) bool {
		escaped[w] = map[uint64]bool{}
		return func(pc uint64, code []byte, e *isa.Effect) bool {
			if e.Ref == pc && e.Flow == isa.FlowNext {
				unseenBy[w] = true // lea r,[rip+0]-style: the large model's GOT base
				halt.end()
			}
			if !mayReach(code[:e.Len], pc, lo, hi) {
				return true
			}
			ref, has, ok := fr.FixedRef(code, pc)
			if !ok {
				return false
			}
			if !has {
				return true
			}
			if (e.Flow == isa.FlowIndirectCall || e.Flow == isa.FlowIndirectJump) && words[e.Slot] &&
				ref.Addr == e.Slot && ref.Size == 8 && !ref.MayWrite && !ref.Address {
				return true // called or jumped through: a graph edge
			}
			for w2 := range words {
				if ref.Addr < w2+8 && ref.Addr+uint64(max(ref.Size, 1)) > w2 {
					escaped[w][w2] = true
				}
			}
			if ref.Address {
				for _, s := range gots {
					if ref.Addr >= s.lo && ref.Addr < s.hi {
						unseenBy[w] = true
						halt.end()
					}
				}
			}
			return true
		}
	})
	unseen := false
	for w := range workers {
		for word := range escaped[w] {
			u.escaped[word] = true
		}
		unseen = unseen || unseenBy[w]
	}
	u.complete = complete && !unseen
	return u
}
