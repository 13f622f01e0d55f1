package threads

import (
	"fmt"
	"sort"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// pthread attribute objects, followed along each path of the propagation.
//
// A pthread_attr_t is named by its address (attrKey): a stack offset of the
// creating function, a constant (a global), or, while summarizing a helper,
// a parameter plus an offset. What the path knows of each object is in
// state.attrs; branches that disagree leave it unknown (mergeAttrs). The
// address of the object lives wherever the propagation follows values:
// callee-saved registers keep it across calls (the callee preserves them,
// the ABI says so: rbx, rbp, r12-r15 on x86-64, r4-r11 on Thumb), and stack
// slots keep it until something may write them. The object itself is memory
// whose address left the function (it went to pthread_attr_init), so any call
// the propagation does not model may change it: only the pthread functions
// below, a few C library functions that write only through the pointers they
// are given, and helpers of the analysed file whose own attribute effects are
// summarized (attrSummary) leave it known.

// attrKey names a pthread_attr_t object: a stack slot, a static address, or
// parameter n plus v (summaries only).
type attrKey struct {
	k vkind
	v int64
	n int64
}

// attrInfo is what a path knows of one attribute object. why, when set,
// says the size is not known (a call that may have changed the object, at
// whyAt; paths that disagree).
type attrInfo struct {
	size   value
	set    bool   // pthread_attr_setstacksize/setstack was called
	setter string // which
	via    string // the helpers it was called in, innermost first
	why    string
	whyAt  uint64
}

// attrLog is what a summarized helper may do to attribute objects on any
// path: the objects it sets or forgets (touched), and whether it may change
// any object at all (havoc: a call not modelled, a store through a pointer
// of unknown origin).
type attrLog struct {
	touched map[attrKey]bool
	havoc   bool
	globals bool // a write to a global whose address is not followed
}

// attrSize is sizeof(pthread_attr_t): 56 bytes on x86-64 and RV64 glibc,
// 64 on AArch64, 36 on 32-bit ARM. A store into those bytes changes the
// object.
func attrSize(ai archInfo) int64 {
	if ai.arch == archARM64 {
		return 64
	}
	if ai.word == 8 {
		return 56
	}
	return 36
}

func keyOf(v value) (attrKey, bool) {
	switch v.k {
	case vStack, vConst:
		return attrKey{k: v.k, v: v.v}, true
	case vParam:
		return attrKey{k: vParam, v: v.v, n: v.n}, true
	}
	return attrKey{}, false
}

func copyAttrs(m map[attrKey]attrInfo) map[attrKey]attrInfo {
	if m == nil {
		return nil
	}
	c := make(map[attrKey]attrInfo, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// mergeAttrs keeps what both paths know alike; an object that one path set
// and the other did not, or set differently, is unknown (a is modified).
func mergeAttrs(a, b map[attrKey]attrInfo) map[attrKey]attrInfo {
	if len(a) == 0 && len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[attrKey]attrInfo{}
	}
	for k, x := range a {
		if y, ok := b[k]; !ok || y != x {
			a[k] = mergedAttr(x, y, ok)
		}
	}
	for k, y := range b {
		if _, ok := a[k]; !ok {
			a[k] = mergedAttr(y, attrInfo{}, false)
		}
	}
	return a
}

func mergedAttr(x, y attrInfo, both bool) attrInfo {
	switch {
	case x.why != "":
		return x
	case both && y.why != "":
		return y
	}
	return attrInfo{why: "attributes set differently on the paths that reach the call"}
}

// setAttr records what a path now knows of object k.
func (s *state) setAttr(k attrKey, a attrInfo) {
	if s.attrs == nil {
		s.attrs = map[attrKey]attrInfo{}
	}
	s.attrs[k] = a
	if s.alog != nil {
		s.alog.touched[k] = true
	}
}

// forgetAttrs makes every attribute object unknown: the call of callee at
// addr may have changed them.
func (s *state) forgetAttrs(callee string, addr uint64) {
	if s.alog != nil {
		s.alog.havoc = true
	}
	why := fmt.Sprintf("the call of %s may change the attributes after they are set", callee)
	for k := range s.attrs {
		s.attrs[k] = attrInfo{why: why, whyAt: addr}
	}
}

// attrStore applies a memory write of the instruction to the attribute
// objects: one into an object's bytes makes it unknown (a struct copy, a
// memset the compiler inlined). A write through a pointer of unknown origin
// is treated as the stack words are (step keeps them) in the creating
// function, and as a change of anything in a summarized helper.
func attrStore(ai archInfo, s *state, in inst) {
	w := in.m.wr
	if !w.any || len(s.attrs) == 0 && s.alog == nil {
		return
	}
	if w.fixed {
		// a global at an address not followed here
		for k := range s.attrs {
			if k.k == vConst {
				s.forgetAttr(k, "a store may write the attributes", in.addr)
			}
		}
		if s.alog != nil {
			s.alog.globals = true
		}
		return
	}
	if w.base < 0 {
		// an index register or a segment: where is not known
		if in.m.unknownMem {
			for k := range s.attrs {
				s.forgetAttr(k, "a store to the stack that cannot be placed may write the attributes", in.addr)
			}
		}
		if s.alog != nil {
			s.alog.havoc = true
		}
		return
	}
	bk, ok := keyOf(s.regs[w.base])
	if !ok {
		if s.alog != nil {
			s.alog.havoc = true
		}
		return
	}
	size := attrSize(ai)
	for k := range s.attrs {
		if k.k != bk.k || k.n != bk.n {
			continue
		}
		if !w.hasDisp {
			s.forgetAttr(k, "a store may write the attributes", in.addr)
			continue
		}
		lo := bk.v + w.disp
		n := w.size
		if n <= 0 {
			n = 16
		}
		if lo < k.v+size && lo+n > k.v {
			s.forgetAttr(k, "a store writes the attributes", in.addr)
		}
	}
	if s.alog != nil && (bk.k == vParam || bk.k == vConst) {
		// a helper writing its argument's memory: the caller's object there
		// is no longer what it was
		if !w.hasDisp {
			s.alog.havoc = true
		} else {
			s.alog.touched[attrKey{k: vParam, n: bk.n, v: bk.v + w.disp}] = true
		}
	}
}

func (s *state) forgetAttr(k attrKey, why string, at uint64) {
	s.attrs[k] = attrInfo{why: why, whyAt: at}
	if s.alog != nil {
		s.alog.touched[k] = true
	}
}

// attrPreserving are the library functions that may be called between
// setting a thread's attributes and creating it without changing the stack
// size: the ones that only read the attributes or change other fields, and a
// few that write nothing of the caller's but through the pointer arguments
// listed (a NULL or a non-stack address there is harmless).
var attrPreserving = map[string][]int{
	"pthread_create":               nil,
	"__pthread_create_2_1":         nil,
	"pthread_join":                 {1},
	"pthread_detach":               nil,
	"pthread_self":                 nil,
	"pthread_setname_np":           nil,
	"pthread_attr_getstacksize":    {1},
	"pthread_attr_getstack":        {1, 2},
	"pthread_attr_getguardsize":    {1},
	"pthread_attr_getdetachstate":  {1},
	"pthread_attr_setdetachstate":  nil,
	"pthread_attr_setguardsize":    nil,
	"pthread_attr_setschedpolicy":  nil,
	"pthread_attr_setschedparam":   nil,
	"pthread_attr_setinheritsched": nil,
	"pthread_attr_setscope":        nil,
	"pthread_attr_setaffinity_np":  nil,
	"pthread_attr_setsigmask_np":   nil,
	"malloc":                       nil,
	"calloc":                       nil,
	"free":                         nil,
	"sysconf":                      nil,
	"getenv":                       nil,
	"atoi":                         nil,
	"atol":                         nil,
	"strtoul":                      {1},
	"strtol":                       {1},
	"strtoull":                     {1},
	"strtoll":                      {1},
}

// regArgsOnly reports a library function of the list above, or one of the
// pthread_attr functions modelled, whose arguments all go in registers (at
// most four, which fits both conventions followed): it cannot write the
// caller's stack-argument area.
func regArgsOnly(c *callgraph.Node) bool {
	if c == nil {
		return false
	}
	for name := range nodeNames(c) {
		switch name {
		case "pthread_attr_init", "pthread_attr_setstacksize", "pthread_attr_setstack", "pthread_attr_destroy":
			return true
		}
		if _, ok := attrPreserving[name]; ok {
			return true
		}
	}
	return false
}

// attrCall applies a call's effect on the attribute objects to s (the state
// before the call) and reports whether it did: false leaves callEffects to
// forget them all. sums gives the helpers' attribute summaries.
func attrCall(ai archInfo, c *callgraph.Node, addr uint64, s *state, sums *summaries) bool {
	if c == nil {
		return false
	}
	for name := range nodeNames(c) {
		switch name {
		case "pthread_attr_init":
			if k, ok := keyOf(ai.arg(s, 0)); ok {
				s.setAttr(k, attrInfo{})
				return true
			}
			return false
		case "pthread_attr_setstacksize":
			if k, ok := keyOf(ai.arg(s, 0)); ok {
				s.setAttr(k, attrInfo{size: ai.arg(s, 1), set: true, setter: name})
				return true
			}
			return false
		case "pthread_attr_setstack":
			if k, ok := keyOf(ai.arg(s, 0)); ok {
				s.setAttr(k, attrInfo{size: ai.arg(s, 2), set: true, setter: name})
				return true
			}
			return false
		case "pthread_attr_destroy":
			if k, ok := keyOf(ai.arg(s, 0)); ok {
				s.setAttr(k, attrInfo{why: "the attributes were destroyed (pthread_attr_destroy) before the call"})
				return true
			}
			return false
		}
		if outs, ok := attrPreserving[name]; ok {
			for _, i := range outs {
				attrWordWrite(ai, s, ai.arg(s, i), name, addr)
			}
			return true
		}
	}
	if sum := sums.attrOf(c); sum != nil {
		applyAttrSummary(ai, s, sum, c.Name(), addr)
		return true
	}
	return false
}

// attrWordWrite applies a library function's write of one word through
// the pointer p (pthread_join's retval, strtoul's endptr): NULL writes
// nothing, a followed address changes the objects it overlaps, a pointer
// not followed may change any.
func attrWordWrite(ai archInfo, s *state, p value, callee string, addr uint64) {
	if p.k == vConst && p.v == 0 {
		return
	}
	pk, ok := keyOf(p)
	if !ok {
		s.forgetAttrs(callee, addr)
		return
	}
	size := attrSize(ai)
	for k := range s.attrs {
		if k.k == pk.k && k.n == pk.n && pk.v < k.v+size && pk.v+ai.word > k.v {
			s.forgetAttr(k, fmt.Sprintf("the call of %s may write the attributes", callee), addr)
		}
	}
	if s.alog != nil && (pk.k == vParam || pk.k == vConst) {
		s.alog.touched[pk] = true
	}
}

// attrSummary is what a helper of the analysed file does to the attribute
// objects it can reach: on every path, sets (by parameter-relative key,
// sizes possibly parameters); on some path, touched; havoc, anything.
type attrSummary struct {
	sets    map[attrKey]attrInfo
	touched map[attrKey]bool
	havoc   bool
	globals bool
	name    string
}

// applyAttrSummary applies a helper's summary at its call: what it may
// change becomes unknown, what it certainly sets is set, in the caller's
// terms (a parameter becomes the argument passed).
func applyAttrSummary(ai archInfo, s *state, sum *attrSummary, callee string, addr uint64) {
	args := make([]value, len(ai.args))
	for i := range args {
		args[i] = ai.arg(s, i)
	}
	// callerKey names a helper's object in the caller's terms; own is set
	// for the helper's own stack, which the caller's objects are not.
	callerKey := func(k attrKey) (ck attrKey, ok, own bool) {
		switch k.k {
		case vConst:
			return k, true, false
		case vStack:
			return attrKey{}, false, true
		case vParam:
			if k.n >= 0 && int(k.n) < len(args) {
				ck, ok = keyOf(args[k.n].add(k.v))
				return ck, ok, false
			}
		}
		return attrKey{}, false, false
	}
	if sum.havoc {
		s.forgetAttrs(callee, addr)
	}
	if sum.globals {
		for k := range s.attrs {
			if k.k == vConst {
				s.forgetAttr(k, fmt.Sprintf("the call of %s may write the attributes", callee), addr)
			}
		}
	}
	why := fmt.Sprintf("the call of %s may change the attributes", callee)
	size := attrSize(ai)
	for _, k := range sortedAttrKeys(sum.touched) {
		ck, ok, own := callerKey(k)
		switch {
		case own:
		case !ok:
			s.forgetAttrs(callee, addr)
		default:
			// the object there, and any the write overlaps
			for o := range s.attrs {
				if o.k == ck.k && o.n == ck.n && o.v > ck.v-size && o.v < ck.v+size {
					s.setAttr(o, attrInfo{why: why, whyAt: addr})
				}
			}
			s.setAttr(ck, attrInfo{why: why, whyAt: addr})
		}
	}
	for _, k := range sortedAttrKeys(sum.setKeys()) {
		ck, ok, _ := callerKey(k)
		if !ok {
			continue
		}
		a := sum.sets[k]
		if a.why != "" {
			a = attrInfo{why: "in " + callee + ": " + a.why, whyAt: addr}
		} else {
			a.size = translate(a.size, args, unknown)
			if a.via != "" {
				a.via += ", "
			}
			a.via += "in " + callee
		}
		s.setAttr(ck, a)
	}
}

func (sum *attrSummary) setKeys() map[attrKey]bool {
	out := map[attrKey]bool{}
	for k := range sum.sets {
		out[k] = true
	}
	return out
}

func sortedAttrKeys(m map[attrKey]bool) []attrKey {
	out := make([]attrKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.k != b.k {
			return a.k < b.k
		}
		if a.n != b.n {
			return a.n < b.n
		}
		return a.v < b.v
	})
	return out
}

// maxAttrDepth is how deep helpers calling helpers are summarized: a
// helper that sets up attributes is small (init_attr and what it calls);
// going further would sweep a library's whole call graph (every function
// sqlite3_open reaches) to learn what a call not modelled already says,
// that the attributes may change.
const maxAttrDepth = 3

// attrOf returns the attribute summary of a helper of the analysed file,
// nil when it has none (no code, code out of sight, or a helper already
// being summarized: recursion).
func (ss *summaries) attrOf(c *callgraph.Node) *attrSummary {
	if ss == nil || c == nil || c.External || c.Hub || c.Func == nil || c.Module != ss.g.Modules[0] {
		return nil
	}
	if s, ok := ss.attrDone[c]; ok {
		return s
	}
	if ss.attrDepth >= maxAttrDepth {
		return nil // not cached: a shallower call may still summarize it
	}
	if len(c.Edges) > 0 && !ss.reachesAttrSetter(c, maxAttrDepth) {
		// It calls something, and nothing that sets attributes: its
		// summary could only say they may change, which no summary says too.
		ss.attrDone[c] = nil
		return nil
	}
	ss.attrDepth++
	defer func() { ss.attrDepth-- }()
	ss.attrDone[c] = nil // in progress: a recursive call has no summary
	f := c.Module.File
	code, err := f.Code(c.Func.Addr, c.Func.Size)
	if err != nil || len(code) == 0 {
		return nil
	}
	insts := decodeAll(ss.g.Decoder, f, c.Func.Addr, code, ss.ai, c.Frame.CaseTables)
	callees := map[uint64]*callgraph.Node{}
	for _, e := range c.Edges {
		if e.Method != callgraph.MethodLazy {
			callees[e.Site] = ss.g.Nodes[e.To]
		}
	}
	onCall := func(addr uint64, s *state) callEffect {
		cn := callees[addr]
		if cn == nil {
			return callEffect{callee: "an indirect call"}
		}
		return callEffect{callee: cn.Name(), attrsDone: attrCall(ss.ai, cn, addr, s, ss), regArgs: regArgsOnly(cn)}
	}
	// A tail call (jmp pthread_attr_setstacksize at -O2) is the call and
	// the helper's return in one: its effect is applied to a copy of the
	// state, which is then an exit. A jump out of the helper to anything
	// the call graph does not name as a tail call leaves it unsummarized.
	tail := func(addr uint64, s *state) (attrs map[attrKey]attrInfo, ok bool) {
		cn := callees[addr]
		if cn == nil || !isTailCall(c, addr) {
			return nil, false
		}
		st := s.clone()
		if !attrCall(ss.ai, cn, addr, &st, ss) {
			st.forgetAttrs(cn.Name(), addr)
		}
		return st.attrs, true
	}
	sum := summarizeAttrs(ss.ai, insts, onCall, tail)
	if sum != nil {
		sum.name = c.Name()
	}
	ss.attrDone[c] = sum
	return sum
}

// summarizeAttrs sweeps a helper with its parameters symbolic and returns
// what it does to attribute objects, nil when some of its code is out of
// sight (as summarize).
func summarizeAttrs(ai archInfo, insts []inst, onCall func(uint64, *state) callEffect,
	tail func(uint64, *state) (map[attrKey]attrInfo, bool)) *attrSummary {
	var exits []map[attrKey]attrInfo
	lostControl := false
	visited := map[uint64]bool{}
	h := hooks{
		want:   map[uint64]bool{},
		onCall: onCall,
		onExit: func(s *state) { exits = append(exits, copyAttrs(s.attrs)) },
		lost:   func(uint64) { lostControl = true },
		at:     func(addr uint64, _ *state) { visited[addr] = true },
		tailCall: func(addr uint64, s *state) bool {
			a, ok := tail(addr, s)
			if ok {
				exits = append(exits, a)
			}
			return ok
		},
	}
	for _, in := range insts {
		h.want[in.addr] = true
	}
	log := &attrLog{touched: map[attrKey]bool{}}
	sweep(ai, insts, h, func(s *state) {
		for i, r := range ai.args {
			s.regs[r] = value{k: vParam, n: int64(i)}
		}
		s.alog = log
	})
	if lostControl || len(exits) == 0 {
		return nil
	}
	for _, in := range insts {
		if in.bad || !visited[in.addr] && !in.e.Nop {
			return nil
		}
	}
	sets := copyAttrs(exits[0])
	if sets == nil {
		sets = map[attrKey]attrInfo{}
	}
	for _, e := range exits[1:] {
		sets = mergeAttrs(sets, e)
	}
	return &attrSummary{sets: sets, touched: log.touched, havoc: log.havoc, globals: log.globals}
}

// noteLoopAttrs notes, for each loop, what its body may do to pthread
// attribute objects: calls that may change them, and its memory writes.
func noteLoopAttrs(loops map[int]*loopInfo, insts []inst, safe func(uint64) bool) {
	for _, l := range loops {
		for k := l.head; k <= l.end; k++ {
			in := insts[k]
			if in.e.Flow == isa.FlowCall || in.e.Flow == isa.FlowIndirectCall {
				if safe == nil || in.e.Flow == isa.FlowIndirectCall || !safe(in.addr) {
					l.attrCalls = true
				}
			}
			if in.m.wr.any {
				l.writes = append(l.writes, in)
			}
		}
	}
}

// forgetAttrs applies to s, the state at the loop's head before the loop's
// other effects, what a later iteration may have done to the attribute
// objects: a call that may change them changes all; a write whose base
// register the body does not change is placed as it is on the first
// iteration; another write through a followed address may land anywhere.
func (l *loopInfo) forgetAttrs(ai archInfo, s *state) {
	if len(s.attrs) == 0 && s.alog == nil {
		return
	}
	if l.attrCalls {
		s.forgetAttrs("a function in a loop", 0)
		return
	}
	for _, in := range l.writes {
		w := in.m.wr
		if w.fixed || w.base < 0 || !l.regs[w.base] {
			attrStore(ai, s, in)
			continue
		}
		if _, ok := keyOf(s.regs[w.base]); ok || w.base == ai.sp {
			for k := range s.attrs {
				s.forgetAttr(k, "a store in a loop may write the attributes", in.addr)
			}
		}
		if s.alog != nil {
			s.alog.havoc = true
		}
	}
}

// isTailCall reports a tail-call edge of n at site.
func isTailCall(n *callgraph.Node, site uint64) bool {
	for _, e := range n.Edges {
		if e.Site == site && e.Kind == frame.TailCall {
			return true
		}
	}
	return false
}

// isAttrSetter reports a node one of whose names is a pthread_attr
// function that sets up an attribute object, memoized per node:
// reachesAttrSetter asks it of every callee at every depth, and the names
// of /usr/bin/node's callees were looked at 0.04 s long.
func (ss *summaries) isAttrSetter(id int) bool {
	if id < len(ss.attrSetter) && ss.attrSetter[id] != 0 {
		return ss.attrSetter[id] == 2
	}
	found := false
	for name := range nodeNames(ss.g.Nodes[id]) {
		switch name {
		case "pthread_attr_init", "pthread_attr_setstacksize", "pthread_attr_setstack", "pthread_attr_destroy":
			found = true
		}
	}
	if id < len(ss.attrSetter) { // (a node made since is asked each time)
		ss.attrSetter[id] = 1
		if found {
			ss.attrSetter[id] = 2
		}
	}
	return found
}

// reachesAttrSetter reports a function that calls a pthread_attr function
// that sets up an attribute object, directly or through at most depth-1
// helpers.
func (ss *summaries) reachesAttrSetter(n *callgraph.Node, depth int) bool {
	if depth <= 0 {
		return false
	}
	key := reachKey{n, depth}
	if r, ok := ss.reach[key]; ok {
		return r
	}
	ss.reach[key] = false // a cycle is not followed round: a miss costs precision only (no summary, the attributes are forgotten)
	found := false
	for _, e := range n.Edges {
		c := ss.g.Nodes[e.To]
		found = ss.isAttrSetter(e.To)
		if !found && c.Module == ss.g.Modules[0] && ss.reachesAttrSetter(c, depth-1) {
			found = true
		}
		if found {
			break
		}
	}
	ss.reach[key] = found
	return found
}

type reachKey struct {
	n     *callgraph.Node
	depth int
}
