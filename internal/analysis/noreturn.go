package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// NeverReturns is a function on an entry's worst path that never returns
// to its caller: an assert or fault handler that ends in an endless loop
// or a reset is usually an error path, which [[exclude]] can set aside.
type NeverReturns struct {
	Function string `json:"function"`
	// Why is the evidence: "ends in an endless loop at 0x1234", "resets
	// the processor (SYSRESETREQ)", "calls X, which never returns",
	// "declared noreturn".
	Why string `json:"why"`
}

// The Cortex-M software reset: SCB->AIRCR = VECTKEY | SYSRESETREQ.
const (
	scsBase       = 0xE000E000 // the System Control Space
	aircrAddr     = 0xE000ED0C
	sysResetValue = 0x05FA0004
)

// noReturn finds the functions that never return, from their code.
type noReturn struct {
	g    *callgraph.Graph
	skip map[int]bool // excluded already: not suggested again
	// memo is why's answer for each node whose walk has ended (state
	// whyKnown); state also marks the walks under way: indexed by node,
	// not maps. The lower bounds' walk asks about every function
	// it visits, on node one after the other on its critical path, and
	// the maps' lookups, inserts and deletes were a tenth of those asks.
	memo  []string
	state []uint8
	// declared holds the entry addresses of the subprograms DWARF marks
	// DW_AT_noreturn (read once, when first needed).
	declared map[uint64]bool
	// scratches are the walks' scratch, one per level (walkScratch);
	// depth is the level of the next walk.
	scratches []*walkScratch
	depth     int
	// candidates keeps onPath's answer for each function but the entry
	// itself (0: not asked yet, 1: no candidate, 2: never returns,
	// memo says why): libLLVM-15's 36,687 entries ask about the callees
	// of every function on their paths, again and again, each time
	// through two or three map lookups on the analysis' goroutine.
	candidates []uint8
	// decode is the decoder's DecodeSweep, found once: isa.DecodeSweep
	// asked the decoder's interface for it at each instruction (2 ms of
	// node's lower bounds, perf; issue 19).
	decode func(code []byte, pc uint64, eff *isa.Effect) error
}

func newNoReturn(g *callgraph.Graph, excluded map[int]bool) *noReturn {
	nr := &noReturn{g: g, skip: excluded}
	if sd, ok := g.Decoder.(isa.SweepDecoder); ok {
		nr.decode = sd.DecodeSweep
	} else {
		nr.decode = func(code []byte, pc uint64, eff *isa.Effect) error { return isa.DecodeInto(g.Decoder, code, pc, eff) }
	}
	return nr
}

// The states of a node's walk in noReturn.state.
const (
	whyNotAsked = iota
	whyPending  // its walk is under way (a cycle of tail calls meets it)
	whyKnown    // memo holds its answer
)

// known is why's answer for node id, if its walk has ended.
func (nr *noReturn) known(id int) (string, bool) {
	if id < len(nr.state) && nr.state[id] == whyKnown {
		return nr.memo[id], true
	}
	return "", false
}

// why returns the evidence that node id never returns, or "" when it may
// return or its code does not show that it cannot. It claims nothing it
// cannot see: the function must have no path to a return, an indirect
// jump or a tail call to a function that returns, and something must show
// it stops on purpose (an endless loop, a reset, a call that does not come
// back, or DWARF's noreturn).
func (nr *noReturn) why(id int) string {
	if n := len(nr.g.Nodes); len(nr.state) < n {
		nr.state = append(nr.state, make([]uint8, n-len(nr.state))...)
		nr.memo = append(nr.memo, make([]string, n-len(nr.memo))...)
	}
	switch nr.state[id] {
	case whyKnown:
		return nr.memo[id]
	case whyPending:
		return "" // a cycle of tail calls: not claimed
	}
	nr.state[id] = whyPending
	w := nr.walk(id)
	nr.state[id], nr.memo[id] = whyKnown, w
	return w
}

func (nr *noReturn) walk(id int) string {
	n := nr.g.Nodes[id]
	if n.Func == nil || n.Module == nil || n.External || n.Hub {
		return ""
	}
	f := n.Module.File
	fn := n.Func
	code, err := f.Code(fn.Addr, fn.Size)
	if err != nil || len(code) == 0 {
		return ""
	}
	end := fn.Addr + uint64(len(code))
	s := nr.scratch(fn.Addr, len(code))
	defer nr.release(s)
	// Calls to case helpers go to their table's cases, never to the
	// bytes after them (frame.CaseTable).
	var tables map[uint64]frame.CaseTable
	if len(n.Frame.CaseTables) > 0 {
		tables = map[uint64]frame.CaseTable{}
		for _, t := range n.Frame.CaseTables {
			tables[t.Call] = t
		}
	}
	evidence := ""
	var conditional map[uint64]bool
	work := append(s.work[:0], fn.Addr)
	defer func() { s.work = work[:0] }()
	ef := &s.eff
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		if pc < fn.Addr || pc >= end || s.seen[pc-fn.Addr] || inData(f, pc) {
			continue
		}
		s.seen[pc-fn.Addr] = true
		s.order = append(s.order, pc)
		// Without the registers' description (isa.SweepDecoder): the
		// constants, which need it, are read after the walk, when the
		// function has shown no return (resetsProcessor).
		if err := nr.decode(code[pc-fn.Addr:], pc, ef); err != nil || ef.Len <= 0 {
			return ""
		}
		next := pc + uint64(ef.Len)
		if ef.CondNext > 0 {
			if conditional == nil {
				conditional = map[uint64]bool{}
			}
			markConditional(nr.g.Decoder, code, fn.Addr, next, ef.CondNext, conditional)
		}
		if conditional[pc] {
			// In a Thumb IT block: whatever it does, it may also not.
			work = append(work, next)
		}
		switch ef.Flow {
		case isa.FlowReturn:
			return ""
		case isa.FlowIndirectJump:
			if !ef.JumpTable {
				return "" // an indirect tail call may return
			}
		case isa.FlowStop:
		case isa.FlowJump:
			switch {
			case ef.HasTarget && ef.Target == pc:
				evidence = fmt.Sprintf("ends in an endless loop at %#x", pc)
			case ef.HasTarget && ef.Target >= fn.Addr && ef.Target < end:
				work = append(work, ef.Target)
			default:
				w := nr.callee(s.calleeAt(n, pc))
				if w == "" {
					return ""
				}
				evidence = w
			}
		case isa.FlowCondJump:
			if ef.HasTarget && ef.Target >= fn.Addr && ef.Target < end {
				work = append(work, ef.Target)
			} else if nr.callee(s.calleeAt(n, pc)) == "" {
				return ""
			}
			work = append(work, next)
		case isa.FlowCall, isa.FlowIndirectCall:
			if t, ok := tables[pc]; ok {
				if t.Entries == 0 {
					return "" // its cases are not known: they may return
				}
				for _, to := range t.Targets {
					work = append(work, to)
				}
				continue
			}
			if w := nr.callee(s.calleeAt(n, pc)); w != "" {
				evidence = w
				continue
			}
			if next >= end && ef.Flow == isa.FlowCall {
				// The compiler put nothing after this call: it knew
				// the callee does not come back.
				if to, ok := s.calleeAt(n, pc); ok {
					evidence = fmt.Sprintf("its last instruction calls %s, which does not come back", nr.g.QualifiedName(to))
				}
				continue
			}
			work = append(work, next)
		default:
			work = append(work, next)
		}
	}
	if nr.resetsProcessor(code, fn.Addr, s.order) {
		return "resets the processor (writes 0x05FA0004 to AIRCR)"
	}
	if evidence == "" && nr.declaredNoReturn(f, fn.Addr) {
		evidence = "declared noreturn"
	}
	return evidence
}

// resetsProcessor reports whether the instructions at pcs (in the order
// the walk decoded them) put the constants of a software reset in
// registers (resets).
func (nr *noReturn) resetsProcessor(code []byte, base uint64, pcs []uint64) bool {
	consts := map[int64]bool{}
	var ef isa.Effect
	for _, pc := range pcs {
		if err := isa.DecodeInto(nr.g.Decoder, code[pc-base:], pc, &ef); err != nil {
			return false // (the walk decoded it: not reached)
		}
		noteConstant(ef, consts)
	}
	return resets(consts)
}

// walkScratch is what one walk of noReturn uses and the next one at its
// level reuses (a walk asks about its callees, whose walks run inside
// it: one scratch per level). Its decoding table and maps were most of
// the walks' cost on libLLVM-15, whose entries' lower bounds ask about
// 100,000 functions.
type walkScratch struct {
	eff isa.Effect
	// seen marks the offsets from base of the instructions decoded
	// (order holds them, in order, and clears them for the next walk).
	base  uint64
	seen  []bool
	order []uint64
	work  []uint64
	// calls maps a call site to its callee (the node's edges; the last
	// edge of a site wins), made when the walk first needs it.
	calls map[uint64]int
}

// scratch returns the scratch of the next level down, for a function of
// size bytes at base.
func (nr *noReturn) scratch(base uint64, size int) *walkScratch {
	if nr.depth == len(nr.scratches) {
		nr.scratches = append(nr.scratches, &walkScratch{})
	}
	s := nr.scratches[nr.depth]
	nr.depth++
	if len(s.seen) < size {
		s.seen = make([]bool, size)
	}
	s.base, s.order, s.calls = base, s.order[:0], nil
	return s
}

// release clears s for the next walk at its level.
func (nr *noReturn) release(s *walkScratch) {
	for _, pc := range s.order {
		s.seen[pc-s.base] = false
	}
	s.calls = nil
	nr.depth--
}

// calleeAt returns the callee of n's call site pc (the last edge of the
// site), if it has one. A function's few edges are searched from the
// last: a map of them, made for each walk that asked (most functions a
// walk reads call out before a return), was 4.5 ms of node's lower
// bounds, one walk after the other on the analysis' goroutine (perf,
// issue 19); a function of many edges still gets its map (callsOf).
func (s *walkScratch) calleeAt(n *callgraph.Node, pc uint64) (int, bool) {
	if len(n.Edges) <= calleeScanMax {
		for i := len(n.Edges) - 1; i >= 0; i-- {
			if n.Edges[i].Site == pc {
				return n.Edges[i].To, true
			}
		}
		return 0, false
	}
	to, ok := s.callsOf(n)[pc]
	return to, ok
}

// calleeScanMax is the most edges calleeAt searches without a map.
const calleeScanMax = 64

// callsOf is the map of n's call sites to their callees.
func (s *walkScratch) callsOf(n *callgraph.Node) map[uint64]int {
	if s.calls == nil {
		s.calls = make(map[uint64]int, len(n.Edges))
		for _, e := range n.Edges {
			s.calls[e.Site] = e.To
		}
	}
	return s.calls
}

// markConditional marks the k instructions from pc as conditional.
func markConditional(dec isa.Decoder, code []byte, base, pc uint64, k int, out map[uint64]bool) {
	for ; k > 0 && pc >= base && pc < base+uint64(len(code)); k-- {
		out[pc] = true
		ef, err := dec.Decode(code[pc-base:], pc)
		if err != nil || ef.Len <= 0 {
			return
		}
		pc += uint64(ef.Len)
	}
}

// resets reports whether a function's constants are those of a software
// reset: the key and SYSRESETREQ, and AIRCR's address or a base in the
// System Control Space below it (GCC stores to [0xE000E000, #0xD0C]).
func resets(consts map[int64]bool) bool {
	if !consts[sysResetValue] {
		return false
	}
	for c := range consts {
		if c >= scsBase && c <= aircrAddr {
			return true
		}
	}
	return false
}

// callee is the evidence that the function called at pc never returns.
func (nr *noReturn) callee(to int, ok bool) string {
	if !ok {
		return ""
	}
	if nr.why(to) == "" {
		return ""
	}
	return fmt.Sprintf("calls %s, which never returns", nr.g.QualifiedName(to))
}

// noteConstant records the constants an instruction puts in a register:
// literal-pool loads and movs, and movw/movt pairs.
func noteConstant(ef isa.Effect, consts map[int64]bool) {
	switch ef.DefKind {
	case isa.DefConst:
		consts[ef.DefValue&0xffffffff] = true
	case isa.DefHigh16:
		for v := range consts {
			if v <= 0xffff {
				consts[ef.DefValue<<16|v] = true
			}
		}
	}
	if ef.HasRef {
		consts[int64(ef.Ref)] = true
	}
}

func inData(f *binfile.File, pc uint64) bool {
	for _, r := range f.DataInCode {
		if pc >= r.Begin && pc < r.End {
			return true
		}
	}
	return false
}

// declaredNoReturn reports whether DWARF marks the subprogram at addr
// DW_AT_noreturn (the C11 _Noreturn, __attribute__((noreturn))).
func (nr *noReturn) declaredNoReturn(f *binfile.File, addr uint64) bool {
	if nr.declared == nil {
		nr.declared = map[uint64]bool{}
		if d, err := f.ELF.DWARF(); err == nil {
			callgraph.ReadNoReturn(d, nr.declared)
		}
	}
	return nr.declared[addr&^1] || nr.declared[addr|1]
}

// onPath returns the first function of an entry's worst path, after the
// entry itself, that never returns: the candidate for [[exclude]] (what
// it calls is set aside with it). For an entry with no bound, whose
// deepest known path stops where recursion or an unknown begins, the
// functions the path's steps call directly count too. The runtime's
// entries (main) are left out: they do not return by design, not as an
// error path.
func (nr *noReturn) onPath(e Entry) []NeverReturns {
	if len(nr.candidates) < len(nr.g.Nodes) {
		nr.candidates = append(nr.candidates, make([]uint8, len(nr.g.Nodes)-len(nr.candidates))...)
	}
	candidate := func(id int) []NeverReturns {
		if id == e.Node {
			return nil
		}
		// The answer once asked is the answer again: why's is kept in
		// its memo.
		switch nr.candidates[id] {
		case 1:
			return nil
		case 2:
			w, _ := nr.known(id)
			return []NeverReturns{{Function: nr.g.QualifiedName(id), Why: w}}
		}
		n := nr.g.Nodes[id]
		if n.Func == nil || runtimeEntry[n.Name()] || nr.skip[id] {
			nr.candidates[id] = 1
			return nil
		}
		w := nr.why(id)
		if _, kept := nr.known(id); kept {
			nr.candidates[id] = 1
			if w != "" {
				nr.candidates[id] = 2
			}
		}
		if w != "" {
			return []NeverReturns{{Function: nr.g.QualifiedName(id), Why: w}}
		}
		return nil
	}
	for _, id := range e.PathNodes {
		if c := candidate(id); c != nil {
			return c
		}
	}
	if e.Bounded {
		return nil
	}
	for _, id := range e.PathNodes {
		for _, edge := range nr.g.Nodes[id].Edges {
			if c := candidate(edge.To); c != nil {
				return c
			}
		}
	}
	return nil
}

// runtimeEntry are functions that never return by design, not as an
// error path.
var runtimeEntry = map[string]bool{"main": true, "_start": true, "Reset_Handler": true, "vTaskStartScheduler": true,
	"xPortStartScheduler": true, "prvPortStartFirstTask": true}

// keepFaultPaths drops the [[exclude]] suggestion from fault handlers:
// that a fault handler's reporting path never returns is what it is for,
// and its depth is the one that matters when it runs.
func keepFaultPaths(res *Result) {
	fault := map[string]bool{}
	for _, h := range res.Interrupts.Handlers {
		for _, v := range h.Vectors {
			switch v {
			case "NMI", "HardFault", "MemManage", "BusFault", "UsageFault", "SecureFault":
				fault[h.Name] = true
			}
		}
	}
	for i := range res.Entries {
		if fault[res.Entries[i].Name] {
			res.Entries[i].NeverReturns = nil
		}
	}
}
