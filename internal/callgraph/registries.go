package callgraph

import (
	"cmp"
	"debug/elf"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// Registries glibc fills only when the program asks. printf calls the
// handlers register_printf_specifier (and register_printf_function,
// register_printf_modifier, register_printf_type) put in tables that
// glibc allocates then: __printf_function_table, __printf_arginfo_table,
// __printf_modifier_table and __printf_va_arg_table are NULL until one of
// those functions runs. A call whose target is read through one of those
// pointers calls nothing while they are NULL (glibc tests the pointer
// first; a read through NULL would fault, not call). When no registering
// function is reachable from the program's code (every function of the
// program, and every module's constructors and destructors), such a call
// has no target: it goes to a marker node instead of libc's address-taken
// set.
//
// Proved (the edge stands with --strict) when:
//   - every instruction of the library that may write one of the pointers,
//     or computes its address (lea), lies in a registering function (a
//     linear decode of every function and of the code between them, each
//     fixed-address operand described by the decoder's isa.FixedRefReader),
//     no data word or relocation holds their addresses, and they are not
//     exported;
//   - in the calling function, the call's target is read, through loads
//     only, from a load of one of the pointers, in straight-line code no
//     direct branch enters, no instruction between writing the registers
//     followed (isa.RegWriter), in a function with no jump table.
// A function with a jump table (printf_positional, __parse_one_specmb)
// could be entered by it between the load and the call: there the call's
// shape comes from the frame walk's slice, and the cut is an assumption
// of kind glibc-model (not with --strict), as it is when the decode of the
// library stopped on bytes it could not read. A library loaded later with
// dlopen could register handlers of its own: its functions are outside
// the graph, as they are outside the address-taken set this replaces.
//
// The cut depends on what is reachable, and reachability on the cuts:
// every model of this kind starts narrowed, then the graph's reachable
// set is computed and a model whose registering functions became
// reachable gives its calls back their targets, until nothing changes
// (fixpoint). Starting narrowed is sound: the first time a registering
// function runs, every table is still empty, so the path that reached it
// used none of the calls cut.

// registry is a set of table pointers and the only functions that store
// them.
type registry struct {
	what       string   // for reports
	vars       []string // the pointers (data symbols)
	registrars []string // the functions that may store them
}

var printfRegistry = registry{
	what:       "printf's registered handlers",
	vars:       []string{"__printf_function_table", "__printf_arginfo_table", "__printf_modifier_table", "__printf_va_arg_table"},
	registrars: []string{"__register_printf_specifier", "__register_printf_function", "__register_printf_modifier", "__register_printf_type"},
}

// reachModel is a narrowing that depends on what the program can reach.
// update is given the nodes reachable from the program's code and makes
// the model agree with it, reporting whether it changed the graph. Models
// only ever widen in update, so the fixpoint ends. settled says whether
// the model has widened as far as it can: update would change nothing
// more, whatever is reached.
type reachModel interface {
	update(reached []bool) bool
	settled() bool
}

// ModelReachableTables applies the models whose narrowing holds only
// while some functions stay unreachable (printf's handler tables; FILE
// jump tables of streams the program never makes), to a fixpoint. Run
// after ModelRuntime, on a program (not a shared object: anyone may call
// its exported functions).
func (g *Graph) ModelReachableTables() {
	if g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || g.Modules[0].File.Shared {
		return
	}
	if _, ok := g.Decoder.(isa.FixedRefReader); !ok {
		return
	}
	roots := g.programRoots()
	var models []reachModel
	if l := g.symbolLookupModel(); l != nil {
		models = append(models, l) // (dlsym.go)
	}
	for _, m := range g.Modules[1:] {
		if r := g.registryModel(m, &printfRegistry); r != nil {
			models = append(models, r)
		}
		if l := g.libioInstallModel(m); l != nil {
			models = append(models, l)
		}
		if t := g.tsdModel(m); t != nil {
			models = append(models, t)
		}
		if c := g.gconvModel(m); c != nil {
			models = append(models, c)
		}
	}
	for len(models) > 0 {
		reached := g.reachable(roots)
		g.reachRounds++
		changed := false
		for _, md := range models {
			changed = md.update(reached) || changed
		}
		// Once every model is settled, another round would find no
		// change: its walk of the whole graph is skipped. (A symbol
		// lookup reached undoes every model at once: node's second
		// round, 0.007 s of the glibc models' one goroutine, found
		// nothing; issue 19.)
		if !changed || skipSettledRound && !slices.ContainsFunc(models, func(md reachModel) bool { return !md.settled() }) {
			break
		}
	}
}

// skipSettledRound says whether ModelReachableTables stops once every
// model is settled (a test turns it off to compare the graphs).
var skipSettledRound = true

// programRoots are the nodes from which the program's code can run: every
// function of the program (its entry, main, callbacks and signal handlers
// alike), and every module's constructors and destructors (DT_INIT,
// DT_FINI and their arrays), which ld.so runs before and after.
func (g *Graph) programRoots() []int {
	// Made at the size of the program's nodes, the most of it: grown by
	// append, node's list (two calls) was 6 MB allocated after the last
	// collection (profile, issue 19).
	roots := make([]int, 0, g.Modules[0].nodes.len()+64)
	g.eachNode(g.Modules[0], func(id int, _ *Node) { roots = append(roots, id) })
	for _, m := range g.Modules {
		addrs := m.File.InitArrays()
		for _, tag := range []elf.DynTag{elf.DT_INIT, elf.DT_FINI} {
			if v, err := m.File.ELF.DynValue(tag); err == nil && len(v) > 0 {
				addrs = append(addrs, v[0])
			}
		}
		for _, a := range addrs {
			if fi, ok := m.File.FunctionIndex(a); ok {
				roots = append(roots, g.nodeFor(m, fi))
			}
		}
	}
	// A function of another module whose address a module imports
	// (GLOB_DAT, R_X86_64_64: a PIE program's pointer to fopencookie) is
	// in no address-taken set: the code holding the pointer may call it.
	// One whose GOT word the code only calls through (a PIE _start's
	// call of __libc_start_main) is no root: the call is an edge
	// (importroots.go).
	for _, m := range g.Modules {
		imp, _ := g.escapingImports(m)
		names := make([]string, 0, len(imp))
		for name := range imp {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if to, ok := g.definitionOf(m, name); ok {
				roots = append(roots, to)
			}
		}
	}
	g.resolvePending()
	return sortedUnique(roots, len(g.Nodes))
}

// sortedUnique returns ids (each below n) in increasing order, each once:
// slices.Sort and Compact's answer, from marks by node. programRoots'
// ids are the program's every node, in a map's order (node: tens of
// thousands); their sort was 0.01-0.02 s of the glibc models' one
// goroutine (two calls, perf; issue 19), the marks' scan of the graph's
// nodes a few hundred microseconds.
func sortedUnique(ids []int, n int) []int {
	marked := make([]bool, n)
	for _, id := range ids {
		marked[id] = true
	}
	out := ids[:0]
	for id, ok := range marked {
		if ok {
			out = append(out, id)
		}
	}
	return out
}

// definitionOf returns the node of the function another module defines
// for a name module m imports (not its own), in the dynamic linker's
// search order.
func (g *Graph) definitionOf(m *Module, name string) (int, bool) {
	name, _, _ = strings.Cut(name, "@")
	if own, ok := m.File.Lookup(name); ok && own.Exported {
		return 0, false // m's own definition: in its address-taken set
	}
	for _, mod := range g.Modules {
		if mod == m {
			continue
		}
		fn, ok := mod.File.LookupExported(name)
		if !ok || fn.IFunc {
			continue
		}
		fi, _ := mod.File.FunctionIndex(fn.Addr)
		return g.nodeFor(mod, fi), true
	}
	return 0, false
}

// reachable marks the nodes reachable from roots over every edge (hubs'
// included).
func (g *Graph) reachable(roots []int) []bool {
	seen := make([]bool, len(g.Nodes))
	stack := append([]int(nil), roots...)
	for _, r := range roots {
		seen[r] = true
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range g.Nodes[id].Edges {
			if e.To < len(seen) && !seen[e.To] {
				seen[e.To] = true
				stack = append(stack, e.To)
			}
		}
	}
	// A copy of a chain function (argcontext.go) reached is its function
	// reached: the models ask about functions (a registrar, an installer).
	for c, o := range g.cloneOf {
		if c < len(seen) && seen[c] {
			seen[o] = true
		}
	}
	return seen
}

// cutSite is an indirect call a model took its targets from, with what
// it had, to give back.
type cutSite struct {
	id         int
	cs         frame.CallSite
	edges      []Edge
	assumed    []Assumption
	unresolved []frame.CallSite
}

// cut removes node id's targets at cs.Addr and keeps them in a cutSite.
func (g *Graph) cut(id int, cs frame.CallSite) cutSite {
	n := g.Nodes[id]
	site := cs.Addr
	c := cutSite{id: id, cs: cs}
	n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool {
		if e.Site == site {
			c.edges = append(c.edges, e)
			return true
		}
		return false
	})
	n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool {
		if a.Site == site {
			c.assumed = append(c.assumed, a)
			return true
		}
		return false
	})
	n.Unresolved = slices.DeleteFunc(n.Unresolved, func(u frame.CallSite) bool {
		if u.Addr == site {
			c.unresolved = append(c.unresolved, u)
			return true
		}
		return false
	})
	return c
}

// restore gives a cut site back what it had, dropping the edges the
// model gave it.
func (g *Graph) restore(c cutSite) {
	n := g.Nodes[c.id]
	n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == c.cs.Addr })
	n.Edges = append(n.Edges, c.edges...)
	n.Assumed = append(n.Assumed, c.assumed...)
	n.Unresolved = append(n.Unresolved, c.unresolved...)
}

// registryCut is one registry of one module, applied.
type registryCut struct {
	g          *Graph
	reg        *registry
	registrars []int
	sites      []cutSite
	restored   bool
}

// update gives the calls back their targets once a registering function
// is reachable, or a symbol lookup (dlsym.go): a registrar may then be
// called through the pointer it returns, which no edge may show (with
// --strict such a call stays unresolved, yet another entry's printf
// would use the handlers it registers).
func (r *registryCut) update(reached []bool) bool {
	if r.restored {
		return false
	}
	_, lookup := r.g.lookupReached(reached)
	for _, id := range r.registrars {
		if lookup || reached[id] {
			for _, c := range r.sites {
				r.g.restore(c)
			}
			r.restored = true
			return true
		}
	}
	return false
}

// settled: the calls have their targets back, or no registrar can be
// reached to give them back.
func (r *registryCut) settled() bool { return r.restored || len(r.registrars) == 0 }

// Store scans of a registry's pointers (a library's fact, kept by libcache).
const (
	storesForeign    = 0 // written, or its address taken, outside the registrars
	storesComplete   = 1 // only the registrars write it; every byte decoded
	storesIncomplete = 2 // none outside them seen, but some code not decoded
)

// registryModel cuts module m's calls through reg's pointers, or returns
// nil when the model does not apply (the names are not known, a pointer is
// exported or written elsewhere, no call reads through one).
func (g *Graph) registryModel(m *Module, reg *registry) *registryCut {
	vars := map[uint64]bool{}
	var key strings.Builder
	key.WriteString("registry-stores " + reg.vars[0])
	for _, s := range m.File.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && slices.Contains(reg.vars, s.Name) && s.Size == 8 {
			vars[s.Value] = true
		}
	}
	if len(vars) != len(reg.vars) {
		return nil
	}
	dyn, _ := m.File.DynamicSymbols()
	for _, s := range dyn {
		if s.Section != elf.SHN_UNDEF && vars[s.Value] {
			return nil // exported: another module may write it
		}
	}
	var regAddrs []uint64
	r := &registryCut{g: g, reg: reg}
	for _, name := range reg.registrars {
		if fn, ok := m.File.Lookup(name); ok && !slices.Contains(regAddrs, fn.Addr) {
			regAddrs = append(regAddrs, fn.Addr)
			fi, _ := m.File.FunctionIndex(fn.Addr)
			r.registrars = append(r.registrars, g.nodeFor(m, fi))
		}
	}
	for v := range vars {
		fmt.Fprintf(&key, " %x", v)
	}
	for _, a := range regAddrs {
		fmt.Fprintf(&key, " r%x", a)
	}
	scan := g.libraryStore(m).Fact(key.String(), func() int64 { return g.scanStores(m, vars, regAddrs) })
	if scan == storesForeign {
		return nil
	}
	var marker [2]int // proved, assumed
	marker[0], marker[1] = -1, -1
	for _, id := range g.sortedNodes(m) {
		n := g.Nodes[id]
		if n.Func == nil || n.Hub || n.Summary != "" {
			continue
		}
		var lin *linearCode
		for _, cs := range n.Frame.Calls {
			if !cs.Kind.Indirect() || cs.HasSlot {
				continue
			}
			if lin == nil {
				lin = g.linearOf(m, n, vars)
			}
			proved, ok := g.readsThrough(m, n, lin, cs, vars)
			if !ok {
				continue
			}
			proved = proved && scan == storesComplete
			if !proved && g.opts.Strict {
				continue
			}
			k := 0
			if !proved {
				k = 1
			}
			if marker[k] < 0 {
				marker[k] = g.registryMarker(m, reg, proved)
			}
			r.sites = append(r.sites, g.cut(id, cs))
			g.addEdge(id, marker[k], cs, MethodEmptyRegistry)
		}
	}
	if len(r.sites) == 0 {
		return nil
	}
	return r
}

// registryMarker is the node a cut call goes to: no code, no frame; when
// the cut is an assumption, it carries the premise, so that an entry
// lists it once.
func (g *Graph) registryMarker(m *Module, reg *registry, proved bool) int {
	detail := reg.what + " are empty: no function that registers one (" + strings.Join(reg.registrars, ", ") + ") is reachable"
	n := &Node{Module: m, name: "[" + reg.what + ": none registered]", Frame: frame.Frame{Kind: frame.Static}, Summary: MethodEmptyRegistry.String()}
	if !proved {
		n.Premises = []Premise{{Kind: PremiseGlibcModel, Detail: detail + "; the calls through " + strings.Join(reg.vars, ", ") +
			" are recognised by their shape in functions with a jump table, or part of libc's code could not be decoded"}}
	}
	g.Nodes = append(g.Nodes, n)
	return len(g.Nodes) - 1
}

// scanStores decodes every function of m, and the code between them, and
// says whether an instruction outside the registrars (functions starting
// at regAddrs) may write one of the pointers at vars or computes its
// address, or a data word holds one.
func (g *Graph) scanStores(m *Module, vars map[uint64]bool, regAddrs []uint64) int64 {
	for v := range vars {
		if m.File.DataRefersTo(v, v+8) {
			return storesForeign
		}
	}
	fr := g.Decoder.(isa.FixedRefReader)
	lo, hi := ^uint64(0), uint64(0)
	for v := range vars {
		lo, hi = min(lo, v), max(hi, v+8)
	}
	foreign, complete := g.foreignFixedRefs(m, fr, lo, hi, regAddrs, false, func(ref isa.FixedRef) bool {
		return (ref.MayWrite || ref.Address) && overlapsAny(vars, ref)
	})
	switch {
	case foreign:
		return storesForeign
	case complete:
		return storesComplete
	}
	return storesIncomplete
}

// foreignFixedRefs sweeps m's code on every core (sweepFlowParallel) for
// an instruction near [lo, hi) whose fixed reference matches, outside the
// functions starting at allowed: foreign says one was found; complete is
// false when some code could not be decoded or its reference read. The
// sweep ends at the first foreign reference (complete is then false),
// and at the first undecoded byte when incompleteSettles (the caller's
// answer is the same for foreign and incomplete).
func (g *Graph) foreignFixedRefs(m *Module, fr isa.FixedRefReader, lo, hi uint64, allowed []uint64, incompleteSettles bool,
	matches func(isa.FixedRef) bool) (foreign, complete bool) {
	workers := g.sweepWorkers()
	foreignBy := make([]bool, workers) // a flag per worker
	halt := &sweepHalt{onIncomplete: incompleteSettles}
	complete = g.sweepFlowUntil(m, workers, halt, func(w int) func(pc uint64, code []byte, e *isa.Effect) bool {
		return func(pc uint64, code []byte, e *isa.Effect) bool {
			if !mayReach(code[:e.Len], pc, lo, hi) {
				return true
			}
			ref, has, ok := fr.FixedRef(code, pc)
			if !ok {
				return false
			}
			if has && matches(ref) {
				fn, in := m.File.Containing(pc)
				if !in || !slices.Contains(allowed, fn.Addr) {
					foreignBy[w] = true
					halt.end()
				}
			}
			return true
		}
	})
	return slices.Contains(foreignBy, true), complete
}

// sweepCode decodes all of m's executable code, each function from its
// start and the code between functions, and calls visit for every
// instruction (its bytes from pc on). It says whether every byte decoded
// and visit accepted every instruction (visit returns false for one it
// could not read in full). e is lent for the call: the next instruction
// is decoded into it.
func (g *Graph) sweepCode(m *Module, visit func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	return g.sweepCodeWith(m, isa.DecodeInto, visit)
}

// sweepFlow is sweepCode for a visit that reads of each instruction its
// length, flow, target, slot and fixed reference only: its Effect may
// lack the registers' description (isa.SweepDecoder), a third of the
// sweep's decoding.
func (g *Graph) sweepFlow(m *Module, visit func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	return g.sweepCodeWith(m, isa.DecodeSweep, visit)
}

// sweepCodeWith is sweepCode decoding with decode.
func (g *Graph) sweepCodeWith(m *Module, decode func(isa.Decoder, []byte, uint64, *isa.Effect) error,
	visit func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	complete := true
	// One Effect decoded into and lent to visit: a sweep of a program's
	// code decodes millions of instructions, and copying each Effect
	// twice (returned, then passed) showed in node's profile (issue 19).
	var e isa.Effect
	for _, s := range g.sweepSections(m, &complete) {
		if !s.sweep(g.Decoder, decode, 0, len(s.code), visit, &e, nil) {
			complete = false
		}
	}
	return complete
}

// sweepSection is one executable section of a module as the sweeps see
// it: its code and the sorted starts of the functions in it.
type sweepSection struct {
	addr   uint64
	code   []byte
	starts []uint64
}

// sweepSections returns m's executable sections, clearing complete when
// one's code cannot be read.
func (g *Graph) sweepSections(m *Module, complete *bool) []sweepSection {
	var out []sweepSection
	for _, s := range m.File.ELF.Sections {
		if s.Flags&elf.SHF_EXECINSTR == 0 || s.Type != elf.SHT_PROGBITS {
			continue
		}
		code, err := m.File.Code(s.Addr, s.Size)
		if err != nil {
			*complete = false
			continue
		}
		// The functions are sorted by address: the section's are a run
		// (node's 77,000 functions were read once per section and sweep).
		var starts []uint64
		fns := m.File.Functions
		i, _ := slices.BinarySearchFunc(fns, s.Addr, func(fn binfile.Function, a uint64) int { return cmp.Compare(fn.Addr, a) })
		for ; i < len(fns) && fns[i].Addr < s.Addr+s.Size; i++ {
			starts = append(starts, fns[i].Addr)
		}
		out = append(out, sweepSection{s.Addr, code, starts})
	}
	return out
}

// sweep decodes the section's code from offset from, a function's start
// (or 0), up to the first instruction at or after offset to, and calls
// visit for every instruction, as sweepCode does; it says whether every
// byte decoded and visit accepted every instruction. The decode restarts
// at each function's start, so that a part starting at one decodes what
// a sweep of the whole section decodes from there (sweepFlowParallel).
// halt, when not nil, ends the sweep early (see sweepHalt): it then
// returns false.
func (s *sweepSection) sweep(dec isa.Decoder, decode func(isa.Decoder, []byte, uint64, *isa.Effect) error,
	from, to int, visit func(pc uint64, code []byte, e *isa.Effect) bool, e *isa.Effect, halt *sweepHalt) bool {
	complete := true
	code := s.code
	next, _ := slices.BinarySearch(s.starts, s.addr+uint64(from))
	for off := from; off < to; {
		if halt != nil && halt.ended.Load() {
			return false
		}
		pc := s.addr + uint64(off)
		// Restart at each function's start: a decode that lost its
		// way in padding or data finds the instructions again.
		if next < len(s.starts) && s.starts[next] <= pc {
			if s.starts[next] < pc {
				off = int(s.starts[next] - s.addr)
			}
			next++
			continue
		}
		err := decode(dec, code[off:], pc, e)
		if err != nil || e.Len <= 0 || off+e.Len > len(code) {
			complete = false
			halt.incomplete()
			off++
			continue
		}
		if !visit(pc, code[off:], e) {
			complete = false
			halt.incomplete()
		}
		off += e.Len
	}
	return complete
}

// sweepFlowParallel is sweepFlow on every core: m's code is cut at
// functions' starts into parts of about equal size, which workers sweep
// at once (each part decodes as the whole sweep would, see sweep).
// visitFor(w) is the visit of worker w (0 <= w < workers), called by
// that worker's goroutine only: each keeps its own findings, which the
// caller merges (a visit whose findings are sets or flags merges the
// same whatever the order). It returns sweepCode's complete.
func (g *Graph) sweepFlowParallel(m *Module, workers int, visitFor func(w int) func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	return g.sweepFlowUntil(m, workers, nil, visitFor)
}

// sweepPlan is m's code cut at functions' starts into parts of about
// equal size for workers to sweep at once; complete is false when a
// section's code cannot be read.
type sweepPlan struct {
	sections []sweepSection
	parts    []sweepPart
	complete bool
}

// sweepPart is the code of sections[sec] from byte from to byte to.
type sweepPart struct {
	sec      int
	from, to int
}

// planSweep cuts m's code for workers (see sweepPlan).
func (g *Graph) planSweep(m *Module, workers int) sweepPlan {
	plan := sweepPlan{complete: true}
	plan.sections = g.sweepSections(m, &plan.complete)
	total := 0
	for _, s := range plan.sections {
		total += len(s.code)
	}
	// A few parts per worker, so that one slow part does not leave a
	// core idle; not below 64 KiB each.
	size := max(total/(workers*8), 64<<10)
	for si, s := range plan.sections {
		from := 0
		for _, st := range s.starts {
			at := int(st - s.addr)
			if at-from >= size {
				plan.parts = append(plan.parts, sweepPart{si, from, at})
				from = at
			}
		}
		plan.parts = append(plan.parts, sweepPart{si, from, len(s.code)})
	}
	return plan
}

// sweepPartsParallel is sweepCodeWith on every core, for a sweep whose
// findings are ordered: it sweeps plan's parts with decode, visitFor(p)
// being the visit of part p (called on the goroutine that sweeps it), so
// that the caller, merging each part's findings in the parts' order,
// finds what the sequential sweep finds in the same order. It returns
// sweepCodeWith's complete.
func (g *Graph) sweepPartsParallel(plan sweepPlan, workers int, decode func(isa.Decoder, []byte, uint64, *isa.Effect) error,
	visitFor func(p int) func(pc uint64, code []byte, e *isa.Effect) bool) bool {
	ok := make([]bool, len(plan.parts))
	var next atomic.Int64
	parallel(max(min(workers, len(plan.parts)), 1), func(int) {
		var e isa.Effect
		for {
			i := int(next.Add(1) - 1)
			if i >= len(plan.parts) {
				return
			}
			p := plan.parts[i]
			ok[i] = plan.sections[p.sec].sweep(g.Decoder, decode, p.from, p.to, visitFor(i), &e, nil)
		}
	})
	complete := plan.complete
	for _, o := range ok {
		complete = complete && o
	}
	return complete
}

// sweepWorkers is how many goroutines a parallel sweep uses: the
// frame walk's (Options.Workers), all cores by default.
func (g *Graph) sweepWorkers() int {
	if g.opts.Workers > 0 {
		return g.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// overlapsAny says whether the operand's bytes overlap one of the 8-byte
// variables.
func overlapsAny(vars map[uint64]bool, ref isa.FixedRef) bool {
	for v := range vars {
		if ref.Addr < v+8 && ref.Addr+uint64(ref.Size) > v {
			return true
		}
	}
	return false
}

// mayReach says whether a 32-bit displacement in the instruction's bytes,
// taken relative to the instruction's end or as an absolute address,
// could land within 64 bytes of [lo, hi): only such instructions are
// decoded in full.
func mayReach(b []byte, pc, lo, hi uint64) bool {
	end := pc + uint64(len(b))
	for k := 0; k+4 <= len(b); k++ {
		d := int64(int32(uint32(b[k]) | uint32(b[k+1])<<8 | uint32(b[k+2])<<16 | uint32(b[k+3])<<24))
		for _, t := range []uint64{end + uint64(d), uint64(d)} {
			if t+64 >= lo && t < hi+64 {
				return true
			}
		}
	}
	return false
}

// linearCode is a function's linear decode, once per node (see
// decodeLinear), and whether it loads one of the variables at all.
type linearCode struct {
	insts  []linearInst
	from   map[uint64][]uint64
	linear bool
	loads  bool
}

func (g *Graph) linearOf(m *Module, n *Node, vars map[uint64]bool) *linearCode {
	l := &linearCode{}
	l.insts, l.from, l.linear = g.decodeLinear(m, n)
	for _, in := range l.insts {
		if in.e.HasMem && in.e.MemBase == -1 && vars[uint64(in.e.MemDisp)] {
			l.loads = true
		}
	}
	return l
}

// readsThrough says whether the indirect call cs of node n reads its
// target through one of the pointers at vars (ok), and whether that is
// proved from the code (proved) or shown only by the frame walk's slice in
// a function with a jump table.
func (g *Graph) readsThrough(m *Module, n *Node, lin *linearCode, cs frame.CallSite, vars map[uint64]bool) (proved, ok bool) {
	if lin.linear {
		return true, lin.loads && g.loadChain(m, n, lin, cs.Addr, vars)
	}
	for v := cs.From; v != nil && v.Kind == frame.ValueLoad; v = v.Addr {
		if a := v.Addr; a != nil && a.Kind == frame.ValueConst && !a.Indexed && vars[uint64(a.Off)] {
			return false, true
		}
	}
	return false, false
}

// loadChain says whether, in node n's function (no jump table), the call
// at site goes to a word read through loads only from a load of one of
// the pointers at vars: walking back over straight-line code no direct
// branch enters, the last instruction that may write the register
// followed (isa.RegWriter) is a load from [base+...], and base is followed
// the same way, up to a load of [rip+var].
func (g *Graph) loadChain(m *Module, n *Node, lin *linearCode, site uint64, vars map[uint64]bool) bool {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok {
		return false
	}
	insts, from := lin.insts, lin.from
	code, err := m.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return false
	}
	i := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	if i < 0 {
		return false
	}
	call := insts[i].e
	var cur int8
	switch {
	case call.HasMem && call.MemBase == -1:
		return call.MemIndex < 0 && vars[uint64(call.MemDisp)]
	case call.HasMem && call.MemBase >= 0:
		cur = call.MemBase
	case call.HasCallReg && !call.HasMem:
		cur = call.CallReg
	default:
		return false
	}
	for j := i - 1; j >= 0 && i-j <= 32; j-- {
		if len(from[insts[j+1].addr]) > 0 {
			return false // another path joins
		}
		e := insts[j].e
		if e.Flow != isa.FlowNext {
			return false
		}
		if rw.MayWrite(code[insts[j].addr-n.Func.Addr:], insts[j].addr)&(1<<uint(cur&15)) == 0 {
			continue
		}
		if e.DefKind != isa.DefLoad || !e.HasMem || e.DefReg != cur {
			return false
		}
		if e.MemBase == -1 {
			return e.MemIndex < 0 && vars[uint64(e.MemDisp)]
		}
		if e.MemBase < 0 {
			return false
		}
		cur = e.MemBase
	}
	return false
}
