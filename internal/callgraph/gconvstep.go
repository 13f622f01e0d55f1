package callgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"golang.org/x/arch/x86/x86asm"
)

// Character-set conversion steps of a program whose locale stays "C".
//
// glibc converts between multibyte and wide characters through gconv
// steps (struct __gconv_step): a wide stream's codecvt (__libio_codecvt_
// out, _in, _length), wcrtomb, mbrtowc, btowc, wctob, the wcsmbs string
// functions and iconv's __gconv all call a step's __fct (btowc its
// __btowc_fct), and each step function calls the next step's. Where the
// step comes from decides the target (glibc 2.36's source):
//   - the C locale's steps are static objects of wcsmbs/wcsmbsload.c
//     (to_wc and to_mb, held by __wcsmbs_gconv_fcts_c);
//   - any other conversion comes from __gconv_find_transform: a builtin
//     one copies its functions from gconv_builtin.c's table (struct
//     builtin_map), any other is a module loaded with dlopen
//     (__gconv_find_shlib), whose functions the analysis cannot see.
//
// Four models, all assumptions about glibc (premises, off with --strict),
// all undone when the code that breaks them becomes reachable from the
// program's roots (the fixpoint of ModelReachableTables: they start
// narrowed, which is sound because the first call of the function that
// breaks them comes before any step it could make):
//
//  1. c-locale: get_gconv_fcts (wcsmbsload.h) calls __wcsmbs_load_conv
//     only for LC_CTYPE data other than the C locale's (_nl_C_LC_CTYPE),
//     and a program's LC_CTYPE data changes only through setlocale (the
//     global locale), uselocale (the thread's) or a locale_t made by
//     newlocale or duplocale and passed to an *_l function. While none of
//     those (localeChangers) is reachable, libc's direct calls of
//     __wcsmbs_load_conv are cut. By the same rule __dcigettext looks
//     for no message catalog: guess_category_value returns the category's
//     locale name, "C", and __dcigettext stops before _nl_find_domain.
//  2. gconv steps: a call whose target the code loads from a step's
//     __fct or __btowc_fct member (offsets from libc's DWARF; the call
//     site found from the code by gconvStepCalls) goes to the functions
//     the static objects hold in that member (read with their
//     relocations), while __gconv_find_shlib is not reachable. Once it
//     is, the calls become unresolved, naming the gconv modules: no
//     address-taken set of the loaded files holds a module's functions.
//     That no other code writes a step's functions is glibc's source
//     (gconv_db.c, gconv_cache.c, gconv_builtin.c, wcsmbsload.c), not a
//     proof from the code. While __gconv_find_transform (the only maker
//     of other steps, builtin or module) is not reachable, the calls go
//     to the C locale's steps' functions alone (to_wc's, to_mb's); once
//     it is, gconv_builtin.c's table's too.
//  3. one-step chains: a step function calls the next step's function
//     (loaded from step+1) only when its step data lacks __GCONV_IS_LAST
//     (skeleton.c). While __gconv_find_transform is not reachable, every
//     conversion is one of the C locale's one-step chains, flagged last
//     by its users (iofwide.c, the wcsmbs functions): those calls are
//     cut, the premise on the step function. Without this cut every step
//     function would be a recursion through the step node.
//  4. transliteration in the C locale (gconvtranslit.go): what
//     __gconv_transliterate converts is the C locale's ASCII replacement
//     text, which does not call it again.
//
// Without libc's debug file (names, DWARF) nothing is changed.

// PremiseCLocale is the kind of the premise that the program's locale
// stays "C" (model 1 above).
const PremiseCLocale = "c-locale"

// localeChangers are glibc's functions that install locale data other
// than the C locale's (or make a locale_t that can hold it).
var localeChangers = []string{"setlocale", "__newlocale", "newlocale", "__duplocale", "duplocale", "__uselocale", "uselocale"}

// premiseCLocale is the detail of the c-locale premise.
const premiseCLocale = "the locale stays \"C\": no function that changes it (setlocale, newlocale, duplocale, uselocale) is reachable, " +
	"so LC_CTYPE's data is the C locale's, whose conversion steps are libc's static ones (glibc 2.36's get_gconv_fcts calls " +
	"__wcsmbs_load_conv only for other data), and gettext looks for no message catalog (a category whose locale is \"C\")"

// premiseGconvStep is the detail of the step premise, while no step
// comes from __gconv_find_transform (premiseGconvBuiltin once one can).
const premiseGconvStep = "a gconv step is one of the C locale's static steps (%s): glibc 2.36 makes every other one in " +
	"__gconv_find_transform (not reachable), from gconv_builtin.c's table or a gconv module loaded with dlopen"

const premiseGconvBuiltin = "a gconv step's function (__fct, __btowc_fct) is one that libc's static steps hold (%s): glibc 2.36 " +
	"writes them only from those objects or from a gconv module loaded with dlopen (__gconv_find_shlib, not reachable)"

// premiseOneStep is the detail of the premise that a step function does
// not call the next step (model 3).
const premiseOneStep = "a gconv step function does not call the next step: glibc 2.36's skeleton.c calls it only when the step " +
	"data lacks __GCONV_IS_LAST, and while __gconv_find_transform is not reachable every conversion is one of the C locale's " +
	"one-step chains (wcsmbsload.c: towc_nsteps = tomb_nsteps = 1), whose users flag their one step's data last " +
	"(libio/iofwide.c, the wcsmbs functions)"

// whyGconvModule is the reason of the node the step calls go to once a
// module can be loaded: one reason for all of them (there are about 40
// such calls in libc), not one per call.
const whyGconvModule = "a gconv step's function can be a gconv module's, loaded with dlopen (__gconv_find_shlib is reachable): " +
	"glibc's iconv modules (gconv-modules, e.g. /usr/lib/x86_64-linux-gnu/gconv) are not analysed"

// gconvModulesName names that node.
const gconvModulesName = "[gconv modules' step functions: loaded with dlopen, not analysed]"

// gconvCut is the two models applied to libc.
type gconvCut struct {
	g *Graph
	// changers are the locale changers' nodes; loadCuts the cut calls of
	// __wcsmbs_load_conv and _nl_find_domain, given back once one is
	// reached.
	changers []int
	loadCuts []gconvEdgeCut
	// shlib is __gconv_find_shlib's node; sites the step calls.
	shlib      int
	sites      []cutSite
	localeDone bool
	stepsDone  bool
	// transform is __gconv_find_transform's node (-1: none); nexts the
	// step functions' calls of the next step, cut while it is not
	// reached (model 3); hubs the nodes of the two members' functions.
	transform  int
	nexts      []gconvNextCut
	hubs       [2]int
	modNode    int // (modules; -1: not made)
	chainsDone bool
	tr         *gconvTranslit // model 4 (gconvtranslit.go)
	m          *Module
	l          *gconvLayout
}

// gconvNextCut is a step function's call of the next step's function
// (member k: 0 __fct, 1 __btowc_fct), cut by model 3.
type gconvNextCut struct {
	id int
	cs frame.CallSite
	k  int
}

// gconvEdgeCut is one direct call edge cut by the c-locale model.
type gconvEdgeCut struct {
	from int
	e    Edge
}

func (c *gconvCut) update(reached []bool) bool {
	changed := false
	// A reached call whose targets are not known (a missing library's
	// function), or a pointer from dlsym (dlsym(RTLD_DEFAULT,
	// "setlocale"): see dlsym.go), may call any of the functions the
	// models watch: every model is undone.
	_, lookup := c.g.lookupReached(reached)
	unknown := reachesUnknownCode(c.g, reached) || lookup
	if !c.localeDone && (unknown || slices.ContainsFunc(c.changers, func(id int) bool { return id < len(reached) && reached[id] })) {
		c.localeDone, changed = true, true
		for _, lc := range c.loadCuts {
			n := c.g.Nodes[lc.from]
			n.Edges = append(n.Edges, lc.e)
			n.Premises = slices.DeleteFunc(n.Premises, func(p Premise) bool { return p.Kind == PremiseCLocale })
		}
	}
	isReached := func(id int) bool { return unknown || id >= 0 && id < len(reached) && reached[id] }
	if c.tr != nil && !c.tr.done && (c.localeDone || isReached(c.shlib) || isReached(c.transform)) {
		c.undoTranslit()
		changed = true
	}
	if !c.stepsDone && isReached(c.shlib) {
		c.stepsDone, c.chainsDone, changed = true, true, true
		unresolve := func(id int, cs frame.CallSite) {
			n := c.g.Nodes[id]
			n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == cs.Addr })
			n.Premises = slices.DeleteFunc(n.Premises, func(p Premise) bool { return p.Detail == premiseOneStep })
			c.g.addEdge(id, c.modules(), cs, MethodGconvModule)
		}
		for _, s := range c.sites {
			unresolve(s.id, s.cs)
		}
		for _, s := range c.nexts {
			unresolve(s.id, s.cs)
		}
	}
	if !c.chainsDone && isReached(c.transform) {
		c.chainsDone, changed = true, true
		for k, hub := range c.hubs {
			if hub >= 0 {
				c.g.fillGconvHub(c.m, c.l, k, hub, true)
			}
		}
		for _, s := range c.nexts {
			n := c.g.Nodes[s.id]
			n.Premises = slices.DeleteFunc(n.Premises, func(p Premise) bool { return p.Detail == premiseOneStep })
			c.g.addEdge(s.id, c.hub(s.k), s.cs, MethodGconvStep)
		}
	}
	return changed
}

// settled: every model of the four is undone.
func (c *gconvCut) settled() bool {
	return c.localeDone && c.stepsDone && c.chainsDone && (c.tr == nil || c.tr.done)
}

// modules is the node that stands for the step functions of gconv
// modules, which the analysis does not see: unknown, with one reason.
func (c *gconvCut) modules() int {
	if c.modNode < 0 {
		c.modNode = len(c.g.Nodes)
		c.g.Nodes = append(c.g.Nodes, &Node{Module: c.m, name: gconvModulesName,
			Frame: frame.Frame{Kind: frame.Unknown, Reason: whyGconvModule}})
	}
	return c.modNode
}

// hub is the node of member k's functions, made on first use.
func (c *gconvCut) hub(k int) int {
	if c.hubs[k] < 0 {
		c.hubs[k] = len(c.g.Nodes)
		c.g.Nodes = append(c.g.Nodes, &Node{Module: c.m, Hub: true, Frame: frame.Frame{Kind: frame.Static}})
		c.g.fillGconvHub(c.m, c.l, k, c.hubs[k], c.chainsDone)
	}
	return c.hubs[k]
}

// gconvModel applies the models to module m (libc), or returns nil.
func (g *Graph) gconvModel(m *Module) *gconvCut {
	if g.opts.Strict || g.Arch != binfile.ArchX86_64 {
		return nil
	}
	load, ok := m.File.Lookup("__wcsmbs_load_conv")
	if !ok {
		return nil
	}
	c := &gconvCut{g: g, shlib: -1, transform: -1, hubs: [2]int{-1, -1}, modNode: -1, m: m}
	if fn, ok := m.File.Lookup("__gconv_find_shlib"); ok {
		fi, _ := m.File.FunctionIndex(fn.Addr)
		c.shlib = g.nodeFor(m, fi)
	}
	if fn, ok := m.File.Lookup("__gconv_find_transform"); ok {
		fi, _ := m.File.FunctionIndex(fn.Addr)
		c.transform = g.nodeFor(m, fi)
	}
	// Without __gconv_find_transform to watch, steps from gconv_builtin.c
	// are not ruled out: the hubs hold them, and next steps are called.
	c.chainsDone = c.transform < 0
	for _, name := range localeChangers {
		if fn, ok := m.File.Lookup(name); ok {
			fi, _ := m.File.FunctionIndex(fn.Addr)
			if id := g.nodeFor(m, fi); !slices.Contains(c.changers, id) {
				c.changers = append(c.changers, id)
			}
		}
	}
	if len(c.changers) == 0 {
		return nil
	}
	c.cutLocaleCalls(m, load)
	c.cutStepCalls(m)
	c.cutTranslit(m)
	if len(c.loadCuts) == 0 && len(c.sites) == 0 && len(c.nexts) == 0 {
		return nil
	}
	return c
}

// cutLocaleCalls cuts the direct calls of __wcsmbs_load_conv from libc's
// nodes, and __dcigettext's of _nl_find_domain.
func (c *gconvCut) cutLocaleCalls(m *Module, load *binfile.Function) {
	g := c.g
	targets := map[uint64]string{load.Addr: ""}
	dci, okDci := m.File.Lookup("__dcigettext")
	for _, name := range []string{"_nl_find_domain", "_nl_find_msg"} {
		if fn, ok := m.File.Lookup(name); ok && okDci {
			targets[fn.Addr] = dci.Name()
		}
	}
	for _, id := range g.sortedNodes(m) {
		n := g.Nodes[id]
		if n.Func == nil || n.Hub || n.Summary != "" {
			continue
		}
		cut := false
		n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool {
			to := g.Nodes[e.To]
			if to.Module != m || to.Func == nil || e.Method != MethodDirect {
				return false
			}
			only, ok := targets[to.Func.Addr]
			if !ok || only != "" && n.Func.Addr != dci.Addr {
				return false
			}
			c.loadCuts = append(c.loadCuts, gconvEdgeCut{id, e})
			cut = true
			return true
		})
		if cut {
			n.Premises = append(n.Premises, Premise{Kind: PremiseCLocale, Site: n.Func.Addr, Detail: premiseCLocale})
		}
	}
}

// cutStepCalls gives the calls through a step's function the static
// steps' functions, through one node per member, and cuts a step
// function's calls of the next step's (model 3) while no step can come
// from __gconv_find_transform.
func (c *gconvCut) cutStepCalls(m *Module) {
	g := c.g
	l := gconvLayoutOf(m)
	if l == nil {
		return
	}
	c.l = l
	for _, id := range g.sortedNodes(m) {
		n := g.Nodes[id]
		if n.Func == nil || n.Hub || n.Summary != "" || !handlesStep(l.users, n.Func.Addr) {
			continue
		}
		var sites []frame.CallSite
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() && !cs.HasSlot && onlyAddressTaken(n, cs.Addr) {
				sites = append(sites, cs)
			}
		}
		if len(sites) == 0 {
			continue
		}
		held := g.sharedStepCalls(m, n, l)
		for _, cs := range sites {
			sc, ok := held[cs.Addr]
			if !ok {
				continue
			}
			if sc.next && !c.chainsDone {
				g.cut(id, cs)
				c.nexts = append(c.nexts, gconvNextCut{id, cs, sc.member})
				if !slices.ContainsFunc(n.Premises, func(p Premise) bool { return p.Detail == premiseOneStep }) {
					n.Premises = append(n.Premises, Premise{Kind: PremiseGlibcModel, Site: n.Func.Addr, Detail: premiseOneStep})
				}
				continue
			}
			c.sites = append(c.sites, g.cut(id, cs))
			g.addEdge(id, c.hub(sc.member), cs, MethodGconvStep)
		}
	}
}

// gconvStepKey names gconvStepCalls' answer for one function in
// binfile.Derived. The answer reads the node's function, its file (code,
// DWARF layout, the callees that never return) and, through decodeLinear's
// tailJump, its frame's jump tables and indirect tail calls: tails names
// those, so that a frame a model changed (modelCountedLoop changes only
// depths) never shares another frame's answer; strict, what
// jumpTableTargets reads of the options.
type gconvStepKey struct {
	dec    isa.Decoder
	strict bool
	fn     uint64 // the function's address and size
	size   uint64
	tails  string
}

// sharedStepCalls is gconvStepCalls made once per file and function for
// every program of the run that links the file (issue 19: libc's step
// users were read again for every program). The map is shared: read it
// only.
func (g *Graph) sharedStepCalls(m *Module, n *Node, l *gconvLayout) map[uint64]gconvStepCall {
	if n.Func == nil {
		return nil
	}
	key := gconvStepKey{dec: g.Decoder, strict: g.opts.Strict, fn: n.Func.Addr, size: n.Func.Size, tails: tailJumpShape(n)}
	return binfile.Derived(m.File, key, func() map[uint64]gconvStepCall { return g.gconvStepCalls(m, n, l) })
}

// tailJumpShape names what tailJump reads of n's frame: its jump tables
// (then no jump is a tail call) or the sites of its indirect tail calls.
// Results shared across programs that depend on tailJump are keyed by it.
func tailJumpShape(n *Node) string {
	if n.Frame.JumpTables != 0 {
		return "tables"
	}
	var b strings.Builder
	for _, cs := range n.Frame.Calls {
		if cs.Kind == frame.IndirectTailCall {
			fmt.Fprintf(&b, "%x ", cs.Addr)
		}
	}
	return b.String()
}

// onlyAddressTaken says whether the call at site has only the
// address-taken set's edge: an annotated or proved target stays.
func onlyAddressTaken(n *Node, site uint64) bool {
	any := false
	for _, e := range n.Edges {
		if e.Site == site {
			if e.Method != MethodAddressTaken {
				return false
			}
			any = true
		}
	}
	return any
}

// fillGconvHub gives hub the functions of member k (0 __fct, 1
// __btowc_fct) that the C locale's static steps hold, and with builtin
// those of gconv_builtin.c's table too, with its name and premise.
func (g *Graph) fillGconvHub(m *Module, l *gconvLayout, k, hub int, builtin bool) {
	what := "conversion"
	if k == 1 {
		what = "single-byte"
	}
	kinds, detail := 1, premiseGconvStep
	if builtin {
		kinds, detail = 2, premiseGconvBuiltin
	}
	h := g.Nodes[hub]
	var objects []string
	for kind := 0; kind < kinds; kind++ {
		objects = append(objects, l.objects[kind]...)
		words := l.fcts[kind]
		if k == 1 {
			words = l.btowcs[kind]
		}
		for _, w := range words {
			fi, ok := m.File.FunctionIndex(w)
			if !ok {
				continue
			}
			to := g.nodeFor(m, fi)
			if !slices.ContainsFunc(h.Edges, func(e Edge) bool { return e.To == to }) {
				h.Edges = append(h.Edges, Edge{To: to, Kind: frame.Call, Method: MethodGlibcModel})
			}
		}
	}
	h.Premises = []Premise{{Kind: PremiseGlibcModel, Detail: fmt.Sprintf(detail, strings.Join(objects, ", "))}}
	h.name = fmt.Sprintf("[gconv step %s functions: %d of libc's static steps]", what, len(h.Edges))
}

// What a register or stack word holds, for gconvStepCalls.
const (
	stepOther     uint8 = iota
	stepFct             // a word loaded from a step's __fct
	stepBtowc           // from its __btowc_fct
	stepNextFct         // the next step's (step+1) __fct
	stepNextBtowc       // the next step's __btowc_fct
	stepNull            // the constant 0: a step function's fct before it
	// reads the next step's (NULL when the step is the last); a call
	// through it would fault, not call anything, so it joins with either
	stepUndef // a word of the frame this path has not written yet (see meet)
)

// joinStep is what a register or word holds where two paths meet.
func joinStep(a, b uint8) uint8 {
	switch {
	case a == b:
		return a
	case a == stepUndef:
		return b
	case b == stepUndef:
		return a
	case a == stepNull && b >= stepFct && b <= stepNextBtowc:
		return b
	case b == stepNull && a >= stepFct && a <= stepNextBtowc:
		return a
	}
	return stepOther
}

// stepState is one point's knowledge: registers, and the stack words at
// offsets from SP at the function's entry while SP's move is known.
type stepState struct {
	regs  [16]uint8
	sp    int64
	spOK  bool
	slots map[int64]uint8
}

// slotAt is what the stack word at k holds: stepUndef for a word of the
// function's own frame that no instruction on the way wrote.
func (s stepState) slotAt(k int64) uint8 {
	if v, ok := s.slots[k]; ok {
		return v
	}
	if k < 0 {
		return stepUndef
	}
	return stepOther
}

func (s stepState) clone() stepState {
	c := s
	c.slots = make(map[int64]uint8, len(s.slots))
	for k, v := range s.slots {
		c.slots[k] = v
	}
	return c
}

// meet keeps what both states agree on; it says whether s lost anything.
func (s *stepState) meet(o stepState) bool {
	changed := false
	for r := range s.regs {
		if j := joinStep(s.regs[r], o.regs[r]); j != s.regs[r] {
			s.regs[r] = j
			changed = true
		}
	}
	if s.spOK && (!o.spOK || o.sp != s.sp) {
		s.spOK = false
		changed = true
	}
	if !s.spOK {
		if len(s.slots) > 0 {
			clear(s.slots)
			changed = true
		}
		return changed
	}
	// A word of the function's own frame (below SP at its entry) that
	// one path never wrote is one that path does not read: compiled code
	// reads a spill slot only after the spill.
	for k, v := range s.slots {
		w, ok := o.slots[k]
		if !ok && k >= 0 {
			w = stepOther
		} else if !ok {
			w = v
		}
		if j := joinStep(v, w); j != v {
			s.slots[k] = j
			changed = true
		}
	}
	for k, w := range o.slots {
		if _, ok := s.slots[k]; !ok {
			if k >= 0 {
				w = stepOther
			}
			s.slots[k] = w
			changed = changed || w != stepOther
		}
	}
	return changed
}

// gconvStepCalls reads node n's function forward from its entry over every
// path (decodeLinear's branches and jump tables, the cold part's jumps
// back), what each register and stack word holds: a word loaded from
// [reg+d] with d a step's __fct or __btowc_fct offset, or the same member
// of the step after it (a step function's next step, step+1), kept by
// glibc's PTR_DEMANGLE (ror $0x11; xor %fs:0x30), moves, spills to the
// stack and reloads. A value is kept only when every path agrees; a call
// loses the caller-saved registers, any other write (the decoder's
// MayWrite, a superset) the register, a store to the stack the words it
// covers. It returns the indirect calls whose target holds such a word,
// with the member (0 __fct, 1 __btowc_fct), and only when the function
// demangles such a word somewhere: glibc mangles a step's functions.
// That alone does not make the word a step's (struct unwind_link's
// personality routine is mangled at the same offset): cutStepCalls asks
// only the functions whose DWARF shows they handle a step (gconvusers.go).
// A direct call of a function that never returns has no successor, and a
// store of the constant 0 to a stack word is a NULL fct (skeleton.c keeps
// fct = NULL in a spill slot until it reads the next step's).
func (g *Graph) gconvStepCalls(m *Module, n *Node, l *gconvLayout) map[uint64]gconvStepCall {
	rw, ok := g.Decoder.(isa.RegWriter)
	if !ok || n.Func == nil {
		return nil
	}
	lf, ok := g.linearFlow(m, n, true)
	if !ok {
		return nil
	}
	insts, at, succ, outside := lf.insts, lf.at, lf.succ, lf.outside
	member := func(disp int64) uint8 {
		switch disp {
		case l.fct:
			return stepFct
		case l.btowc:
			return stepBtowc
		case l.fct + l.stepSize:
			return stepNextFct
		case l.btowc + l.stepSize:
			return stepNextBtowc
		}
		return stepOther
	}
	demangled := false
	// rbp is a frame pointer only in a function that sets it from SP;
	// elsewhere a store through it is no store to the frame.
	setsFP := slices.ContainsFunc(insts, func(in linearInst) bool { return in.e.SetsFP })
	states := make([]*stepState, len(insts))
	entry := &stepState{spOK: true, slots: map[int64]uint8{}}
	states[0] = entry
	for _, a := range outside {
		i, ok := at[a]
		if !ok {
			return nil
		}
		states[i] = &stepState{slots: map[int64]uint8{}}
	}
	// transfer is what instruction i makes of s, whose stack words it
	// shares with the state it came from: it copies them before it
	// writes one (most instructions write none), and says whether its
	// answer's words are its own. (Each instruction's state copied its
	// words twice, before transfer and for a successor: half of
	// gconvStepCalls' time, about 0.007 s of node's models; issue 19.)
	transfer := func(i int, s stepState) (stepState, bool) {
		owned := false
		own := func() {
			if !owned {
				s, owned = s.clone(), true
			}
		}
		e := insts[i].e
		if e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall {
			for r := range s.regs {
				if callerSaved&(1<<uint(r)) != 0 {
					s.regs[r] = stepOther
				}
			}
			return s, false
		}
		code, err := m.File.Code(insts[i].addr, uint64(e.Len))
		if err != nil {
			return stepState{slots: map[int64]uint8{}}, true
		}
		held, def := stepOther, int8(-1)
		keep := int8(-1) // a register PTR_DEMANGLE rewrites in place
		switch {
		case e.DefKind == isa.DefLoad && e.Access == isa.BaseSP && e.AccessSize == 8 && e.DefReg >= 0 && e.DefReg < 16:
			def = e.DefReg
			if s.spOK {
				held = s.slotAt(s.sp + e.AccessOff)
			}
		case e.DefKind == isa.DefLoad && e.HasMem && e.MemIndex < 0 && e.DefReg >= 0 && e.DefReg < 16:
			def = e.DefReg
			switch {
			case e.MemBase == rsp:
				if s.spOK {
					held = s.slotAt(s.sp + e.MemDisp)
				}
			case e.MemBase >= 0 && e.MemBase < 16:
				held = member(e.MemDisp)
			}
		case e.DefKind == isa.DefConst && e.DefValue == 0 && e.DefReg >= 0 && e.DefReg < 16:
			def, held = e.DefReg, stepNull
		case e.DefKind == isa.DefCopy && e.DefValue != 32 && e.DefReg >= 0 && e.DefReg < 16 && e.DefSrc >= 0 && e.DefSrc < 16:
			def, held = e.DefReg, s.regs[e.DefSrc]
		}
		mask := rw.MayWrite(code, insts[i].addr)
		if def < 0 && mask != 0 {
			for r := range s.regs {
				if s.regs[r] >= stepFct && s.regs[r] <= stepNextBtowc && mask == 1<<uint(r) && isDemangle(code, r) {
					keep = int8(r)
					demangled = true
				}
			}
		}
		// Stack words: a store of a register, a push; any other write
		// to the stack loses the words it may cover.
		switch {
		case e.SP == isa.SPAdd:
			s.sp += e.SPDelta
			if e.SPDelta < 0 && s.spOK {
				own()
				for k := s.sp - 7; k < s.sp-e.SPDelta; k++ {
					if _, ok := s.slots[k]; ok {
						s.slots[k] = stepOther
					}
				}
				s.slots[s.sp] = stepOther
				if e.HasStore && e.StoreSrc >= 0 && e.StoreSrc < 16 && e.SPDelta == -8 {
					s.slots[s.sp] = s.regs[e.StoreSrc]
				}
			}
		case e.SP != isa.SPNone:
			s.spOK = false
			own()
			clear(s.slots)
		}
		if e.Access == isa.BaseSP && e.DefKind != isa.DefLoad && s.spOK {
			own()
			lo, hi := s.sp+e.AccessOff, s.sp+e.AccessOff+max(e.AccessSize, 1)
			for k := range s.slots {
				if k < hi && k+8 > lo {
					s.slots[k] = stepOther
				}
			}
			switch {
			case e.HasStore && e.AccessSize == 8 && e.StoreSrc >= 0 && e.StoreSrc < 16:
				s.slots[lo] = s.regs[e.StoreSrc]
			case e.AccessSize == 8 && storesZero(code):
				s.slots[lo] = stepNull // skeleton.c's fct = NULL, kept on the stack
			}
		}
		if e.Access == isa.BaseFP && e.DefKind != isa.DefLoad && setsFP {
			own()
			clear(s.slots) // the frame pointer's offset from SP is not followed
		}
		for r := range s.regs {
			if mask&(1<<uint(r)) != 0 && int8(r) != keep {
				s.regs[r] = stepOther
			}
		}
		if def >= 0 {
			s.regs[def] = held
		}
		return s, owned
	}
	work := []int{0}
	for _, a := range outside {
		work = append(work, at[a])
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		out, owned := transfer(i, *states[i])
		for _, sx := range succ[i] {
			if states[sx] == nil {
				// The first successor without a state takes out's own
				// words; out is only read after (meet reads it).
				st := out
				if !owned {
					st = out.clone()
				}
				owned = false
				states[sx] = &st
				work = append(work, sx)
				continue
			}
			if states[sx].meet(out) {
				work = append(work, sx)
			}
		}
	}
	if !demangled {
		return nil
	}
	found := map[uint64]gconvStepCall{}
	for i, in := range insts {
		e, s := in.e, states[i]
		if s == nil || e.Flow != isa.FlowIndirectCall && e.Flow != isa.FlowIndirectJump {
			continue
		}
		h := stepOther
		switch {
		case e.HasCallReg && !e.HasMem && e.CallReg >= 0 && e.CallReg < 16:
			h = s.regs[e.CallReg]
		case e.HasMem && e.MemIndex < 0 && e.MemBase == rsp && s.spOK:
			h = s.slots[s.sp+e.MemDisp]
		}
		switch h {
		case stepFct, stepBtowc:
			found[in.addr] = gconvStepCall{member: int(h - stepFct)}
		case stepNextFct, stepNextBtowc:
			found[in.addr] = gconvStepCall{member: int(h - stepNextFct), next: true}
		}
	}
	return found
}

// gconvStepCall is a call through a step's member (0 __fct, 1
// __btowc_fct); next: the next step's (a step function's step+1).
type gconvStepCall struct {
	member int
	next   bool
}

// isDemangle says whether the instruction is one of PTR_DEMANGLE's two on
// register r (x86-64: ror $0x11,r; xor %fs:0x30,r), which keep what the
// register stands for.
func isDemangle(code []byte, r int) bool {
	in, err := x86asm.Decode(code, 64)
	if err != nil {
		return false
	}
	dst, ok := in.Args[0].(x86asm.Reg)
	if !ok || dst != x86asm.RAX+x86asm.Reg(r) {
		return false
	}
	switch in.Op {
	case x86asm.ROR:
		imm, ok := in.Args[1].(x86asm.Imm)
		return ok && imm == 0x11
	case x86asm.XOR:
		mem, ok := in.Args[1].(x86asm.Mem)
		return ok && mem.Segment == x86asm.FS && mem.Base == 0 && mem.Index == 0 && mem.Disp == 0x30
	}
	return false
}

// storesZero says whether the instruction is a store of the constant 0
// to a memory word (x86-64 movq $0x0,m), which the decoder's HasStore
// (a register's store) does not describe.
func storesZero(code []byte) bool {
	in, err := x86asm.Decode(code, 64)
	if err != nil || in.Op != x86asm.MOV || in.MemBytes != 8 {
		return false
	}
	_, toMem := in.Args[0].(x86asm.Mem)
	imm, isImm := in.Args[1].(x86asm.Imm)
	return toMem && isImm && imm == 0
}

// reachesUnknownCode says whether a reached node has an indirect call
// left unresolved or is an external function: code the graph does not
// know, which could call any function (the rule ldnloaded.go's
// loaderReached applies to loaders).
func reachesUnknownCode(g *Graph, reached []bool) bool {
	for id, r := range reached {
		if r && id < len(g.Nodes) && (g.Nodes[id].External || len(g.Nodes[id].Unresolved) > 0) {
			return true
		}
	}
	return false
}
