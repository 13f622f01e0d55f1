package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// The C library's runtime, modelled: what glibc's code does only in
// circumstances the program's code decides (a thread is cancelled, an
// exception is thrown, a handler was registered), so that a path that
// needs them is taken only when the program can bring them about.

// Premise is something an entry's bound rests on that the code it reaches
// cannot show: a library loaded later (dlopen) could cancel a thread. The
// bound package turns each premise of a node the entry reaches into one of
// its assumptions.
type Premise struct {
	Kind   string
	Site   uint64
	Detail string
}

// PremiseNoCancel is the kind of the premise that no thread is cancelled
// and no exception unwinds through the C library's cancellation points.
const PremiseNoCancel = "no-cancel"

// cancelPoints are glibc's functions that act on a pending cancellation
// request (a cancellation point's check, the cancellation signal's
// handler, the cleanup-pop variants that restore the cancel type): their
// call to __pthread_unwind runs only when some thread called
// pthread_cancel on this one. pthread_exit's own call, and
// __pthread_unwind_next's (an unwind already under way), are not here.
var cancelPoints = []string{
	"__pthread_enable_asynccancel", "__pthread_unregister_cancel_restore", "__libc_cleanup_pop_restore",
	"sigcancel_handler", "pthread_cancel", "__pthread_cancel", "pthread_setcancelstate", "__pthread_setcancelstate",
	"pthread_setcanceltype", "__pthread_setcanceltype", "pthread_testcancel", "__pthread_testcancel",
}

// cancelWaits are the functions whose every call waits for a cancellation
// under way to be acted on: __pthread_disable_asynccancel loops on a futex
// only while the thread's CANCELING bit is set (and calls __libc_fatal when
// the futex fails); without a canceller the loop never runs.
var cancelWaits = []string{"__pthread_disable_asynccancel"}

// cancellers are the functions whose call makes a cancellation, or an
// unwind through frames that did not expect one, possible.
var cancellers = []string{"pthread_cancel"}

// throwers start an exception's unwind (C++ throw, or a direct call of the
// unwinder), which runs cleanup handlers as a cancellation does.
var throwers = []string{"__cxa_throw", "__cxa_rethrow", "_Unwind_RaiseException", "_Unwind_Resume_or_Rethrow", "_Unwind_ForcedUnwind"}

// unwinders are the C library's own calls of the unwinder, for
// pthread_exit and cancellation: not throws.
var unwinders = []string{"__pthread_unwind"}

// loaders load code the analysis does not see, which could cancel or throw.
var loaders = []string{"dlopen", "dlmopen", "__libc_dlopen_mode"}

// ModelRuntime applies the model of the C library's runtime to the graph
// once it is resolved (see the functions below). It adds nodes and edges
// and removes edges, then resolves the nodes it added.
func (g *Graph) ModelRuntime() {
	if g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 {
		return
	}
	g.startDirectCallSites() // (argdirect.go; beside the models that precede linkArgumentCallbacks)
	g.startModelsAhead()     // (modelsahead.go; beside the models before ld.so's hooks and the tables)
	g.cutCancellation()
	g.linkVDSO()
	g.linkExitHandlers()
	g.linkCookieFunctions()
	if !g.opts.AuditHooks {
		g.cutAuditCallbacks()
	}
	g.linkRtldHooks() // ld.so's malloc words and _dl_fixup's IFUNC call (rtldmalloc.go)
	g.resolvePending()
	g.assumeGlibcStreams()
	g.startGconvAhead() // (gconvahead.go; beside linkArgumentCallbacks, for ModelReachableTables' gconvModel)
	g.linkArgumentCallbacks()
	if g.BesideLastModels != nil {
		g.BesideLastModels()
	}
	g.ModelReachableTables()
	g.finishGconvAhead() // (before ModelLoadedObjects, which writes frames)
	g.Loaded = g.ModelLoadedObjects()
	g.resolvePending()
	cyc := &cycles{g: g}        // (cycles.go; the final edges' components, found once)
	g.boundResolverReentry(cyc) // (lazyreentry.go; needs the final edges)
	g.refreshExitHandlers()     // (libcstart.go; _dl_fini's frame may be bounded now)
	g.boundHelperRecursion(cyc) // (libiohelper.go; needs the final edges)
	g.finishDirectCallSites()   // (argdirect.go; the models' alone: not kept to the peak of memory)
	g.finishModelsAhead()
}

// PremiseNoAudit is the kind of the premise that no audit library is
// loaded (the program does not run under LD_AUDIT).
const PremiseNoAudit = "no-audit"

// cutAuditCallbacks removes the indirect calls of ld.so's _dl_audit_*
// hooks: each calls the audit libraries' callbacks in a loop over
// GLRO(dl_naudit) (glibc 2.36's elf/dl-audit.c), which is 0 unless
// LD_AUDIT (or DT_AUDIT) named one. Their own frames, and their direct
// calls, stay; each hook that had such a call carries the premise, which
// the entries reaching it list as an assumption ("not under LD_AUDIT").
// --ld-audit keeps the calls. (The model of __libc_start_main leaves out
// its calls of the hooks altogether, see ModelStart.)
func (g *Graph) cutAuditCallbacks() {
	for _, m := range g.Modules[1:] {
		for fi := range m.File.Functions {
			if !isAuditHook(&m.File.Functions[fi]) {
				continue
			}
			id := g.nodeFor(m, fi)
			n := g.Nodes[id]
			sites := map[uint64]bool{}
			for _, cs := range n.Frame.Calls {
				if cs.Kind.Indirect() && !cs.HasSlot {
					sites[cs.Addr] = true
				}
			}
			if len(sites) == 0 {
				continue
			}
			n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return sites[e.Site] })
			n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return sites[a.Site] })
			n.Unresolved = slices.DeleteFunc(n.Unresolved, func(cs frame.CallSite) bool { return sites[cs.Addr] })
			n.Premises = append(n.Premises, Premise{Kind: PremiseNoAudit, Site: n.Func.Addr,
				Detail: "not under LD_AUDIT: " + n.Name() + " calls an audit library's callbacks only when one is loaded (--ld-audit keeps them)"})
		}
	}
}

// auditHookPrefix starts the names of ld.so's audit hooks.
const auditHookPrefix = "_dl_audit_"

// isAuditHook says whether fn's name starts with auditHookPrefix, without
// demangling a link name that does not hold the prefix: identifiers keep
// their characters in a mangled name (C++: a length and the identifier;
// Rust: the same, or punycode with the ASCII characters first and in
// order), so a demangled name can start with the prefix only if the link
// name holds it. cutAuditCallbacks asked every function of every library
// (node: libstdc++'s C++ names, some 5,900 exported, demangled for it
// alone: about 0.02 s of the
// glibc models' one goroutine, issue 19). Any doubt on this (a symbol
// whose demangling made the prefix out of escapes) errs to the safe side:
// the function's calls are kept.
func isAuditHook(fn *binfile.Function) bool {
	if fn.NotYetDemangled() && !strings.Contains(fn.LinkName, auditHookPrefix) {
		return false
	}
	return strings.HasPrefix(fn.Name(), auditHookPrefix)
}

// cutCancellation removes the paths from glibc's cancellation points into
// the unwinder (__pthread_unwind, and from there _Unwind_ForcedUnwind,
// libgcc_s loaded with dlopen, and every cleanup handler, which the graph
// can only take to be any address-taken function), when no module the
// program loads calls pthread_cancel (libc's own definition aside) and
// none throws. A thread is then never cancelled, and those calls never
// happen. pthread_exit unwinds too: its path is kept. Code loaded later
// with dlopen could cancel: the nodes that load it carry that premise.
func (g *Graph) cutCancellation() {
	unwind := g.libcNodes("__pthread_unwind")
	if len(unwind) == 0 {
		return // the names are not known (no libc6-dbg): nothing is cut
	}
	if g.anyCaller(cancellers, nil) || g.anyCaller(throwers, unwinders) {
		return
	}
	isUnwind := map[int]bool{}
	for _, id := range unwind {
		isUnwind[id] = true
	}
	for _, id := range g.libcNodes(cancelPoints...) {
		n := g.Nodes[id]
		n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return isUnwind[e.To] })
	}
	for _, id := range g.libcNodes(cancelWaits...) {
		n := g.Nodes[id]
		n.Edges = nil
	}
	for _, id := range g.libcNodes(loaders...) {
		n := g.Nodes[id]
		n.Premises = append(n.Premises, Premise{Kind: PremiseNoCancel, Site: n.Func.Addr,
			Detail: "no thread is cancelled and nothing throws: no module loaded at start calls pthread_cancel or throws; " +
				"a library loaded with " + n.Name() + " could"})
	}
}

// libcNodes returns the nodes of the library functions with these names
// (any of their symbols), creating them: the C library's internal names
// come from its symbol table, or its debug file's.
func (g *Graph) libcNodes(names ...string) []int {
	var out []int
	for _, m := range g.Modules[1:] {
		for _, name := range names {
			if fn, ok := m.File.Lookup(name); ok {
				fi, _ := m.File.FunctionIndex(fn.Addr)
				if id := g.nodeFor(m, fi); !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// anyCaller says whether any module may call one of the functions: a
// module that imports one (a PLT or GOT slot, or an undefined dynamic
// symbol: its address can be taken too), or the module that defines it,
// when any of its other functions (but those named except) calls it or
// takes its address.
func (g *Graph) anyCaller(names, except []string) bool {
	for _, m := range g.Modules {
		if importsAny(m.File, names) {
			return true
		}
		var defined []uint64
		for _, name := range names {
			if fn, ok := m.File.Lookup(name); ok {
				defined = append(defined, fn.Addr)
			}
		}
		if len(defined) == 0 {
			continue
		}
		g.completeModule(m)
		for id := range m.nodes.all() {
			n := g.Nodes[id]
			if slices.Contains(defined, n.Func.Addr) || namedAny(n, except) {
				continue
			}
			for _, cs := range n.Frame.Calls {
				if !cs.Kind.Indirect() && slices.Contains(defined, cs.Target) {
					return true
				}
			}
			for _, r := range n.Frame.Refs {
				if slices.Contains(defined, r) {
					return true
				}
			}
		}
		for _, a := range m.File.AddressTaken() {
			if slices.Contains(defined, a) {
				return true
			}
		}
	}
	return false
}

// importsAny says whether f imports one of the names (an undefined dynamic
// symbol, which a PLT call, a GOT load or a data pointer goes through).
func importsAny(f *binfile.File, names []string) bool {
	dyn, _ := f.DynamicSymbols()
	for _, s := range dyn {
		if s.Section != elf.SHN_UNDEF {
			continue
		}
		name, _, _ := strings.Cut(s.Name, "@")
		if slices.Contains(names, name) {
			return true
		}
	}
	return false
}

// exitRegistrars register the functions __run_exit_handlers calls: the
// function is their first argument. (atexit itself lives in the program,
// from libc_nonshared.a, and passes its argument on: a registrar that
// calls another is not a registration site.)
var exitRegistrars = []string{"atexit", "__cxa_atexit", "on_exit", "at_quick_exit", "__cxa_at_quick_exit"}

// exitRegistrarsInternal are glibc's internal registration functions: a
// call to one from anywhere but the public ones is a registration the
// model does not read (the set is then not known).
var exitRegistrarsInternal = []string{"__internal_atexit", "__new_exitfn"}

// linkExitHandlers gives __run_exit_handlers' indirect calls (exit's and
// quick_exit's handlers, and the __libc_atexit hooks) exactly the functions
// that can be there: the constants the modules' code passes to atexit,
// on_exit and __cxa_atexit (C++ static destructors), the hooks the
// __libc_atexit section lists, and ld.so's _dl_fini, which
// __libc_start_main registers (rtld_fini, the value ld.so gives _start).
// When one registration's function is not a constant the model can read,
// the calls keep their assumed targets.
func (g *Graph) linkExitHandlers() {
	runners := g.libcNodes("__run_exit_handlers")
	if len(runners) != 1 {
		return
	}
	runner := g.Nodes[runners[0]]
	libc := runner.Module
	handlers, ok := g.registered(exitRegistrars, exitRegistrarsInternal)
	if !ok {
		return
	}
	// __cxa_finalize (a shared object's __do_global_dtors_aux calls it
	// with its __dso_handle) runs the ef_cxa entries of the same lists,
	// each once, and nothing else through a pointer (glibc 2.36's
	// stdlib/cxa_finalize.c): a part of the same registrations.
	if fin := g.libcNodes("__cxa_finalize"); len(fin) == 1 && g.Nodes[fin[0]].Module == libc {
		g.replaceIndirect(fin[0], g.finalizeHandlers(fin[0], handlers), MethodAtexit)
	}
	hooks, ok := libc.File.SectionFunctions("__libc_atexit")
	if !ok && libc.File.ELF.Section("__libc_atexit") != nil {
		return
	}
	for _, h := range hooks {
		fi, _ := libc.File.FunctionIndex(h)
		handlers = append(handlers, g.nodeFor(libc, fi))
	}
	sort.Ints(handlers)
	handlers = slices.Compact(handlers)
	g.replaceIndirect(runners[0], handlers, MethodAtexit)
	// C++ thread_local destructors: __call_tls_dtors calls those
	// registered with __cxa_thread_atexit_impl (libstdc++'s
	// __cxa_thread_atexit passes its argument on: not a constant, and the
	// calls keep their assumed targets).
	if dtors := g.libcNodes("__call_tls_dtors"); len(dtors) == 1 {
		if fns, ok := g.registered(tlsRegistrars, nil); ok {
			g.replaceIndirect(dtors[0], fns, MethodAtexit)
		}
	}
}

// tlsRegistrars register thread_local destructors.
var tlsRegistrars = []string{"__cxa_thread_atexit_impl", "__cxa_thread_atexit"}

// replaceIndirect makes node id's indirect calls go to targets, and to
// nothing else: the assumed or unresolved targets they had go.
func (g *Graph) replaceIndirect(id int, targets []int, method Method) {
	n := g.Nodes[id]
	sites := map[uint64]bool{}
	for _, cs := range n.Frame.Calls {
		if cs.Kind.Indirect() && !cs.HasSlot {
			sites[cs.Addr] = true
		}
	}
	n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return sites[e.Site] })
	n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return sites[a.Site] })
	n.Unresolved = slices.DeleteFunc(n.Unresolved, func(cs frame.CallSite) bool { return sites[cs.Addr] })
	for _, cs := range n.Frame.Calls {
		if !sites[cs.Addr] {
			continue
		}
		for _, t := range targets {
			g.addEdge(id, t, cs, method)
		}
	}
}

// registered returns the nodes of the functions the modules register
// with the registrars (first argument), ok false when a registration's
// argument is not a constant function address.
func (g *Graph) registered(registrars, internal []string) ([]int, bool) {
	all := append(append([]string(nil), registrars...), internal...)
	var out []int
	for _, m := range g.Modules {
		var defined []uint64
		for _, name := range all {
			if fn, ok := m.File.Lookup(name); ok {
				defined = append(defined, fn.Addr)
			}
		}
		if len(defined) == 0 && !importsAny(m.File, all) {
			continue
		}
		g.completeModule(m)
		if g.refersTo(m, defined) {
			return nil, false // a registrar's address escapes: any argument
		}
		// In node order: each id once (a node is made for one function),
		// and sortedUnique is sort.Ints' order without its cost on
		// node's 77,000.
		for _, id := range sortedUnique(slices.Collect(m.nodes.all()), len(g.Nodes)) {
			n := g.Nodes[id]
			if slices.Contains(defined, n.Func.Addr) {
				continue // a registrar passing its argument on
			}
			for _, e := range n.Edges {
				to := g.Nodes[e.To]
				if !namedAny(to, all) {
					continue
				}
				if e.Method != MethodDirect && e.Method != MethodPLT && e.Method != MethodGOT {
					return nil, false // reached through a pointer: any argument
				}
				if m != g.Modules[0] && namedAny(n, []string{"__libc_start_main_impl", "__libc_start_main"}) && namedAny(to, registrars) {
					// rtld_fini: what ld.so passes _start in rdx.
					fini := g.libcNodes("_dl_fini")
					if len(fini) != 1 {
						return nil, false
					}
					out = append(out, fini[0])
					continue
				}
				if !namedAny(to, registrars) {
					return nil, false
				}
				addr, ok := g.firstArgument(m, n, e.Site)
				if !ok {
					return nil, false
				}
				fi, ok := m.File.FunctionIndex(addr)
				if !ok {
					return nil, false
				}
				out = append(out, g.nodeFor(m, fi))
			}
		}
	}
	return out, true
}

// refersTo says whether module m's code (other than the functions at
// addrs themselves) or data takes the address of one of addrs.
func (g *Graph) refersTo(m *Module, addrs []uint64) bool {
	if len(addrs) == 0 {
		return false
	}
	// The nodes in function order (in step with memory, where the map's
	// order jumped), their references first, the function's own address
	// only for one that matches: most nodes refer to none of addrs, and
	// each node read was a cache miss or two (node: 77,000 nodes per
	// question).
	for id := range m.nodes.all() {
		n := g.Nodes[id]
		for _, r := range n.Frame.Refs {
			if slices.Contains(addrs, r) && !slices.Contains(addrs, n.Func.Addr) {
				return true
			}
		}
	}
	for _, a := range m.File.AddressTaken() {
		if slices.Contains(addrs, a) {
			return true
		}
	}
	return false
}

func namedAny(n *Node, names []string) bool {
	for _, name := range names {
		if n.Named(name) {
			return true
		}
	}
	return false
}

// firstArgument returns the constant address in rdi at the call at site
// in node n: set by `lea rdi,[rip+f]` or `mov edi,imm` (or copied into rdi
// from a register so set) on the straight-line code right before the
// call. Every instruction between must be one whose register write the
// decoder names, and no branch of the function may land between: the
// value is then proved, not guessed.
func (g *Graph) firstArgument(m *Module, n *Node, site uint64) (uint64, bool) {
	const rdi = 7
	e, ok := g.argumentDef(m, n, site, rdi)
	if !ok || (e.DefKind != isa.DefAddr && e.DefKind != isa.DefConst) {
		return 0, false
	}
	return uint64(e.DefValue), true
}

// argumentDef returns the instruction that last wrote register reg (an
// argument register) before the call at site in node n, following copies
// between registers, under firstArgument's rules: straight-line code
// right before the call, every instruction one whose register write the
// decoder names, no branch of the function landing between. The answer
// reads the module's code alone: it is found once per file (the programs
// of one run share libc's; binfile.Derived).
func (g *Graph) argumentDef(m *Module, n *Node, site uint64, reg int8) (isa.Effect, bool) {
	fn := n.Func
	key := argumentDefKey{arch: g.Arch, addr: fn.Addr, size: fn.Size, site: site, reg: reg}
	a := binfile.Derived(m.File, key, func() argumentDefAnswer {
		e, ok := g.argumentDefIn(m.File, fn, site, reg)
		return argumentDefAnswer{e, ok}
	})
	return a.e, a.ok
}

// argumentDefKey names an answer of argumentDef in its file: the code of
// the function (address and size), the call, the register, and the
// instruction set (whose decoder is the same for every program of it).
type argumentDefKey struct {
	arch       binfile.Arch
	addr, size uint64
	site       uint64
	reg        int8
}

// argumentDefAnswer is argumentDefIn's answer.
type argumentDefAnswer struct {
	e  isa.Effect
	ok bool
}

// argumentDefIn is argumentDef over fn's code in f.
func (g *Graph) argumentDefIn(f *binfile.File, fn *binfile.Function, site uint64, reg int8) (isa.Effect, bool) {
	code, err := f.Code(fn.Addr, fn.Size)
	if err != nil || site < fn.Addr || site >= fn.Addr+fn.Size {
		return isa.Effect{}, false
	}
	type inst struct {
		addr uint64
		e    isa.Effect
	}
	var insts []inst
	targets := map[uint64]bool{}
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		e, err := g.Decoder.Decode(code[off:], pc)
		if err != nil || e.Len <= 0 {
			break
		}
		insts = append(insts, inst{pc, e})
		if e.HasTarget && (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) {
			targets[e.Target] = true
		}
		if e.Flow == isa.FlowIndirectJump && !e.HasSlot {
			return isa.Effect{}, false // a jump table could land anywhere
		}
		off += e.Len
	}
	at := slices.IndexFunc(insts, func(in inst) bool { return in.addr == site })
	if at < 0 {
		return isa.Effect{}, false
	}
	for i := at - 1; i >= 0 && at-i <= 12; i-- {
		if targets[insts[i+1].addr] {
			return isa.Effect{}, false
		}
		e := insts[i].e
		if e.Flow != isa.FlowNext || e.DefKind == isa.DefNone {
			return isa.Effect{}, false
		}
		if e.DefReg != reg {
			continue
		}
		if e.DefKind == isa.DefCopy {
			reg = e.DefSrc
			continue
		}
		return e, true
	}
	return isa.Effect{}, false
}

// lazyName names a module's lazy slots for the reason, by the first one
// linked: "libc.so.6's PLT (first: realloc, GOT slot 0x1d3010)".
func lazyName(m *Module, slot uint64) string {
	return fmt.Sprintf("%s's PLT (first: %s, GOT slot %#x)", m.Name, m.File.Slots[slot], slot)
}
