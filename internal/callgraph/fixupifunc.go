package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// _dl_fixup's call of an IFUNC resolver (glibc 2.36's elf/dl-runtime.c):
//
//	if (ELFW(ST_TYPE) (sym->st_info) == STT_GNU_IFUNC)
//	  value = elf_ifunc_invoke (DL_FIXUP_VALUE_ADDR (value));
//
// On x86-64 (Debian 12's ld.so):
//
//	movzbl 0x4(%rax),%eax; and $0xf,%eax; cmp $0xa,%al; je L
//	...
//	L: call *%rdx
//
// The call's targets are the resolvers of the IFUNC symbols a lazily bound
// slot can bind to: for each lazy JUMP_SLOT of every module loaded at
// start (ld.so's own aside: it relocates itself at once), the definition
// the lookup finds, in load order, or the module's own when its symbol is
// protected (_dl_fixup then skips the lookup); only those of type IFUNC
// count. The program's own lazy slots are among them: their calls go to a
// node of their own (linkLazy), but they run the same _dl_fixup.
//
// A premise, not a proof: the code shows the guard (the type test on the
// symbol the lookup returned), but not that %rdx holds that symbol's
// value (the lookup's result goes through the frame and the link_map's
// l_addr, which the walk does not follow), and a library loaded later
// (dlopen, LD_PRELOAD, /etc/ld.so.preload) brings lazy slots and IFUNCs the graph does not
// have. So it is glibc's source, and off with --strict.

// isIFuncInvoke says whether cs, in _dl_fixup, is the call through a
// register that only a symbol type test `and $0xf; cmp $0xa` (st_info's
// type is STT_GNU_IFUNC) leads to: by a je to the call, or a jne over it.
// Exactly one indirect call of the function may have that shape.
func (g *Graph) isIFuncInvoke(n *Node, cs frame.CallSite) bool {
	fn := n.Func
	code, err := n.Module.File.Code(fn.Addr, fn.Size)
	if err != nil {
		return false
	}
	type inst struct {
		addr uint64
		b    []byte
		e    isa.Effect
	}
	var insts []inst
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		e, err := g.Decoder.Decode(code[off:], pc)
		if err != nil || e.Len <= 0 || off+e.Len > len(code) {
			return false // the function must decode whole for the shape to count
		}
		insts = append(insts, inst{pc, code[off : off+e.Len], e})
		off += e.Len
	}
	guarded := func(site uint64) bool {
		for i := 2; i < len(insts); i++ {
			j := insts[i]
			if j.e.Flow != isa.FlowCondJump || !j.e.HasTarget {
				continue
			}
			eq, ok := condEqual(j.b)
			if !ok {
				continue
			}
			next := j.addr + uint64(len(j.b))
			if !(eq && j.e.Target == site) && !(!eq && next == site) {
				continue
			}
			if isCmpImm8(insts[i-1].b, 0x0a) && (isAndImm(insts[i-2].b, 0x0f) || i >= 3 && isAndImm(insts[i-3].b, 0x0f)) {
				return true
			}
		}
		return false
	}
	found := 0
	isSite := false
	for _, in := range insts {
		if in.e.Flow != isa.FlowIndirectCall || !in.e.HasCallReg || in.e.HasMem || in.e.HasSlot {
			continue
		}
		if guarded(in.addr) {
			found++
			isSite = isSite || in.addr == cs.Addr
		}
	}
	return found == 1 && isSite
}

// condEqual says whether a conditional jump is je (true) or jne (false).
func condEqual(b []byte) (eq, ok bool) {
	switch {
	case len(b) == 2 && b[0] == 0x74, len(b) == 6 && b[0] == 0x0f && b[1] == 0x84:
		return true, true
	case len(b) == 2 && b[0] == 0x75, len(b) == 6 && b[0] == 0x0f && b[1] == 0x85:
		return false, true
	}
	return false, false
}

// stripREX drops one REX prefix.
func stripREX(b []byte) []byte {
	if len(b) > 1 && b[0]&0xf0 == 0x40 {
		return b[1:]
	}
	return b
}

// isCmpImm8 says whether b is `cmp reg, imm` on a byte or 32-bit register
// with the 8-bit immediate v (3c ib, 80 /7 ib, 83 /7 ib).
func isCmpImm8(b []byte, v byte) bool {
	b = stripREX(b)
	switch {
	case len(b) == 2 && b[0] == 0x3c:
		return b[1] == v
	case len(b) == 3 && (b[0] == 0x80 || b[0] == 0x83) && b[1]&0xf8 == 0xf8:
		return b[2] == v
	}
	return false
}

// isAndImm says whether b is `and reg, v` (24 ib, 25 id, 80 /4 ib, 83 /4 ib).
func isAndImm(b []byte, v byte) bool {
	b = stripREX(b)
	switch {
	case len(b) == 2 && b[0] == 0x24:
		return b[1] == v
	case len(b) == 5 && b[0] == 0x25:
		return b[1] == v && b[2] == 0 && b[3] == 0 && b[4] == 0
	case len(b) == 3 && (b[0] == 0x80 || b[0] == 0x83) && b[1]&0xf8 == 0xe0:
		return b[2] == v
	}
	return false
}

// fixupIFuncHub is the node standing for the resolvers _dl_fixup's call
// can run (none: a node with no edge, the call goes nowhere), with its
// premise; false when a lazy slot's name cannot be read.
func (g *Graph) fixupIFuncHub(ld *Module, site uint64) (int, bool) {
	const key = "fixup ifunc"
	if nw, ok := ld.narrowed[key]; ok {
		return nw.hub, true
	}
	var targets []int
	var names []string
	slots := 0
	for _, m := range g.Modules {
		if m == ld || g.isInterpreter(m) {
			continue
		}
		for _, slot := range sortedKeys(m.File.LazySlots) {
			name, _, _ := strings.Cut(m.File.Slots[slot], "@")
			if name == "" {
				return 0, false
			}
			slots++
			fn, def, ok := g.lazyBinding(m, name)
			if !ok || !fn.IFunc {
				continue
			}
			fi, _ := def.File.FunctionIndex(fn.Addr)
			targets = append(targets, g.nodeFor(def, fi))
			names = append(names, name+" of "+def.Name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	nw := g.subsetHub(ld, key, MethodGlibcModel, targets, func(c int) string {
		if c == 0 {
			return "_dl_fixup's IFUNC resolver call: no lazy slot binds to an IFUNC"
		}
		return fmt.Sprintf("_dl_fixup's IFUNC resolver call: %d %s (%s)", c, plural(c, "resolver"), strings.Join(names, ", "))
	})
	what := "none binds to an IFUNC"
	if len(names) > 0 {
		what = "these bind to one: " + strings.Join(names, ", ")
	}
	g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel, Site: site, Detail: fmt.Sprintf(
		"_dl_fixup calls a resolver only for a lazily bound symbol of type IFUNC, that symbol's (glibc 2.36's elf_ifunc_invoke): "+
			"of the %d lazy slots of the modules loaded at start, %s; a library loaded with dlopen, LD_PRELOAD or /etc/ld.so.preload could bind others", slots, what)})
	return nw.hub, true
}

// lazyBinding is the definition a lazy slot of module m for name binds
// to: m's own when m defines the symbol with a visibility other than
// default (_dl_fixup does no lookup then), else the first definition in
// load order.
func (g *Graph) lazyBinding(m *Module, name string) (*binfile.Function, *Module, bool) {
	if nonDefaultDefinitions(m.File)[name] {
		if fn, ok := m.File.Lookup(name); ok {
			return fn, m, true
		}
	}
	return g.firstDefinition(name)
}

// nonDefaultKey is the key of nonDefaultDefinitions' answer.
type nonDefaultKey struct{}

// nonDefaultDefinitions are the names f's dynamic symbols define with a
// visibility other than default, found once per file (shared, never
// changed): lazyBinding asks for each lazy slot of each module, and a
// scan of the symbols each time was 0.3 s of 117 programs' analysis.
func nonDefaultDefinitions(f *binfile.File) map[string]bool {
	return binfile.Derived(f, nonDefaultKey{}, func() map[string]bool {
		out := map[string]bool{}
		dyn, _ := f.DynamicSymbols()
		for _, s := range dyn {
			if s.Section != elf.SHN_UNDEF && elf.ST_VISIBILITY(s.Other) != elf.STV_DEFAULT {
				out[s.Name] = true
			}
		}
		return out
	})
}
