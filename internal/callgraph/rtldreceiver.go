package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// ld.so's error receiver (glibc 2.36, elf/dl-error-skeleton.c, built into
// ld.so with DL_ERROR_BOOTSTRAP): _dl_signal_cexception and
// _dl_signal_cerror call the static pointer `receiver` when it is set,
// instead of raising the error. Only _dl_receive_error stores into it:
//
//	old = receiver; receiver = fct; (*operate)(args); receiver = old;
//
// and dl_main calls _dl_receive_error with print_unresolved or
// print_missing_version, in ld.so's --list/--verify modes, before any
// code of the program runs. Without a model the call took ld.so's
// address-taken set (dl_open_worker, and from there libc's whole set),
// on every lazy binding's error path (_dl_lookup_symbol_x).
//
// What the code proves, with no premise (the model stands with --strict):
//   - a decode of all of ld.so's code finds no instruction outside
//     _dl_receive_error that writes the word or computes its address, no
//     data holds its address, it is not exported (scanStores), and it
//     lies in .bss (NULL at start: the calls test it);
//   - each store of _dl_receive_error into it is a 64-bit store of a
//     register that holds, by the data flow of argcallback.go, either the
//     value a parameter register had at entry, or a word loaded from the
//     variable itself (the old value put back: a value it held);
//   - every caller of _dl_receive_error passes, in that register, a
//     constant function or its own parameter, followed up its callers
//     (argModel.targets: direct calls only, each caller known, the
//     function's address taken nowhere).
// The targets are then those constants. Where the code does not show it
// (ld.so not decoded in full, a store or a caller the data flow cannot
// read), the model falls back, without --strict, to the premise that the
// variable is NULL whenever the program's code runs, glibc's source
// above: the call then has no target. With --strict it keeps its set.

// rtldReceiverWord and rtldReceiverSetter name the variable and the only
// function glibc's source lets store into it.
const (
	rtldReceiverWord   = "receiver"
	rtldReceiverSetter = "_dl_receive_error"
)

// rtldReceiverHub returns the address of ld.so's receiver and the node
// standing for what it can hold (see above); ok is false when the
// variable is not known (no debug symbols) or, with --strict, when the
// code does not prove its values.
func (g *Graph) rtldReceiverHub(ld *Module) (word uint64, hub int, ok bool) {
	word, ok = objectSymbol(ld, rtldReceiverWord)
	if !ok || !inNobits(ld, word) {
		return 0, 0, false
	}
	// Every caller of the setter must be in the graph: all of ld.so's
	// functions (a few hundred; with --strict no address-taken set has
	// brought them in).
	g.completeModule(ld)
	g.resolvePending()
	targets, why := g.setterTargets(ld, word, rtldReceiverSetter)
	if why == "" {
		names := make([]string, 0, len(targets))
		for _, t := range targets {
			names = append(names, g.Nodes[t].Name())
		}
		slices.Sort(names)
		passes := fmt.Sprintf("%s passes to %s", g.callersOf(ld, rtldReceiverSetter), rtldReceiverSetter)
		nw := g.subsetHub(ld, "rtld receiver", MethodStoredArgument, targets, func(c int) string {
			if c == 0 {
				return "ld.so's error receiver: no function " + passes
			}
			return fmt.Sprintf("ld.so's error receiver: %d %s %s (%s)", c, plural(c, "function"), passes, strings.Join(names, ", "))
		})
		return word, nw.hub, true
	}
	if g.opts.Strict {
		return 0, 0, false
	}
	nw := g.subsetHub(ld, "rtld receiver", MethodGlibcModel, nil, func(int) string {
		return "ld.so's error receiver: NULL while the program runs (assumed)"
	})
	g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel, Detail: "ld.so's receiver " +
		"(_dl_signal_cexception's and _dl_signal_cerror's call) is set only while ld.so itself runs in its --list/--verify modes " +
		"(glibc 2.36's dl_main calls _dl_receive_error, which puts the old value back), NULL whenever the program's code runs; " +
		"the code does not show it here: " + why})
	return word, nw.hub, true
}

// callersOf names, for a detail, the functions whose calls of name the
// graph holds ("dl_main"), or "its callers".
func (g *Graph) callersOf(m *Module, name string) string {
	fn, ok := m.File.Lookup(name)
	if !ok {
		return "its callers"
	}
	fi, _ := m.File.FunctionIndex(fn.Addr)
	id, ok := m.nodes.get(fi)
	if !ok {
		return "its callers"
	}
	var names []string
	for _, n := range g.Nodes {
		if n.Hub || n.Func == nil {
			continue
		}
		for _, e := range n.Edges {
			if e.To == id && !slices.Contains(names, n.Name()) {
				names = append(names, n.Name())
			}
		}
	}
	if len(names) == 0 {
		return "its callers"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// inNobits says whether addr lies in an allocated section without
// contents (.bss): zero when the module is loaded.
func inNobits(m *Module, addr uint64) bool {
	for _, s := range m.File.ELF.Sections {
		if s.Type == elf.SHT_NOBITS && s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr+8 <= s.Addr+s.Size {
			return true
		}
	}
	return false
}

// setterTargets returns the functions the 8-byte variable at word of
// module m can hold, when the code proves that only the function named
// setter stores into it, each time a value one of its parameters had at
// entry or the variable's own earlier value, and what every caller of
// setter passes in those parameters (see the model above). why says what
// the code did not show ("" when it showed all of it).
func (g *Graph) setterTargets(m *Module, word uint64, setter string) (targets []int, why string) {
	fn, ok := m.File.Lookup(setter)
	if !ok {
		return nil, setter + " is not known"
	}
	dyn, _ := m.File.DynamicSymbols()
	for _, s := range dyn {
		if s.Section != elf.SHN_UNDEF && s.Value == word {
			return nil, "the variable is exported"
		}
	}
	key := fmt.Sprintf("setter-stores %x %x", word, fn.Addr)
	switch g.libraryStore(m).Fact(key, func() int64 { return g.scanStores(m, map[uint64]bool{word: true}, []uint64{fn.Addr}) }) {
	case storesForeign:
		return nil, "code outside " + setter + " writes it or takes its address"
	case storesIncomplete:
		return nil, "part of " + m.Name + "'s code could not be decoded"
	}
	fi, _ := m.File.FunctionIndex(fn.Addr)
	id := g.nodeFor(m, fi)
	a := newArgModel(g)
	defer a.release()
	regs, why := g.storedParams(a, id, word)
	if why != "" {
		return nil, why
	}
	unproved := "a caller of " + setter + " passes a value the data flow does not show, or the graph does not hold every caller"
	if len(regs) > 0 && a.failsUnindexed(id) {
		return nil, unproved // (targets' first test, before the index)
	}
	a.indexCallers()
	for _, reg := range regs {
		r := a.targets(argKey{id, reg})
		if !r.ok {
			return nil, unproved
		}
		targets = append(targets, r.targets...)
	}
	g.resolvePending() // PLT stubs passed as constants
	slices.Sort(targets)
	return slices.Compact(targets), ""
}

// storedParams returns the parameter registers whose entry values node
// id's function stores into the word at word: each of its stores there is
// a 64-bit store of a register that holds such a value, or a word loaded
// from word itself, or 0 (argcallback.go's data flow, every instruction
// reached). why says what does not fit.
func (g *Graph) storedParams(a *argModel, id int, word uint64) (regs []int8, why string) {
	n := g.Nodes[id]
	fr, ok := g.Decoder.(isa.FixedRefReader)
	if !ok {
		return nil, "the decoder does not describe fixed-address operands"
	}
	fl, ok := a.fullFlow(id)
	if !ok {
		return nil, n.Name() + "'s code does not decode in full, or a branch lands where the decode does not"
	}
	code, err := n.Module.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return nil, n.Name() + "'s code is not readable"
	}
	stores := 0
	for i, in := range fl.insts {
		ref, has, ok := fr.FixedRef(code[in.addr-n.Func.Addr:], in.addr)
		if !ok || !has || ref.Addr >= word+8 || ref.Addr+uint64(max(ref.Size, 1)) <= word {
			continue
		}
		if ref.Address {
			return nil, fmt.Sprintf("%s computes the variable's address at %#x", n.Name(), in.addr)
		}
		if !ref.MayWrite {
			continue
		}
		st := fl.state[i]
		if !in.e.HasStore || ref.Addr != word || ref.Size != 8 || st == nil || in.e.StoreSrc < 0 || in.e.StoreSrc > 15 {
			return nil, fmt.Sprintf("%s's store at %#x is not a 64-bit store of a register the data flow reaches", n.Name(), in.addr)
		}
		v := st[in.e.StoreSrc]
		switch {
		case v.kind == valEntry && slices.Contains(argRegs, v.reg):
			if !slices.Contains(regs, v.reg) {
				regs = append(regs, v.reg)
			}
		case v.kind == valLoad && v.c == word, v.kind == valConst && v.c == 0:
			// its own earlier value put back; NULL
		default:
			return nil, fmt.Sprintf("%s's store at %#x writes a value that is not one of its parameters", n.Name(), in.addr)
		}
		stores++
	}
	if stores == 0 {
		return nil, n.Name() + " does not store into the variable"
	}
	return regs, ""
}

// rtldWordCall is the word of ld.so an indirect call of node n reads its
// target from: `call [rip+word]` or `mov rax,[rip+word]; call rax` in
// ld.so itself, or, in another module, a member of _rtld_global_ro read
// through its GOT slot (object: _rtld_global_ro's address, 0 when not
// known); 0 for another call.
func rtldWordCall(n *Node, cs frame.CallSite, ld *Module, object uint64) uint64 {
	if n.Module == ld {
		return loadedWord(cs)
	}
	if object == 0 || cs.HasSlot {
		return 0
	}
	if off, ok := rtldROMember(n.Module, ld, object, cs.From); ok && off >= 0 {
		return object + uint64(off)
	}
	return 0
}

// hubMethod is the method of the edge into one of linkRtldHooks' hubs:
// that of the hub's own edges (a proof's), else glibc-model.
func (g *Graph) hubMethod(hub int) Method {
	if es := g.Nodes[hub].Edges; len(es) > 0 && len(g.Nodes[hub].Premises) == 0 {
		return es[0].Method
	}
	return MethodGlibcModel
}
