package callgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// ProgramStart is what the code at a program's ELF entry shows of how it
// starts: the C runtime's _start (glibc's crt1, musl's crt1 and its
// _start_c) passes main, and with old glibc and musl also an init and a
// fini function, to __libc_start_main in rdi, rcx and r8.
type ProgramStart struct {
	Entry uint64 // _start
	// StartC is musl's _start_c, the C function _start calls and that
	// calls __libc_start_main (0 when _start calls it itself).
	StartC uint64
	Main   uint64
	// Init and Fini are the rcx and r8 arguments when they are function
	// addresses (0 otherwise: glibc 2.34 and later pass none).
	Init, Fini uint64
	// Site is the call (or musl's tail jump) to __libc_start_main, in
	// _start or StartC; Target its address when direct (a static
	// program), Slot the GOT slot it reads otherwise.
	Site, Target, Slot uint64
}

// x86-64 argument registers, by their encoding numbers (isa.Effect.DefReg).
const (
	regRAX, regRCX, regRDX, regRDI = 0, 1, 2, 7
	regR8                          = 8
)

// FindStart reads the code at the program's entry (x86-64 only): the
// straight-line code up to its first call or jump, with the constant
// addresses it puts in the argument registers. When rdi holds a function
// there, that is main and the call is to __libc_start_main; when it does
// not and the call is direct (musl: `call _start_c`), the callee is read
// the same way. No guess: a register is known only when the instruction
// that last wrote it (lea reg,[rip+X], mov reg,imm, xor reg,reg) is in
// that straight line, and main must start a function.
func FindStart(f *binfile.File, dec isa.Decoder) (ProgramStart, bool) {
	ps := ProgramStart{Entry: f.Entry}
	if f.Arch != binfile.ArchX86_64 || f.Entry == 0 || f.Shared {
		return ps, false
	}
	addr := f.Entry
	for hop := 0; hop < 2; hop++ {
		regs, site, ok := straightLine(f, dec, addr, 64)
		if !ok {
			return ps, false
		}
		mainAddr, known := regs[regDI()]
		if known && isFunctionStart(f, mainAddr) {
			ps.Main = mainAddr
			if v, ok := regs[regRCX]; ok && v != 0 && isFunctionStart(f, v) {
				ps.Init = v
			}
			if v, ok := regs[regR8]; ok && v != 0 && isFunctionStart(f, v) {
				ps.Fini = v
			}
			ps.Site, ps.Target, ps.Slot = site.Addr, site.Target, site.Slot
			if hop > 0 {
				ps.StartC = addr
			}
			return ps, true
		}
		if !site.HasTarget || site.Flow != isa.FlowCall {
			return ps, false
		}
		addr = site.Target
	}
	return ps, false
}

func regDI() int8 { return regRDI }

// isFunctionStart: addr is executable code of the file (a function, or
// code no FDE covers yet, as in a stripped static musl program).
func isFunctionStart(f *binfile.File, addr uint64) bool {
	if _, ok := f.FunctionAt(addr); ok {
		return true
	}
	if _, inside := f.Containing(addr); inside {
		return false
	}
	return f.IsExecutable(addr) && !f.InPLT(addr)
}

// startSite is the call or jump that ends a straight line of code.
type startSite struct {
	Addr, Target, Slot uint64
	HasTarget          bool
	Flow               isa.Flow
}

// straightLine decodes from addr to the first instruction that is not
// FlowNext (at most max instructions) and returns the constant addresses
// left in registers, and that instruction. It fails on a conditional
// branch or an undecodable byte.
func straightLine(f *binfile.File, dec isa.Decoder, addr uint64, max int) (map[int8]uint64, startSite, bool) {
	regs := map[int8]uint64{}
	code, err := f.Code(addr, 512)
	if err != nil {
		return nil, startSite{}, false
	}
	off := 0
	for n := 0; n < max && off < len(code); n++ {
		e, err := dec.Decode(code[off:], addr+uint64(off))
		if err != nil || e.Len <= 0 {
			return nil, startSite{}, false
		}
		pc := addr + uint64(off)
		switch e.Flow {
		case isa.FlowNext:
		case isa.FlowCall, isa.FlowJump, isa.FlowIndirectCall, isa.FlowIndirectJump:
			return regs, startSite{Addr: pc, Target: e.Target, HasTarget: e.HasTarget, Slot: e.Slot, Flow: e.Flow}, true
		default:
			return nil, startSite{}, false
		}
		switch e.DefKind {
		case isa.DefAddr, isa.DefConst:
			regs[e.DefReg] = uint64(e.DefValue)
		case isa.DefCopy:
			if v, ok := regs[e.DefSrc]; ok && e.DefValue != 32 {
				regs[e.DefReg] = v
			} else {
				delete(regs, e.DefReg)
			}
		case isa.DefNone:
		default:
			delete(regs, e.DefReg)
		}
		off += e.Len
	}
	return nil, startSite{}, false
}

// CodeExtent is how far the code of a function at addr that no symbol or
// FDE delimits runs, read linearly: to the first return, jump or stop that
// no earlier branch of it jumps past (at most 4 KiB; 0 when unreadable).
// Code past it that the function does reach is still walked (see
// frame.Input.Continue): the extent only keeps the function from taking in
// its neighbours.
func CodeExtent(f *binfile.File, dec isa.Decoder, addr uint64) uint64 {
	code, err := f.Code(addr, 4096)
	if err != nil {
		return 0
	}
	reach := addr
	for off := 0; off < len(code); {
		e, err := dec.Decode(code[off:], addr+uint64(off))
		if err != nil || e.Len <= 0 {
			return uint64(off)
		}
		pc := addr + uint64(off)
		end := pc + uint64(e.Len)
		if e.HasTarget && e.Target > reach && (e.Flow == isa.FlowCondJump || e.Flow == isa.FlowJump) && e.Target < addr+uint64(len(code)) {
			reach = e.Target
		}
		switch e.Flow {
		case isa.FlowReturn, isa.FlowJump, isa.FlowIndirectJump, isa.FlowStop:
			if end > reach {
				return end - addr
			}
		}
		off += e.Len
	}
	return uint64(len(code))
}

// LibcStartOptions control the model of __libc_start_main.
type LibcStartOptions struct {
	// AuditHooks keeps ld.so's _dl_audit_* calls, which run only when
	// LD_AUDIT names an audit library.
	AuditHooks bool
}

// ModelStart replaces the entry's call to __libc_start_main with a summary
// of what it runs of the program: main, the program's init and fini
// functions (the init and fini arguments, DT_INIT and DT_FINI,
// .preinit_array, .init_array and .fini_array), and nothing else of it.
// Followed as code, __libc_start_main's indirect calls (main's, the init
// loops', ld.so's audit and debug hooks) all get the address-taken set,
// and the deepest path runs through ld.so's _dl_audit_preinit into any
// function of libc instead of main.
//
// The summary keeps __libc_start_main's own frame and its direct calls
// (exit, __cxa_atexit, ...), minus _dl_audit_* unless opts.AuditHooks;
// its own indirect calls go to the init functions (and, in a static
// program, the IRELATIVE resolvers it applies); the function that calls
// main and passes its result to exit (glibc's __libc_start_call_main,
// musl's libc_start_main_stage2) is copied with that call going to main
// alone, and with an edge, at its call to exit, to a node that stands for
// the exit handlers: the fini functions, at the depth exit's code reaches
// before its first indirect call (plus, in a dynamic program, ld.so's
// _dl_fini, which runs the .fini_array). What the summary cannot show is a
// note on it, never a smaller depth. It returns the summary's node.
func (g *Graph) ModelStart(ps ProgramStart, opts LibcStartOptions) (int, bool) {
	if g.Arch != binfile.ArchX86_64 || ps.Main == 0 {
		return 0, false
	}
	prog := g.Modules[0]
	siteFn := ps.Entry
	if ps.StartC != 0 {
		siteFn = ps.StartC
	}
	fi, ok := prog.File.FunctionIndex(siteFn)
	if !ok {
		return 0, false
	}
	caller := g.nodeFor(prog, fi)
	g.resolvePending()
	var lsm = -1
	for _, e := range g.Nodes[caller].Edges {
		if e.Site == ps.Site && e.Method != MethodLazy {
			lsm = e.To
		}
	}
	if lsm < 0 || g.Nodes[lsm].External || g.Nodes[lsm].Module == nil || g.Nodes[lsm].Func == nil {
		return 0, false
	}
	l := g.Nodes[lsm]
	m := l.Module
	mainNode, ok := g.nodeAt(prog, ps.Main)
	if !ok {
		return 0, false
	}
	// The program's init and fini functions.
	var inits []int
	add := func(list *[]int, addr uint64) {
		if addr == 0 {
			return
		}
		if id, ok := g.nodeAt(prog, addr); ok && !containsInt(*list, id) {
			*list = append(*list, id)
		}
	}
	dinit, dfini := prog.File.DynamicInitFini()
	add(&inits, ps.Init)
	add(&inits, dinit)
	arrays := prog.File.InitArrays()
	for _, a := range arrays {
		add(&inits, a)
	}
	if m == prog {
		// A static program: __libc_start_main applies the IRELATIVE
		// relocations itself, calling each resolver.
		for _, r := range prog.File.IRelative {
			add(&inits, r)
		}
	}
	var finis []int
	add(&finis, ps.Fini)
	add(&finis, dfini)
	for _, a := range arrays {
		add(&finis, a)
	}

	s := g.cloneNode(lsm, "__libc_start_main")
	sn := g.Nodes[s]
	// Where main is called: in __libc_start_main itself, in a function it
	// calls directly, or in one whose address it computes (musl's
	// stage2, reached by a tail jump through a register).
	site, holder := g.mainCallSite(lsm)
	var candidates []int
	if holder < 0 {
		for _, e := range l.Edges {
			if to := g.Nodes[e.To]; to.Module == m && to.Func != nil && !to.Func.Exported && e.Method == MethodDirect && !containsInt(candidates, e.To) {
				candidates = append(candidates, e.To)
			}
		}
		for _, ref := range l.Frame.Refs {
			if id, ok := g.nodeAt(m, ref); ok && !containsInt(candidates, id) {
				candidates = append(candidates, id)
			}
		}
		g.resolvePending()
		for _, c := range candidates {
			if st, h := g.mainCallSite(c); h >= 0 {
				site, holder = st, h
				break
			}
		}
	}
	var refTargets []int
	var starter = -1 // the copy of the function that calls main
	var exitNode = -1
	switch {
	case holder == lsm:
		starter = s
	case holder >= 0:
		starter = g.cloneNode(holder, g.Nodes[holder].Name())
		for _, ref := range l.Frame.Refs {
			if id, ok := g.nodeAt(m, ref); ok && id == holder {
				refTargets = append(refTargets, starter)
			}
		}
	}
	// The summary's edges: __libc_start_main's direct calls, without the
	// audit hooks and with the copy of the function that calls main.
	// A call to an audit hook goes through libc's PLT, and its
	// lazy-binding edge stays: glibc 2.36 calls _dl_audit_preinit on
	// every start (the hook tests GLRO(dl_naudit) itself), so its slot,
	// lazily bound in libc.so.6, runs the resolver there (seen with gdb:
	// _dl_fixup under __libc_start_main_impl, reloc_arg 13).
	auditSites := map[uint64]bool{}
	for _, e := range l.Edges {
		if !opts.AuditHooks && strings.HasPrefix(g.Nodes[e.To].Name(), "_dl_audit_") {
			auditSites[e.Site] = true
		}
	}
	for _, e := range l.Edges {
		if isIndirectSite(l, e.Site) || auditSites[e.Site] && e.Method != MethodLazy {
			continue
		}
		if e.To == holder && starter >= 0 {
			e.To = starter
		}
		sn.Edges = append(sn.Edges, e)
	}
	// Its indirect calls: the init functions (all of them at every one:
	// more is never less), main's copy when reached through a register.
	for _, cs := range l.Frame.Calls {
		if !cs.Kind.Indirect() || cs.HasSlot {
			continue
		}
		if holder == lsm && cs.Addr == site.Addr {
			g.addEdge(s, mainNode, cs, MethodLibcStart)
			continue
		}
		for _, t := range inits {
			g.addEdge(s, t, cs, MethodLibcStart)
		}
		for _, t := range refTargets {
			g.addEdge(s, t, cs, MethodLibcStart)
		}
	}
	if starter >= 0 && starter != s {
		st := g.Nodes[starter]
		h := g.Nodes[holder]
		st.Edges = st.Edges[:0]
		for _, e := range h.Edges {
			if e.Site != site.Addr {
				st.Edges = append(st.Edges, e)
			}
		}
		st.Unresolved = without(h.Unresolved, site.Addr)
		st.Assumed = withoutAssumed(h.Assumed, site.Addr)
		g.addEdge(starter, mainNode, site, MethodLibcStart)
	}
	if starter >= 0 {
		exitNode = g.exitAfter(g.Nodes[holder], site)
		if len(finis) > 0 {
			a := g.atExitNode(m, exitNode)
			for _, t := range finis {
				g.addEdge(a, t, frame.CallSite{Kind: frame.Call}, MethodLibcStart)
			}
			g.addEdge(starter, a, frame.CallSite{Addr: site.Addr, Kind: frame.Call, Depth: site.Depth}, MethodLibcStart)
		}
	} else {
		// main's call was not found: main is one more target of the
		// summary's indirect calls, and the code that calls it stays
		// as it was (its calls get the address-taken set).
		for _, cs := range l.Frame.Calls {
			if cs.Kind.Indirect() && !cs.HasSlot {
				g.addEdge(s, mainNode, cs, MethodLibcStart)
			}
		}
	}
	// The entry calls the summary instead.
	for i, e := range g.Nodes[caller].Edges {
		if e.Site == ps.Site && e.To == lsm {
			g.Nodes[caller].Edges[i].To = s
		}
	}
	return s, true
}

// cloneNode adds a copy of node id (its frame and function, no edges) under
// name, marked as a summary.
func (g *Graph) cloneNode(id int, name string) int {
	n := g.Nodes[id]
	c := &Node{Module: n.Module, Func: n.Func, name: name, Frame: n.Frame, Summary: MethodLibcStart.String()}
	g.Nodes = append(g.Nodes, c)
	return len(g.Nodes) - 1
}

// nodeAt returns the node of the function of m that starts at addr, or of
// the code there (a stripped static musl program has no FDE for it).
func (g *Graph) nodeAt(m *Module, addr uint64) (int, bool) {
	if fi, ok := m.File.FunctionIndex(addr); ok {
		return g.nodeFor(m, fi), true
	}
	return g.codeNode(m, addr)
}

// mainCallSite finds, in node id's code, the indirect call whose result is
// passed to exit: `call *reg; mov edi,eax; call exit`, the shape of
// exit(main(argc, argv, envp)) in glibc's __libc_start_call_main and musl's
// libc_start_main_stage2.
func (g *Graph) mainCallSite(id int) (frame.CallSite, int) {
	n := g.Nodes[id]
	if n.Func == nil || n.Module == nil {
		return frame.CallSite{}, -1
	}
	for _, cs := range n.Frame.Calls {
		if cs.Kind != frame.IndirectCall || cs.HasSlot {
			continue
		}
		code, err := n.Module.File.Code(cs.Addr, 32)
		if err != nil {
			continue
		}
		e, err := g.Decoder.Decode(code, cs.Addr)
		if err != nil || e.Len <= 0 || e.Len >= len(code) {
			continue
		}
		next, err := g.Decoder.Decode(code[e.Len:], cs.Addr+uint64(e.Len))
		if err != nil || next.Len <= 0 || next.DefKind != isa.DefCopy || next.DefReg != regRDI || next.DefSrc != regRAX {
			continue
		}
		after, err := g.Decoder.Decode(code[e.Len+next.Len:], cs.Addr+uint64(e.Len+next.Len))
		if err != nil || (after.Flow != isa.FlowCall && after.Flow != isa.FlowJump && !(after.Flow == isa.FlowIndirectCall && after.HasSlot)) {
			continue
		}
		return cs, id
	}
	return frame.CallSite{}, -1
}

// exitAfter returns the node the call right after main's call goes to
// (exit), or -1.
func (g *Graph) exitAfter(n *Node, site frame.CallSite) int {
	best := -1
	var at uint64
	for _, e := range n.Edges {
		if e.Site > site.Addr && (best < 0 || e.Site < at) && e.Method != MethodLazy {
			best, at = e.To, e.Site
		}
	}
	return best
}

// atExitNode is the node standing for exit's handlers: its frame is the
// depth exit's code reaches before it calls through a pointer (where the
// handlers run), plus, when m is a shared library (a dynamic program),
// the depth ld.so's _dl_fini reaches before it calls the .fini_array.
func (g *Graph) atExitNode(m *Module, exit int) int {
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, name: "[exit handlers]", Frame: g.exitHandlersFrame(m, exit), Summary: MethodLibcStart.String()})
	g.exitHandlers = append(g.exitHandlers, exitHandlers{node: id, m: m, exit: exit})
	return id
}

// exitHandlers is an [exit handlers] node, with what its frame is made
// from.
type exitHandlers struct {
	node int
	m    *Module
	exit int
}

// refreshExitHandlers makes the [exit handlers] nodes' frames again once
// the runtime models have changed frames on the way (ModelRuntime:
// _dl_fini's arrays bounded by the number of loaded objects).
func (g *Graph) refreshExitHandlers() {
	for _, x := range g.exitHandlers {
		g.Nodes[x.node].Frame = g.exitHandlersFrame(x.m, x.exit)
	}
}

// exitHandlersFrame is the frame of the [exit handlers] node (see
// atExitNode).
func (g *Graph) exitHandlersFrame(m *Module, exit int) frame.Frame {
	fr := frame.Frame{Kind: frame.Static}
	note := func(why string) {
		if fr.Kind == frame.Static {
			fr.Kind, fr.Reason = frame.Unknown, why
		}
	}
	if exit < 0 {
		note("the exit handlers: the call to exit after main's was not found")
	} else {
		d, ok, why := g.depthToIndirect(exit, map[int]int64{}, map[int]bool{})
		if !ok {
			note("the exit handlers: " + why)
		}
		fr.Size += max(d, 0)
	}
	if m != g.Modules[0] {
		if fini, ok := g.rtldFini(); ok {
			d, ok, why := g.depthToIndirect(fini, map[int]int64{}, map[int]bool{})
			if !ok {
				note("the .fini_array, run by ld.so's _dl_fini: " + why)
			}
			fr.Size += max(d, 0)
		} else {
			note("the .fini_array is run by ld.so's _dl_fini, which was not found at ld.so's entry")
		}
	}
	return fr
}

// depthToIndirect is the most bytes below its caller's SP that node id's
// code, with the functions of its module it calls directly, reaches at an
// indirect call (each function counts its whole frame), or -1 when no
// indirect call is below it. Not ok when a frame on the way is not static
// or a recursion is on the way.
func (g *Graph) depthToIndirect(id int, memo map[int]int64, active map[int]bool) (int64, bool, string) {
	const failed = -2
	if v, ok := memo[id]; ok {
		return v, v != failed, "recursion or a frame that is not static on the way"
	}
	n := g.Nodes[id]
	if active[id] {
		// A recursion that reaches no indirect call (ld.so's
		// dfs_traversal under _dl_fini's sort) is over before any
		// handler runs: it adds nothing to the depth at one.
		if !g.reachesIndirect(id, map[int]bool{}) {
			return -1, true, ""
		}
		return 0, false, fmt.Sprintf("recursion through %s", n.Name())
	}
	best := int64(-1)
	if g.callsIndirect(n) {
		best = 0
	}
	active[id] = true
	defer delete(active, id)
	for _, e := range n.Edges {
		if !g.followsToIndirect(n, e) {
			continue
		}
		d, ok, why := g.depthToIndirect(e.To, memo, active)
		if !ok {
			memo[id] = failed
			return 0, false, why
		}
		if d > best {
			best = d
		}
	}
	if best < 0 {
		memo[id] = -1
		return -1, true, ""
	}
	if n.Frame.Kind != frame.Static {
		memo[id] = failed
		return 0, false, fmt.Sprintf("%s's frame is %s", n.Name(), n.Frame.Kind)
	}
	v := best + n.Frame.Size
	memo[id] = v
	return v, true, ""
}

// callsIndirect says whether node n makes a call that depthToIndirect
// counts as one through a pointer (a handler may run there).
func (g *Graph) callsIndirect(n *Node) bool {
	if len(n.Unresolved) > 0 || len(n.Assumed) > 0 {
		return true
	}
	return slices.ContainsFunc(n.Frame.Calls, func(cs frame.CallSite) bool { return cs.Kind.Indirect() && !cs.HasSlot })
}

// followsToIndirect says whether depthToIndirect follows edge e of n: a
// direct call inside n's module.
func (g *Graph) followsToIndirect(n *Node, e Edge) bool {
	to := g.Nodes[e.To]
	return to.Module == n.Module && !to.Hub && !to.External && to.Summary == "" && e.Method == MethodDirect
}

// reachesIndirect says whether node id, or a function it reaches the way
// depthToIndirect follows calls, calls through a pointer.
func (g *Graph) reachesIndirect(id int, seen map[int]bool) bool {
	if seen[id] {
		return false
	}
	seen[id] = true
	n := g.Nodes[id]
	if g.callsIndirect(n) {
		return true
	}
	for _, e := range n.Edges {
		if g.followsToIndirect(n, e) && g.reachesIndirect(e.To, seen) {
			return true
		}
	}
	return false
}

// rtldFini finds ld.so's _dl_fini: the address ld.so's own entry code puts
// in rdx before it jumps to the program's entry (the rtld_fini argument
// of _start, which __libc_start_main registers with atexit).
func (g *Graph) rtldFini() (int, bool) {
	for _, lib := range g.Modules[1:] {
		f := lib.File
		if !strings.HasPrefix(lib.Name, "ld-linux") && !strings.HasPrefix(lib.Name, "ld-") {
			continue
		}
		addr := f.Entry
		for hop := 0; hop < 4; hop++ {
			regs, site, ok := straightLine(f, g.Decoder, addr, 64)
			if !ok {
				break
			}
			if site.Flow == isa.FlowIndirectJump {
				if v, ok := regs[regRDX]; ok {
					id, ok := g.nodeAt(lib, v)
					g.resolvePending()
					return id, ok
				}
				break
			}
			// Past the call (to _dl_start): the code after it is the
			// jump to the program.
			addr = site.Addr + uint64(callLen(f, g.Decoder, site.Addr))
		}
	}
	return 0, false
}

func callLen(f *binfile.File, dec isa.Decoder, addr uint64) int {
	code, err := f.Code(addr, 16)
	if err != nil {
		return 1
	}
	e, err := dec.Decode(code, addr)
	if err != nil || e.Len <= 0 {
		return 1
	}
	return e.Len
}

func isIndirectSite(n *Node, site uint64) bool {
	for _, cs := range n.Frame.Calls {
		if cs.Addr == site {
			return cs.Kind.Indirect() && !cs.HasSlot
		}
	}
	return false
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func without(cs []frame.CallSite, site uint64) []frame.CallSite {
	var out []frame.CallSite
	for _, c := range cs {
		if c.Addr != site {
			out = append(out, c)
		}
	}
	return out
}

func withoutAssumed(as []Assumption, site uint64) []Assumption {
	var out []Assumption
	for _, a := range as {
		if a.Site != site {
			out = append(out, a)
		}
	}
	return out
}
