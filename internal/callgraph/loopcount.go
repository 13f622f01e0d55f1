package callgraph

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// Constant SP moves in a loop, counted by a checked counter (x86-64).
//
// ld.so's _dl_debug_vdprintf (glibc 2.36's elf/dl-printf.c) takes one
// alloca of 48 B (`sub $0x30,%rsp`) per integer conversion of its format,
// and the frame walk, which sees SP sink on every way round the loop,
// calls the frame Dynamic. What caps the loop is a counter: niov, the
// number of iovecs filled, starts at 0, only grows, and `assert (niov <
// NIOVMAX)` (64) runs on every way round; a failed assert ends the
// process. GCC's -O2 code of a C loop `assert (n < 16); p[n++] =
// alloca (32);` has the same shape (it may test `n != 16` instead).
//
// The proof is a forward data-flow pass over the function's code with a
// ghost N, the counter: it is born at an instruction that sets a
// register to a constant v0 >= 0 (a candidate: each such register that
// the code compares with a constant is tried), and the pass follows where
// N lives (registers, and frame slots addressed from rbp whose address
// the code never takes: a spill and its reload), what is known of it, and
// the moves:
//   - N changes only by `add $c` (c > 0), `inc` or `lea c(r),r` on a
//     place that holds it; then only that place holds it. Any other write
//     to a place takes the place out (N is then lost there: a decrement,
//     a reload of something else). A call keeps N in the callee-saved
//     registers only (the System V ABI).
//   - hi bounds N from above: v0 at the birth, c more after an add, and
//     min(hi, K) on the way out of `cmp $K,place; jcc` on which the
//     branch says N <= K (jg/jle, ja/jbe, jge/jl, jae/jb with K-1,
//     jne/je: N == K, and N != K lowers hi == K by one). A signed
//     comparison is read so only while hi < 2^31 (2^63 at 64 bits), when
//     the register holds N exactly (N >= v0 >= 0): a comparison with hi
//     not known tells nothing. The branch that fails the check goes
//     wherever the code goes; a call that never returns (Input.NoReturn:
//     __assert_fail, a glibc check cut by the libc-checks premise) ends
//     its path, and that is what makes the check a cap.
//   - gain bounds from below how much N grew since the last counted move
//     on the path, prevHi from above what N was at it.
//
// A counted move is a `sub $b,%rsp` (b > 0) reached after the birth. At
// the fixpoint, every counted move has N <= H (hi there), every move that
// follows another has gain >= G > 0 and had N <= P at the one before, and
// N >= v0 always; so the k-th execution has N >= v0 + (k-1)G, and there
// are at most min((H-v0)/G + 1, (P-v0)/G + 2) of them in one call. Their
// total is that count times the largest b (coarser than a per-path sum,
// and simple). The frame walk then takes each counted move as no move
// (frame.Input.CountedMoves), and the total goes on the frame's size and
// on the depth of each call a counted move may precede (the pass says
// which: a move is forgotten only when SP is restored from an rbp set
// before any move).
//
// The pass gives up (the frame stays Dynamic as the walk said) when: the
// birth runs again after itself, a move is reached both with and without
// a counter born, hi is not known at a move, N may not grow between two
// moves, a `ret` comes after a move that SP was not restored from, rbp
// is set from SP after a move, or the code has what decodeFlow cannot
// follow (an indirect jump, a jump out into code that is not a function).
// Memory: a store through rbp plus a constant drops the slots it
// overlaps, a store through rsp or with an index register all slots, and
// a call all slots when the frame's address escapes (a lea from rbp) or
// when its stack-argument area may reach one (ctrState.argOpen: every
// call under --strict, and a call that keeps a slot without it is
// listed, loopCount.ArgKept, for the premise stackargs.go states); a
// store through any other pointer is taken not to reach a slot whose
// address the code never takes (the compiler's temporary: reaching it is
// an out-of-bounds write, which would also reach the return address and
// the saved registers the walk trusts; spslot.go in package frame says
// the same).

const (
	ctrNone  = math.MaxInt64 // hi, prevHi: not known; gain: no move yet
	maxCount = 1 << 16       // a counter bound past it is not used
	// maxCtrSteps bounds the instructions the pass steps through for one
	// function, over every register tried (ld.so's _dl_debug_vdprintf
	// takes 3,433).
	maxCtrSteps = 100000
)

// ctrState is what the pass knows before one instruction.
type ctrState struct {
	ok    bool
	born  uint8  // 0 not yet, 1 born, 2 on some paths only
	regs  uint16 // register families holding N
	slots map[int64]uint8
	hi    int64
	prev  int64 // prevHi
	gain  int64
	moved bool // a counted move since SP was last restored from a clean rbp
	// rbpFP: rbp holds SP as `mov %rsp,%rbp` set it; rbpClean: and no
	// counted move came before.
	rbpFP, rbpClean bool
	flags           ctrFlags
	// fresh is the size of the counted move SP last moved by (0: SP
	// moved otherwise since, or none): rsp plus less than it points into
	// that block, below every slot of the frame.
	fresh int64
	// argOpen: something was stored through rsp or pushed since SP last
	// moved down and since the last call. The stack-argument area of a
	// call, which the callee owns under the System V ABI and may write,
	// is taken to run from SP at the call up to the highest such word
	// (frame/argarea.go says why, and what that assumes of the caller).
	// The pass does not know where rbp's slots lie from rsp, so a call
	// with argOpen drops every slot: found by a red-team fixture
	// (internal/analysis/testdata/x86/redteam_argslot.S, ctr_arg) whose
	// counter, spilled through rbp into the argument area of a callee
	// that stores 0 there, never passed 1 while its check claimed 16
	// allocas at most.
	argOpen bool
	// below is how far SP is below rbp at least (rbp - rsp >= below)
	// while rbpFP, or belowUnknown. What a push or a call writes (the
	// pushed word, the return address, and the callee's frame) lies
	// under SP, so it reaches no slot at or above rbp-below and may reach
	// any slot under it: a counter in a slot below SP is overwritten
	// (red-team fixtures ctr_push and ctr_callee in
	// internal/analysis/testdata/x86/redteam_frames.S, whose counters
	// were reset that way while the pass claimed 16 allocas at most).
	below int64
}

// belowUnknown: where SP is from rbp is not known.
const belowUnknown = math.MinInt64

// ctrFlags says what the last instruction to set the flags compared: N
// with k at width bits.
type ctrFlags struct {
	ok    bool
	k     int64
	width int
}

func (s ctrState) clone() ctrState {
	c := s
	c.slots = make(map[int64]uint8, len(s.slots))
	for k, v := range s.slots {
		c.slots[k] = v
	}
	return c
}

// loopCount is the pass's proof for one function.
type loopCount struct {
	Birth uint64           // where the counter is set
	Moves map[uint64]int64 // the counted moves and their bytes
	Count int64            // at most this many counted moves run in one call
	Total int64            // bytes: Count times the largest move
	// After are the calls (and tail calls) a counted move may precede.
	After map[uint64]bool
	// Fatal are the targets of the calls that never return which end a
	// path after the birth.
	Fatal []uint64
	// ArgKept are the calls after the birth across which a slot that may
	// hold N was kept only because nothing was stored through rsp or
	// pushed for them (ctrState.argOpen; the stack-argument rule of
	// frame/argarea.go), in address order, with those slots' rbp
	// displacements.
	ArgKept []ctrArgKept
}

// ctrArgKept is a call across which the counted-loop pass kept slots
// (rbp displacements) by the stack-argument rule.
type ctrArgKept struct {
	Call  uint64
	Slots []int64
}

// countLoopMoves runs the pass over code (at addr); noReturn says which
// call targets never return; strict drops every slot at every call (the
// stack-argument rule off, --strict).
func countLoopMoves(code []byte, addr uint64, isFunction, noReturn func(uint64) bool, strict bool) (*loopCount, error) {
	insts, err := decodeFlow(code, addr, isFunction)
	if err != nil {
		return nil, err
	}
	fatal := map[int]uint64{}
	compared := map[int][]int64{} // register family -> thresholds
	var inMemory []int64
	var taken []int64 // frame addresses the code computes (rbp-relative)
	for i := range insts {
		in := insts[i].in
		switch in.Op {
		case x86asm.CALL:
			if rel, ok := in.Args[0].(x86asm.Rel); ok && noReturn != nil {
				t := uint64(int64(insts[i].pc) + int64(in.Len) + int64(rel))
				if noReturn(t) {
					insts[i].next = nil
					fatal[i] = t
				}
			}
		case x86asm.CMP:
			if k, ok := in.Args[1].(x86asm.Imm); ok {
				// What hi settles at: a constant compared with, less
				// one, or plus what the code adds after the check.
				var ks []int64
				for d := int64(-1); d <= 16; d++ {
					ks = append(ks, int64(k)+d)
				}
				switch a := in.Args[0].(type) {
				case x86asm.Reg:
					if f, _, ok := regFamily(a); ok {
						compared[f] = append(compared[f], ks...)
					}
				case x86asm.Mem:
					inMemory = append(inMemory, ks...)
				}
			}
		case x86asm.LEA:
			if m, ok := in.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RBP {
				taken = append(taken, memDisp(m))
			}
		}
	}
	// Only the moves on a cycle of the code are counted: any other runs
	// once per call at most, and the walk measures it as it is.
	inLoop := map[int]bool{}
	for i := range insts {
		if _, ok := spMoveDown(insts[i].in); ok && onCycle(insts, i) {
			inLoop[i] = true
		}
	}
	if len(inLoop) == 0 {
		return nil, fmt.Errorf("no constant SP move in a loop")
	}
	why, first := "no register set to a constant is compared with one", ""
	budget := maxCtrSteps
	for i := range insts {
		f, v0, ok := ctrBirth(insts[i].in)
		if !ok || len(compared[f]) == 0 {
			continue
		}
		thresholds := append(slices.Clone(compared[f]), inMemory...)
		slices.Sort(thresholds)
		p := ctrPass{insts: insts, birth: i, fam: f, v0: v0, fatal: fatal, thresholds: thresholds, taken: taken, inLoop: inLoop, budget: &budget, strict: strict}
		lc, err := p.run()
		if err == nil {
			if debugCtr {
				fmt.Printf("steps %d\n", maxCtrSteps-budget)
			}
			return lc, nil
		}
		if budget < 0 {
			return nil, err
		}
		if first == "" {
			// (The first register set, the likeliest counter, says why.)
			first = fmt.Sprintf("counter set at %#x: %v", insts[i].pc, err)
		}
	}
	if first != "" {
		why = first
	}
	return nil, fmt.Errorf("%s", why)
}

// ctrBirth says whether in sets a whole register to a constant >= 0.
func ctrBirth(in x86asm.Inst) (int, int64, bool) {
	r, ok := in.Args[0].(x86asm.Reg)
	if !ok {
		return 0, 0, false
	}
	f, w, ok := regFamily(r)
	if !ok || w < 32 || f == famRSP || f == famRBP {
		return 0, 0, false
	}
	switch in.Op {
	case x86asm.XOR:
		if s, ok := in.Args[1].(x86asm.Reg); ok && s == r {
			return f, 0, true
		}
	case x86asm.MOV:
		if c, ok := in.Args[1].(x86asm.Imm); ok && c >= 0 && c < maxCount {
			return f, int64(c), true
		}
	}
	return 0, 0, false
}

var debugCtr = false // (prints the pass's states; for debugging)

type ctrPass struct {
	insts      []flowInst
	birth, fam int
	v0         int64
	fatal      map[int]uint64
	thresholds []int64
	taken      []int64
	inLoop     map[int]bool // the moves counted
	// rspAddr: the code computes an address from rsp that may point into
	// the frame's slots; fpCopied: rbp, the frame pointer, was copied
	// out (any displacement from the copy reaches any slot); slotUsed: N
	// went through a slot. slotUsed with either: no proof.
	rspAddr, fpCopied, slotUsed bool
	budget                      *int // steps left
	strict                      bool // countLoopMoves' strict
}

// onCycle says whether instruction i can run again after itself.
func onCycle(insts []flowInst, i int) bool {
	seen := make([]bool, len(insts))
	work := slices.Clone(insts[i].next)
	for len(work) > 0 {
		j := work[len(work)-1]
		work = work[:len(work)-1]
		if j == i {
			return true
		}
		if !seen[j] {
			seen[j] = true
			work = append(work, insts[j].next...)
		}
	}
	return false
}

func (p *ctrPass) run() (*loopCount, error) {
	n := len(p.insts)
	states := make([]ctrState, n)
	visits := make([]int, n)
	states[0] = ctrState{ok: true, hi: ctrNone, prev: ctrNone, gain: ctrNone, slots: map[int64]uint8{}, below: belowUnknown}
	work := []int{0}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if *p.budget--; *p.budget < 0 {
			return nil, fmt.Errorf("the pass gave up after %d steps", maxCtrSteps)
		}
		st := states[i].clone()
		fi := &p.insts[i]
		if i == p.birth {
			if st.born != 0 {
				return nil, fmt.Errorf("the counter is set again after it was set")
			}
			st.born, st.regs, st.slots = 1, 1<<uint(p.fam), map[int64]uint8{}
			st.hi, st.prev, st.gain, st.flags = p.v0, ctrNone, ctrNone, ctrFlags{}
		} else if err := p.step(&st, fi.in, p.inLoop[i]); err != nil {
			return nil, fmt.Errorf("%v at %#x", err, fi.pc)
		}
		for _, j := range fi.next {
			est := st
			if fi.jumpTo >= 0 && len(fi.next) == 2 && fi.next[0] != fi.next[1] && isJcc(fi.in.Op) {
				var feasible bool
				est, feasible = refine(st, fi.in.Op, j == fi.jumpTo)
				if !feasible {
					continue
				}
			}
			old := states[j]
			nw := joinCtr(old, est)
			if old.ok && sameCtr(old, nw) {
				continue
			}
			visits[j]++
			if visits[j] > 64 {
				nw.hi = p.widen(old.hi, nw.hi)
				nw.prev = p.widen(old.prev, nw.prev)
				if nw.below != old.below {
					nw.below = belowUnknown
				}
			}
			if visits[j] > 1000 {
				return nil, fmt.Errorf("the pass did not settle at %#x", p.insts[j].pc)
			}
			states[j] = nw
			work = append(work, j)
		}
	}
	if debugCtr {
		for i, fi := range p.insts {
			if st := states[i]; st.ok && st.born == 1 {
				fmt.Printf("%#x %v hi %d prev %d gain %d regs %x slots %v flags %+v\n", fi.pc, fi.in, st.hi, st.prev, st.gain, st.regs, st.slots, st.flags)
			}
		}
	}
	lc := &loopCount{Birth: p.insts[p.birth].pc, Moves: map[uint64]int64{}, After: map[uint64]bool{}}
	H, P, G, largest := int64(-1), int64(-1), int64(ctrNone), int64(0)
	for i, fi := range p.insts {
		st := states[i]
		if !st.ok {
			continue
		}
		if t, ok := p.fatal[i]; ok && st.born != 0 {
			lc.Fatal = append(lc.Fatal, t)
		}
		if _, fatal := p.fatal[i]; !fatal && fi.in.Op == x86asm.CALL && st.born != 0 && len(st.slots) > 0 && !st.argOpen && len(p.taken) == 0 && !p.strict {
			// (The state before the call: the slots step keeps. A call
			// that never returns keeps nothing.)
			k := ctrArgKept{Call: fi.pc}
			for d := range st.slots {
				k.Slots = append(k.Slots, d)
			}
			slices.Sort(k.Slots)
			lc.ArgKept = append(lc.ArgKept, k)
		}
		switch {
		case fi.in.Op == x86asm.RET && st.moved:
			return nil, fmt.Errorf("ret at %#x after an SP move not undone", fi.pc)
		case fi.in.Op == x86asm.CALL || fi.in.Op == x86asm.JMP || isJcc(fi.in.Op):
			if st.moved && (fi.in.Op == x86asm.CALL || fi.jumpTo < 0) {
				lc.After[fi.pc] = true
			}
		}
		b, _ := spMoveDown(fi.in)
		if !p.inLoop[i] {
			continue
		}
		if st.born == 0 {
			return nil, fmt.Errorf("SP move at %#x in a loop runs before it", fi.pc)
		}
		if st.born != 1 {
			return nil, fmt.Errorf("SP move at %#x runs both before and after the counter is set", fi.pc)
		}
		if st.hi == ctrNone || st.hi >= maxCount {
			return nil, fmt.Errorf("no check bounds the counter at the SP move at %#x", fi.pc)
		}
		lc.Moves[fi.pc] = b
		if debugCtr {
			fmt.Printf("move %#x hi %d prev %d gain %d\n", fi.pc, st.hi, st.prev, st.gain)
		}
		H, largest = max(H, st.hi), max(largest, b)
		if st.gain != ctrNone {
			G = min(G, st.gain)
			P = max(P, st.prev)
		}
	}
	if len(lc.Moves) == 0 {
		return nil, fmt.Errorf("no SP move after it")
	}
	if p.rspAddr && p.slotUsed {
		return nil, fmt.Errorf("it is kept in a frame slot, and the code computes addresses of the frame from rsp")
	}
	if p.fpCopied && p.slotUsed {
		return nil, fmt.Errorf("it is kept in a frame slot, and the code copies the frame pointer rbp")
	}
	if G <= 0 {
		return nil, fmt.Errorf("the counter may not grow between two SP moves")
	}
	count := (H-p.v0)/G + 1
	if G != ctrNone && P != ctrNone {
		if P < p.v0 {
			count = 1
		} else {
			count = min(count, (P-p.v0)/G+2)
		}
	}
	lc.Count, lc.Total = count, count*largest
	slices.Sort(lc.Fatal)
	lc.Fatal = slices.Compact(lc.Fatal)
	return lc, nil
}

// spBelow is st.below after in, which writes rsp.
func spBelow(st *ctrState, in x86asm.Inst) int64 {
	if b, down := spMoveDown(in); down {
		return belowMoved(st.below, b)
	}
	switch s := in.Args[1].(type) {
	case x86asm.Imm:
		if in.Op == x86asm.ADD {
			return belowMoved(st.below, -int64(s))
		}
		if in.Op == x86asm.AND && s < 0 {
			return st.below // (SP only goes down)
		}
	case x86asm.Reg:
		if in.Op == x86asm.MOV && s == x86asm.RBP && st.rbpFP {
			return 0
		}
		if in.Op == x86asm.SUB {
			// (A VLA: SP goes down by a size, as the frame walk reads it.)
			return st.below
		}
	case x86asm.Mem:
		if in.Op == x86asm.LEA && s.Base == x86asm.RBP && s.Index == 0 && s.Segment == 0 && st.rbpFP {
			return -memDisp(s)
		}
	}
	return belowUnknown
}

// belowMoved is below after SP moves down by b bytes (up when b < 0).
func belowMoved(below, b int64) int64 {
	if below == belowUnknown {
		return below
	}
	return below + b
}

// dropUnderSP drops the slots that a push, or a call's return address and
// its callee's frame, may write: every one not wholly at or above SP.
func dropUnderSP(st *ctrState) {
	for d := range st.slots {
		if st.below == belowUnknown || d < -st.below {
			delete(st.slots, d)
		}
	}
}

// widen takes a bound that still grows to the next constant the code
// compares with, or to not known.
func (p *ctrPass) widen(old, nw int64) int64 {
	if nw == old || nw == ctrNone {
		return nw
	}
	i, _ := slices.BinarySearch(p.thresholds, nw)
	if i < len(p.thresholds) {
		return p.thresholds[i]
	}
	return ctrNone
}

func isJcc(op x86asm.Op) bool {
	return op >= x86asm.JA && op <= x86asm.JS && op != x86asm.JMP
}

// spMoveDown is the amount of a constant SP move down (sub $b,%rsp or
// add $-b,%rsp).
func spMoveDown(in x86asm.Inst) (int64, bool) {
	if r, ok := in.Args[0].(x86asm.Reg); !ok || r != x86asm.RSP {
		return 0, false
	}
	c, ok := in.Args[1].(x86asm.Imm)
	switch {
	case !ok:
		return 0, false
	case in.Op == x86asm.SUB && c > 0:
		return int64(c), true
	case in.Op == x86asm.ADD && c < 0:
		return -int64(c), true
	}
	return 0, false
}

// refine is st on the way out of a conditional jump (taken or not) after
// a comparison of N with a constant; feasible false when no value of N
// takes that way.
func refine(st ctrState, op x86asm.Op, taken bool) (ctrState, bool) {
	f := st.flags
	if !f.ok || st.born != 1 || st.hi == ctrNone {
		return st, true
	}
	signed := map[x86asm.Op]bool{x86asm.JG: true, x86asm.JLE: true, x86asm.JGE: true, x86asm.JL: true}[op]
	limit := int64(1) << uint(f.width)
	if signed {
		limit >>= 1
	}
	if f.width == 64 {
		limit = math.MaxInt64
	}
	if st.hi >= limit {
		return st, true // (the register may not hold N as the comparison reads it)
	}
	k := f.k
	if !signed && k < 0 {
		// An unsigned comparison with a sign-extended constant.
		if f.width == 64 {
			return st, true
		}
		k &= limit - 1
	}
	le, ne := int64(ctrNone), false
	switch {
	case (op == x86asm.JG || op == x86asm.JA) && !taken, (op == x86asm.JLE || op == x86asm.JBE) && taken:
		le = k
	case (op == x86asm.JGE || op == x86asm.JAE) && !taken, (op == x86asm.JL || op == x86asm.JB) && taken:
		le = k - 1
	case op == x86asm.JE && taken, op == x86asm.JNE && !taken:
		le = k
	case op == x86asm.JE && !taken, op == x86asm.JNE && taken:
		ne = true
	}
	if le == ctrNone && !ne {
		return st, true
	}
	s := st
	if ne {
		if s.hi != k {
			return st, true
		}
		le = k - 1
	}
	if le < 0 {
		return st, false // (N >= 0)
	}
	if le < s.hi {
		if s.gain != ctrNone {
			s.prev = min(s.prev, le-s.gain)
		}
		s.hi = le
	}
	return s, true
}

func joinCtr(a, b ctrState) ctrState {
	if !a.ok {
		return b.clone()
	}
	c := a.clone()
	if a.born != b.born {
		c.born = 2
	}
	c.regs = a.regs & b.regs
	for k, v := range c.slots {
		if w, ok := b.slots[k]; !ok || w != v {
			delete(c.slots, k)
		}
	}
	c.hi, c.gain = max(a.hi, b.hi), min(a.gain, b.gain)
	// prev is of the last move: a path with none yet has nothing to add
	// (its next move is the first).
	switch {
	case a.gain == ctrNone:
		c.prev = b.prev
	case b.gain != ctrNone:
		c.prev = max(a.prev, b.prev)
	}
	c.moved = a.moved || b.moved
	c.argOpen = a.argOpen || b.argOpen
	c.below = min(a.below, b.below) // (belowUnknown is the least)
	c.rbpFP, c.rbpClean = a.rbpFP && b.rbpFP, a.rbpClean && b.rbpClean
	if a.flags != b.flags {
		c.flags = ctrFlags{}
	}
	if a.fresh != b.fresh {
		c.fresh = 0
	}
	return c
}

func sameCtr(a, b ctrState) bool {
	if a.ok != b.ok || a.born != b.born || a.regs != b.regs || a.hi != b.hi || a.prev != b.prev || a.gain != b.gain ||
		a.moved != b.moved || a.fresh != b.fresh || a.argOpen != b.argOpen || a.below != b.below || a.rbpFP != b.rbpFP || a.rbpClean != b.rbpClean || a.flags != b.flags || len(a.slots) != len(b.slots) {
		return false
	}
	for k, v := range a.slots {
		if w, ok := b.slots[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// flagKeepers are the instructions that leave the flags as they are.
var flagKeepers = map[x86asm.Op]bool{
	x86asm.MOV: true, x86asm.MOVZX: true, x86asm.MOVSX: true, x86asm.MOVSXD: true, x86asm.LEA: true, x86asm.NOP: true,
	x86asm.PUSH: true, x86asm.POP: true, x86asm.JMP: true,
}

// oneDest are the instructions whose only register write is their first
// operand (when it is a register).
var oneDest = map[x86asm.Op]bool{
	x86asm.MOV: true, x86asm.MOVZX: true, x86asm.MOVSX: true, x86asm.MOVSXD: true, x86asm.LEA: true,
	x86asm.ADD: true, x86asm.SUB: true, x86asm.AND: true, x86asm.OR: true, x86asm.XOR: true, x86asm.ADC: true, x86asm.SBB: true,
	x86asm.SHL: true, x86asm.SHR: true, x86asm.SAR: true, x86asm.ROL: true, x86asm.ROR: true,
	x86asm.INC: true, x86asm.DEC: true, x86asm.NEG: true, x86asm.NOT: true, x86asm.BSWAP: true,
	x86asm.BSF: true, x86asm.BSR: true, x86asm.POPCNT: true, x86asm.TZCNT: true, x86asm.LZCNT: true,
	x86asm.MOVD: true, x86asm.MOVQ: true, x86asm.POP: true,
	x86asm.CMP: true, x86asm.TEST: true, x86asm.BT: true, x86asm.PUSH: true, x86asm.NOP: true,
	x86asm.PREFETCHT0: true, x86asm.PAUSE: true, x86asm.JMP: true, x86asm.RET: true, x86asm.UD2: true, x86asm.HLT: true,
	x86asm.MOVAPS: true, x86asm.MOVUPS: true, x86asm.MOVDQA: true, x86asm.MOVDQU: true, x86asm.PXOR: true,
	x86asm.PUNPCKLQDQ: true, x86asm.PUNPCKLBW: true, x86asm.PUNPCKLWD: true, x86asm.PSHUFD: true, x86asm.MOVHPS: true,
}

// memStoreOps are the instructions with a memory destination that write
// no register.
var memStoreOps = map[x86asm.Op]bool{
	x86asm.MOV: true, x86asm.ADD: true, x86asm.SUB: true, x86asm.AND: true, x86asm.OR: true, x86asm.XOR: true,
	x86asm.INC: true, x86asm.DEC: true, x86asm.NEG: true, x86asm.NOT: true, x86asm.SHL: true, x86asm.SHR: true, x86asm.SAR: true,
	x86asm.MOVAPS: true, x86asm.MOVUPS: true, x86asm.MOVDQA: true, x86asm.MOVDQU: true, x86asm.MOVQ: true, x86asm.MOVD: true,
	x86asm.MOVHPS: true, x86asm.MOVLPS: true, x86asm.MOVNTI: true, x86asm.POP: true,
}

// implicitWrites are the register families some instructions write
// besides their operands.
var implicitWrites = map[x86asm.Op][]int{
	x86asm.SYSCALL: {0, 1, 11}, x86asm.CDQE: {0}, x86asm.CWDE: {0}, x86asm.CQO: {2}, x86asm.CDQ: {2},
	x86asm.MUL: {0, 2}, x86asm.DIV: {0, 2}, x86asm.IDIV: {0, 2},
}

// step applies one instruction (not the birth) to st.
func (p *ctrPass) step(st *ctrState, in x86asm.Inst, counted bool) error {
	if !flagKeepers[in.Op] && !isJcc(in.Op) {
		st.flags = ctrFlags{}
	}
	if isJcc(in.Op) {
		return nil
	}
	born := st.born == 1
	p.noteRSPAddr(st, in)
	p.noteFPCopy(st, in)
	switch in.Op {
	case x86asm.PUSH:
		dropUnderSP(st)
		st.below = belowMoved(st.below, 8)
	case x86asm.POP:
		st.below = belowMoved(st.below, -8)
	}
	// SP.
	if r, ok := in.Args[0].(x86asm.Reg); ok && r == x86asm.RSP {
		st.fresh = 0
		st.below = spBelow(st, in)
		_, byReg := in.Args[1].(x86asm.Reg)
		if _, down := spMoveDown(in); down || in.Op == x86asm.SUB && byReg || in.Op == x86asm.AND {
			st.argOpen = false // (SP moved down: see argOpen)
		}
		if counted && born {
			st.gain, st.prev, st.moved = 0, st.hi, true
			st.rbpClean = st.rbpClean && st.rbpFP
			st.fresh, _ = spMoveDown(in)
			return nil
		}
		if st.rbpFP && st.rbpClean {
			switch s := in.Args[1].(type) {
			case x86asm.Reg:
				if in.Op == x86asm.MOV && s == x86asm.RBP {
					st.moved = false
				}
			case x86asm.Mem:
				if in.Op == x86asm.LEA && s.Base == x86asm.RBP && s.Index == 0 {
					st.moved = false
				}
			}
		}
		return nil
	}
	switch in.Op {
	case x86asm.PUSH, x86asm.POP, x86asm.CALL, x86asm.RET, x86asm.LEAVE:
		st.fresh = 0
	}
	if in.Op == x86asm.PUSH {
		st.argOpen = true
	}
	if in.Op == x86asm.LEAVE {
		if st.rbpFP && st.rbpClean {
			st.moved = false
		}
		st.rbpFP, st.rbpClean, st.slots = false, false, map[int64]uint8{}
		return nil
	}
	if in.Op == x86asm.MOV {
		if d, ok := in.Args[0].(x86asm.Reg); ok && d == x86asm.RBP {
			if s, ok := in.Args[1].(x86asm.Reg); ok && s == x86asm.RSP {
				if st.moved {
					return fmt.Errorf("rbp set from SP after an SP move")
				}
				st.rbpFP, st.rbpClean, st.slots = true, true, map[int64]uint8{}
				st.regs &^= 1 << famRBP
				st.below = 0
				return nil
			}
		}
	}
	switch in.Op {
	case x86asm.NOP, x86asm.PREFETCHT0, x86asm.PUSH, x86asm.TEST, x86asm.BT, x86asm.JMP, x86asm.RET:
		return nil
	}
	// Stores.
	if m, ok := in.Args[0].(x86asm.Mem); ok && in.Op != x86asm.CMP && in.Op != x86asm.CALL {
		if m.Base == x86asm.RSP || m.Index == x86asm.RSP {
			st.argOpen = true
		}
		if !memStoreOps[in.Op] && !isCmovOrSet(in.Op) {
			// (rep stos, cmpxchg, ...: registers written too)
			p.store(st, m, in.MemBytes)
			p.clobber(st)
			return nil
		}
		if born && (in.Op == x86asm.ADD || in.Op == x86asm.INC) && p.holdsSlot(st, m, in.MemBytes) {
			c := int64(1)
			if in.Op == x86asm.ADD {
				k, ok := in.Args[1].(x86asm.Imm)
				if !ok || k <= 0 || k >= maxCount {
					p.store(st, m, in.MemBytes)
					return nil
				}
				c = int64(k)
			}
			d := memDisp(m)
			w := st.slots[d]
			p.grow(st, c)
			st.regs, st.slots = 0, map[int64]uint8{d: w}
			return nil
		}
		p.store(st, m, in.MemBytes)
		if in.Op == x86asm.MOV && born {
			if s, ok := in.Args[1].(x86asm.Reg); ok {
				if f, w, ok := regFamily(s); ok && w >= 32 && st.regs&(1<<uint(f)) != 0 && p.slotUsable(st, m, in.MemBytes) {
					st.slots[memDisp(m)] = uint8(in.MemBytes)
					p.slotUsed = true
				}
			}
		}
		return nil
	}
	switch in.Op {
	case x86asm.CMP:
		if k, ok := in.Args[1].(x86asm.Imm); ok && born {
			switch a := in.Args[0].(type) {
			case x86asm.Reg:
				if f, w, ok := regFamily(a); ok && w >= 32 && st.regs&(1<<uint(f)) != 0 {
					st.flags = ctrFlags{ok: true, k: int64(k), width: w}
				}
			case x86asm.Mem:
				if p.holdsSlot(st, a, in.MemBytes) {
					st.flags = ctrFlags{ok: true, k: int64(k), width: 8 * in.MemBytes}
				}
			}
		}
		return nil
	case x86asm.CALL:
		for _, f := range sysvCallerSaved {
			st.regs &^= 1 << uint(f)
		}
		dropUnderSP(st)
		if len(p.taken) > 0 || st.argOpen || p.strict {
			st.slots = map[int64]uint8{}
		}
		st.argOpen = false
		return nil
	}
	if ws, ok := implicitWrites[in.Op]; ok {
		for _, f := range ws {
			st.regs &^= 1 << uint(f)
		}
		return nil
	}
	if in.Op == x86asm.IMUL && in.Args[1] == nil {
		st.regs &^= 1<<0 | 1<<2
		return nil
	}
	if in.Op == x86asm.XCHG {
		for _, a := range in.Args[:2] {
			switch a {
			case x86asm.RBP:
				// (rbp written: what it pointed to is no longer reached
				// through it.)
				st.rbpFP, st.rbpClean, st.slots = false, false, map[int64]uint8{}
			case x86asm.RSP:
				st.fresh = 0 // (SP written: rsp no longer at the block)
				st.below = belowUnknown
			}
			if r, ok := a.(x86asm.Reg); ok {
				if f, _, ok := regFamily(r); ok {
					st.regs &^= 1 << uint(f)
				}
			}
		}
		return nil
	}
	d, ok := in.Args[0].(x86asm.Reg)
	if !ok {
		if !oneDest[in.Op] {
			p.clobber(st)
		}
		return nil
	}
	f, w, isGPR := regFamily(d)
	if !isGPR {
		if !oneDest[in.Op] {
			p.clobber(st)
		}
		return nil // (a vector register)
	}
	if f == famRBP {
		st.rbpFP, st.rbpClean, st.slots = false, false, map[int64]uint8{}
	}
	if !oneDest[in.Op] && !isCmovOrSet(in.Op) && !(in.Op == x86asm.IMUL) {
		p.clobber(st)
		return nil
	}
	holds := st.regs&(1<<uint(f)) != 0
	st.regs &^= 1 << uint(f)
	if !born || w < 32 {
		return nil
	}
	switch in.Op {
	case x86asm.ADD, x86asm.INC:
		c := int64(1)
		if in.Op == x86asm.ADD {
			k, ok := in.Args[1].(x86asm.Imm)
			if !ok || k <= 0 || k >= maxCount || !holds {
				return nil
			}
			c = int64(k)
		}
		if holds {
			p.grow(st, c)
			st.regs, st.slots = 1<<uint(f), map[int64]uint8{}
		}
	case x86asm.LEA:
		m := in.Args[1].(x86asm.Mem)
		if m.Index != 0 || m.Segment != 0 {
			return nil
		}
		if b, _, ok := regFamily(m.Base); ok && b == f && holds && memDisp(m) > 0 && memDisp(m) < maxCount {
			p.grow(st, memDisp(m))
			st.regs, st.slots = 1<<uint(f), map[int64]uint8{}
		}
	case x86asm.MOV:
		switch s := in.Args[1].(type) {
		case x86asm.Reg:
			if g, sw, ok := regFamily(s); ok && sw >= 32 && st.regs&(1<<uint(g)) != 0 {
				st.regs |= 1 << uint(f)
			}
		case x86asm.Mem:
			if p.holdsSlot(st, s, in.MemBytes) && in.MemBytes >= 4 {
				st.regs |= 1 << uint(f)
			}
		}
	}
	return nil
}

// noteRSPAddr notes an address computed from rsp (lea, a copy of rsp),
// unless it points into the block a counted move just allocated.
func (p *ctrPass) noteRSPAddr(st *ctrState, in x86asm.Inst) {
	for i, a := range in.Args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			if a != x86asm.RSP || i == 0 && in.Op != x86asm.PUSH {
				continue
			}
			if d, ok := in.Args[0].(x86asm.Reg); ok && in.Op == x86asm.MOV && (d == x86asm.RBP || st.fresh > 0) {
				continue // (the frame pointer; the block's start)
			}
			p.rspAddr = true
		case x86asm.Mem:
			if in.Op != x86asm.LEA || a.Base != x86asm.RSP && a.Index != x86asm.RSP {
				continue
			}
			if d, ok := in.Args[0].(x86asm.Reg); ok && d == x86asm.RSP {
				continue
			}
			if a.Index == 0 && memDisp(a) >= 0 && memDisp(a) < st.fresh {
				continue
			}
			p.rspAddr = true
		}
	}
}

// noteFPCopy notes rbp, while it is the frame pointer, copied anywhere
// but SP: into a register (mov, xchg, an indexed lea, arithmetic with it
// as the source), or into memory (push, a store). Found by a red-team
// fixture (internal/analysis/redteam_frames_test.go): N spilled to a
// slot and reset through `mov %rbp,%rdx; movl $0,-0x14(%rdx)`, or by a
// callee given rbp, while the pass went on trusting the slot.
func (p *ctrPass) noteFPCopy(st *ctrState, in x86asm.Inst) {
	if !st.rbpFP {
		return
	}
	for i, a := range in.Args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			if a != x86asm.RBP || in.Op == x86asm.CMP || in.Op == x86asm.TEST {
				continue
			}
			if i == 0 && in.Op != x86asm.PUSH && in.Op != x86asm.XCHG {
				continue // (rbp written, not copied)
			}
			if d, ok := in.Args[0].(x86asm.Reg); ok && d == x86asm.RSP {
				continue // (SP restored from the frame pointer)
			}
			p.fpCopied = true
		case x86asm.Mem:
			if in.Op == x86asm.LEA && (a.Index == x86asm.RBP || a.Base == x86asm.RBP && a.Index != 0) {
				p.fpCopied = true
			}
		}
	}
}

func isCmovOrSet(op x86asm.Op) bool {
	return op >= x86asm.CMOVA && op <= x86asm.CMOVS || op >= x86asm.SETA && op <= x86asm.SETS
}

// grow is N += c.
func (p *ctrPass) grow(st *ctrState, c int64) {
	st.flags = ctrFlags{} // (what they said was of N before)
	if st.hi != ctrNone {
		st.hi += c
	}
	if st.gain != ctrNone {
		st.gain += c
	}
}

// clobber forgets every place holding N (an instruction whose writes the
// pass does not know); N itself is unchanged.
func (p *ctrPass) clobber(st *ctrState) {
	st.regs, st.slots = 0, map[int64]uint8{}
	st.rbpFP, st.rbpClean = false, false
}

// holdsSlot says whether the frame slot m (width bytes) holds N.
func (p *ctrPass) holdsSlot(st *ctrState, m x86asm.Mem, width int) bool {
	if m.Base != x86asm.RBP || m.Index != 0 || m.Segment != 0 || !st.rbpFP {
		return false
	}
	w, ok := st.slots[memDisp(m)]
	return ok && width >= 4 && width <= int(w)
}

// slotUsable says whether the frame slot m may hold N: addressed from a
// frame pointer, and its address never taken.
func (p *ctrPass) slotUsable(st *ctrState, m x86asm.Mem, width int) bool {
	if m.Base != x86asm.RBP || m.Index != 0 || m.Segment != 0 || !st.rbpFP || (width != 4 && width != 8) {
		return false
	}
	d := memDisp(m)
	for _, t := range p.taken {
		if t >= d && t < d+int64(width) {
			return false
		}
	}
	return true
}

// store drops the slots a store of width bytes at m may change.
func (p *ctrPass) store(st *ctrState, m x86asm.Mem, width int) {
	switch {
	case m.Base == x86asm.RBP && m.Index == 0 && m.Segment == 0 && st.rbpFP:
		d := memDisp(m)
		if width <= 0 {
			width = 8
		}
		for k, w := range st.slots {
			if k < d+int64(width) && d < k+int64(w) {
				delete(st.slots, k)
			}
		}
	case m.Base == x86asm.RSP || m.Base == x86asm.RBP || m.Index != 0 && (m.Index == x86asm.RSP || m.Index == x86asm.RBP):
		st.slots = map[int64]uint8{}
	}
}
