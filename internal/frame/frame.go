// Package frame computes one function's stack frame from its machine code:
// it follows the function's control flow with an isa.Decoder, tracks the
// stack pointer, and reports the deepest point (Frame.Size), whether that
// number can be trusted (Kind), and the function's call sites.
package frame

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/stackscope/stackscope/internal/isa"
)

// Kind says whether Size is the function's real frame.
type Kind uint8

const (
	// Static: Size is exact; the function never moves SP by a run-time amount.
	Static Kind = iota
	// Dynamic: SP moves by a run-time amount (alloca, VLA); Size is only
	// what the function uses besides that.
	Dynamic
	// Unknown: SP could not be followed (undecodable instruction, an SP
	// write the decoder does not model); Size is a lower bound at best.
	Unknown
)

func (k Kind) String() string {
	switch k {
	case Static:
		return "static"
	case Dynamic:
		return "dynamic"
	}
	return "unknown"
}

// CallKind distinguishes the ways a function hands control to another.
type CallKind uint8

const (
	Call             CallKind = iota // direct call; returns here
	TailCall                         // direct jump to another function's entry
	IndirectCall                     // call through a register or memory
	IndirectTailCall                 // jump through a register or memory that is not a jump table
)

func (c CallKind) String() string {
	return [...]string{"call", "tail-call", "indirect-call", "indirect-tail-call"}[c]
}

// Indirect reports whether the target is not encoded in the instruction.
func (c CallKind) Indirect() bool { return c == IndirectCall || c == IndirectTailCall }

// CallSite is one place where the function calls or tail-calls.
//
// The one-byte fields are together at the end: every frame keeps its
// call sites for the whole analysis (libLLVM-15: 1.3 million), and each
// padded to its own word made a site 80 bytes instead of 64.
type CallSite struct {
	Addr   uint64
	Target uint64 // direct calls
	Slot   uint64 // indirect calls through a fixed memory word (GOT)
	// Depth is the number of bytes below the caller's SP at the call
	// instruction, before the call pushes anything.
	Depth int64
	// From is, for an indirect call, where its target comes from as far
	// as the straight-line code before it shows (nil when not known).
	From    *Value
	Kind    CallKind
	HasSlot bool
	// AfterReset: the call comes after SP was set to the top of the main
	// stack (see Frame.Resets); Depth is then in bytes below that top,
	// not below the caller's SP.
	AfterReset bool
	// Dispatch: the call is a jump-table dispatch through a case helper
	// (see CaseTable): the callee returns into one of the table's cases,
	// not to the next instruction, and that is expected.
	Dispatch bool
	// ExcReturn says, for an indirect jump, whether its target may be a
	// Cortex-M EXC_RETURN value (see excReturns), and the frame's
	// ExcDetail why.
	ExcReturn ExcReturnKind
}

// Frame is the result for one function.
type Frame struct {
	// Size is the largest number of bytes below the caller's SP (at its
	// call) that the function's SP reaches, counting the return address a
	// call pushes: what GCC -fstack-usage prints.
	Size int64
	Kind Kind
	// The one-byte fields are here together (a graph keeps a frame per
	// function, 158,000 of them for libLLVM-15, and each field padded to
	// a word of its own made a frame 24 bytes larger): CFIChecked,
	// ReturnsElsewhere and LeavesKind are described with CFIMismatch, the
	// method ReturnsElsewhereAt and Leaves.
	CFIChecked       bool
	ReturnsElsewhere bool
	LeavesKind       Kind
	// JumpTables counts indirect jumps taken to be jump tables (an int32
	// here, in the room the one-byte fields leave before Reason, makes a
	// frame and so a callgraph.Node 8 bytes smaller).
	JumpTables int32
	// Reason and ReasonAddr say why Kind is not Static.
	Reason     string
	ReasonAddr uint64
	// RedZone is the number of bytes the function touches below its
	// deepest SP (x86-64 red zone); the stack bound adds them.
	RedZone int64
	Calls   []CallSite
	// Refs are the addresses the function's code computes (lea rip-relative,
	// literal pools), in address order without duplicates: the functions
	// among them may be called indirectly.
	Refs []uint64
	// Instructions is the number of instructions decoded.
	Instructions int
	// CFI cross-check: at the instruction after the deepest point, the CFA
	// from call-frame information, when it is SP-based (CFIChecked).
	CFIMismatch *Mismatch
	// Resets are the places where the function sets SP to the top of the
	// main stack (Input.MainStackTop). The code after one runs from depth
	// 0 of that stack, whatever its callers used: ResetSize is the deepest
	// it reaches there, in bytes below the top, and its call sites have
	// AfterReset set. Size counts only the code before a reset.
	Resets    []Reset
	ResetSize int64
	// Rare holds what few frames have (nil when none of it is set): read
	// it through LiteralReads, ReturnsElsewhereAt, TaskSwitches and
	// BoundedAmounts.
	Rare *Rare
	// SysWrites are the writes of PSP and CONTROL (msr) the walk went past
	// as if SP did not move, which holds only when the function runs in
	// handler mode (or, for PSP, on the main stack): the caller of Analyze
	// must check that (see Reset.Mode for MSP).
	SysWrites []SysWrite
	// CaseTables are the function's calls to case helpers (Input.
	// CaseHelpers), in address order: each table's bytes are data and its
	// targets are code of the function. One whose Entries is 0 could not
	// be read, and the frame is Unknown.
	CaseTables []CaseTable
	// CountedMoves are the SP moves Input.CountedMoves took as no move,
	// in address order: Size and the calls' depths leave them out.
	CountedMoves []uint64
	// Leaves are the places where the code sets SP to a value that is no
	// copy of SP and jumps through a register (longjmp, leave.go): paths
	// end there, and the frame is Unknown for them; LeavesKind is its
	// kind without them.
	Leaves []Leave
	// StackArgs are the SP restores from a stack word that a call's
	// callee could have written as one of its stack arguments, trusted
	// only by the stack-argument rule (argarea.go): an assumption about
	// the caller, which the call graph lists as a premise.
	StackArgs []StackArg
}

// Rare is the part of a frame that few functions have (Frame.Rare): as
// fields of Frame, its three slices and a word made every frame, and so
// every callgraph.Node (one per function: 158,000 for libLLVM-15 and its
// libraries), 80 bytes larger, a node 512 bytes instead of 448. A walk
// makes its own (rare); a copy of a frame shares it, and nothing changes
// it after the walk.
type Rare struct {
	// LiteralReads are the literal-pool words the function's code reads
	// (PC-relative loads, isa.Effect.Literal), in address order; Branch
	// marks a word read only to branch to it (see branchLiterals).
	LiteralReads []LiteralRead
	// ReturnsElsewhereAt is where the function writes LR before it
	// returns through it (Frame.ReturnsElsewhere).
	ReturnsElsewhereAt uint64
	// TaskSwitches are the places where the code sets SP to a task's
	// saved SP and resumes the task (stackswitch.go): paths end there.
	TaskSwitches []TaskSwitch
	// BoundedAmounts are the SP moves by a run-time amount that
	// Input.SPAmount bounded, in the order walked: Size counts them.
	BoundedAmounts []BoundedAmount
	// ExcDetails say why the call sites whose ExcReturn is set are what
	// they are, in the order walked (Frame.ExcDetail): kept here and not
	// in each CallSite, which is then 48 bytes and not 64 (libLLVM-15
	// keeps 1.3 million call sites, and no ExcReturn).
	ExcDetails []ExcDetail
}

// ExcDetail says why the indirect jump at Site may be an exception return
// (CallSite.ExcReturn).
type ExcDetail struct {
	Site   uint64
	Detail string
}

// ExcDetail says why the call site at site has its ExcReturn ("" when
// none is set).
func (f *Frame) ExcDetail(site uint64) string {
	if f.Rare == nil {
		return ""
	}
	for _, d := range f.Rare.ExcDetails {
		if d.Site == site {
			return d.Detail
		}
	}
	return ""
}

// LiteralReads are f.Rare.LiteralReads (nil without a Rare).
func (f *Frame) LiteralReads() []LiteralRead {
	if f.Rare == nil {
		return nil
	}
	return f.Rare.LiteralReads
}

// ReturnsElsewhereAt is f.Rare.ReturnsElsewhereAt: where the function
// writes LR before it returns through it, when ReturnsElsewhere (ARM), so
// that it does not come back to the instruction after its call: libgcc's
// case helpers do that. A caller that does not expect it
// (CallSite.Dispatch) runs code the walk of the caller cannot know: the
// call graph makes such a caller Unknown.
func (f *Frame) ReturnsElsewhereAt() uint64 {
	if f.Rare == nil {
		return 0
	}
	return f.Rare.ReturnsElsewhereAt
}

// TaskSwitches are f.Rare.TaskSwitches (nil without a Rare).
func (f *Frame) TaskSwitches() []TaskSwitch {
	if f.Rare == nil {
		return nil
	}
	return f.Rare.TaskSwitches
}

// BoundedAmounts are f.Rare.BoundedAmounts (nil without a Rare).
func (f *Frame) BoundedAmounts() []BoundedAmount {
	if f.Rare == nil {
		return nil
	}
	return f.Rare.BoundedAmounts
}

// rare is w.fr.Rare, made for this walk's frame when it has none.
func (w *walker) rare() *Rare {
	if w.fr.Rare == nil {
		w.fr.Rare = &Rare{}
	}
	return w.fr.Rare
}

// Mismatch records a disagreement between the code and the CFI.
type Mismatch struct {
	PC       uint64
	CFA      int64 // what the CFI says
	Computed int64 // what the code walk says
}

// Range is a half-open range of addresses.
type Range struct{ Begin, End uint64 }

// Input is everything Analyze needs about one function.
type Input struct {
	Addr    uint64
	Code    []byte // the function's bytes, Code[0] at Addr
	Decoder isa.Decoder
	// DataInCode are ranges that hold data (literal pools, jump tables)
	// and must not be decoded, sorted by address and not overlapping.
	DataInCode []Range
	// StackAlign is the ABI's SP alignment at a call (16 on x86-64, 8 on
	// AAPCS); it bounds how far an `and sp,-N` realignment can move SP.
	StackAlign int64
	// CFA, when not nil, returns the CFA offset (CFA = SP + n) at pc.
	CFA func(pc uint64) (int64, bool)
	// Continue, when not nil, is asked about a jump to code outside the
	// function. When that code starts no function (a GCC .cold part, a
	// shared epilogue in hand-written assembly), it returns the code from
	// there to the end of its region, and the walk follows the jump with
	// the function's own SP and frame pointer, as the processor does.
	Continue func(addr uint64) ([]byte, bool)
	// Tail are the bytes right after Code up to the next function (in the
	// same section, at most a few KiB), when no function starts there: an
	// assembler may place a function's literal pool past its symbol's
	// size (FreeRTOS's ARM_CM33 portasm.c). The decoder reads literals
	// there; the walk never runs into them.
	Tail []byte
	// MainStackTop, when HasMainStack, is the top of the Cortex-M main
	// stack: the initial SP in word 0 of the vector table. SP set to it
	// (see Reset) starts the stack afresh instead of being unknown.
	MainStackTop uint64
	HasMainStack bool
	// CaseHelpers maps the addresses of libgcc's switch helpers
	// (__gnu_thumb1_case_uqi and kin, found by name) to their kinds: a
	// call to one is a jump-table dispatch (see CaseTable).
	CaseHelpers map[uint64]CaseHelper
	// Thunk, when not nil, says whether code outside the function that
	// it calls or jumps to is a retpoline thunk (found by its name or
	// its code, see MatchThunk): the call is then an indirect call
	// through the thunk's register (x86regs.go).
	Thunk func(addr uint64) (Thunk, bool)
	// NoReturn, when not nil, says whether the function a direct call
	// goes to never returns (abort, __assert_fail, longjmp, ...): the
	// path ends at the call.
	NoReturn func(target uint64) bool
	// CalleeKey, when not nil, promises that every Input with this key
	// (compared with ==) has the same Thunk, NoReturn and Continue,
	// whose answers depend on the address alone: the walks then keep
	// those answers (Continue's noes only), per worker, across
	// functions (calleecache.go). A pooled walk's scratch holds on to
	// the last key it saw.
	CalleeKey any
	// Millicode, when not nil, says what the routine at target does to
	// SP when the code calls it through another link register than the
	// usual one, or jumps to it (RISC-V -msave-restore: see
	// AnalyzeMillicode).
	Millicode func(target uint64) (Millicode, bool)
	// ReadWord, when not nil, returns the pointer-sized word of read-only
	// data at addr (a const the linker filled): SP loaded from it is a
	// switch to a known stack (stackswitch.go).
	ReadWord func(addr uint64) (uint64, bool)
	// TaskPointer, when not nil, says whether addr is an RTOS variable
	// pointing to the running task's control block, whose first word is
	// the task's saved SP (FreeRTOS's pxCurrentTCB), and its name.
	TaskPointer func(addr uint64) (string, bool)
	// SPAmount, when not nil, gives the largest number of bytes the SP
	// move by a run-time amount at addr lowers SP by, when the caller
	// can bound it (spamount.go).
	SPAmount func(addr uint64) (int64, bool)
	// CountedMoves, when not nil, says whether the constant SP move down
	// at addr is one whose executions the caller counted and whose total
	// it adds itself (countedmoves.go): the walk takes it as no move.
	CountedMoves func(addr uint64) bool
	// StrictArgs turns the stack-argument rule off (argarea.go): every
	// stack word holding a copy of SP is dropped at a call (--strict).
	StrictArgs bool
}

// maxSegments bounds how many outside regions one walk follows.
const maxSegments = 32

// segment maps a stretch of the walker's offsets to addresses.
type segment struct {
	addr  uint64
	start int
	end   int
}

// inst is one decoded instruction of the walk's table. It holds no
// pointer (isa.Effect has none; the rare decoding error is kept in
// walker.errs): the table, hundreds of KiB for a large function, is then
// neither scanned by the collector nor written through its write
// barrier at every instruction decoded while a collection runs.
type inst struct {
	// (The small fields first, beside off: decode writes them and off
	// for each instruction, and after the 176-byte Effect they were at
	// times a cache line more to touch; the table is not in L1 on a
	// large function. BenchmarkWalk on node under cachegrind: L1 data
	// misses 56.4 -> 55.9 M.)
	off int
	// errAt is 1 + the index of the instruction's decoding error in
	// walker.errs, 0 when it decoded.
	errAt int32
	// writes is the instruction's isa.RegWriter mask, when hasWrites
	// (asked of the decoder once, see mayWrite).
	writes    uint32
	hasWrites bool
	// quiet says what run's shortcut needs of the path's state to skip
	// the instruction's general step (quietFlags; 0: no shortcut).
	quiet uint8
	eff   isa.Effect
}

// failed says whether the instruction did not decode (see walker.instErr).
func (in *inst) failed() bool { return in.errAt != 0 }

// state is a path's state at one instruction. It is copied at every
// instruction walked (the state before it, see run) and at every branch
// pushed, so its fields are ordered to leave no padding: the word-sized
// ones, then the small ones together (176 bytes to 144); its two
// pointers first, so that the collector's scan of a state ends there.
type state struct {
	// sp and ovr are the SP copies and return-address writes (x86regs.go).
	sp      *spCopies
	ovr     *retWrite
	depth   int64
	fpDepth int64
	// condLeft (Thumb) is how many instructions of an IT block are left.
	condLeft int
	limit    int64
	// local counts the calls to code no function starts that the path
	// is inside, localAt the innermost one's address (see ra).
	local   int
	localAt uint64
	// retAt is the depth at which a ret returns from the innermost local
	// call the path is inside (the entry's: the return address size).
	retAt int64
	// cps (RISC-V, see spcopy.go) are registers holding a copy of SP,
	// the latest first.
	cps [2]cpState
	// args (x86-64) are the words a call's callee may own as its stack
	// arguments (argarea.go).
	args argArea
	// raCall (RISC-V) is 1 + the offset after the call that last wrote
	// the link register on this path, 0 when something else did or none.
	raCall int32
	// ra (ARM) are the registers that may hold the function's return
	// address: LR at the entry; a copy of one; a value loaded from the
	// stack (taken for the saved LR, as pop {pc} is taken for a return).
	// A call, or any other write, takes a register out.
	ra uint16
	// raReg (x86) are the registers holding the entry's return address
	// (popped into them); topReg is 1 + the register the instruction
	// just before stored at SP (push rax; ret), 0 for none.
	raReg  uint16
	topReg int8
	// afterReset: depth is measured from the top of the main stack, after
	// a Reset, not from the caller's SP.
	afterReset bool
	fpOK       bool
	limitOK    bool
	// dyn (x86-64) says SP moved by a run-time amount (a VLA, alloca)
	// since it was last set from a value the walk knows: SP-relative
	// addresses then point into what that move allocated, at a depth the
	// walk does not know (spslot.go).
	dyn bool
}

// scratch holds the per-offset tables of one walk; they are reused from
// walk to walk because whole programs have hundreds of thousands of
// functions and allocating them afresh dominated the run time.
type scratch struct {
	index  []int32
	seen   []int64
	visits []uint8
	insts  []inst
	// The walker itself (about 800 bytes), its work stack, its call
	// sites and their index, and the slicer's tables are kept too: on
	// /usr/bin/node they were a third of the bytes the frame walk
	// allocated (the stack and the call list regrown from nothing for
	// each of 77,000 functions).
	w     walker
	stack []work
	calls []CallSite
	// callIdx and callIdxReset are the walker's tables of the same
	// names.
	callIdx, callIdxReset offTable[int32]
	slicers               slicerTables
	// segs is the walker's segment list (one per function at least: an
	// allocation per walk); refs the frame's Refs while it is walked
	// (copied out exactly, as the calls), frameAddrs the walker's.
	segs       []segment
	refs       []uint64
	frameAddrs []frameAddr
	// joins and argSeen are the walker's tables of the same names.
	joins   offTable[joinState]
	argSeen offTable[argArea]
	// callees are the Thunk and NoReturn answers of the walks with a
	// CalleeKey (calleecache.go).
	callees calleeCache
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

func (s *scratch) reset(n int) {
	// The tables grow to twice their size at least: made to each larger
	// function's exact size, a walker's tables were made again at most
	// of the functions, in the order the walk meets them (libLLVM-15: 81
	// MB of garbage, while the graph is built).
	if cap(s.index) < n {
		room := max(n, 2*cap(s.index))
		s.index = make([]int32, room)
		s.seen = make([]int64, room)
		s.visits = make([]uint8, room)
	}
	s.index, s.seen, s.visits = s.index[:n], s.seen[:n], s.visits[:n]
	clear(s.index)
	clear(s.visits)
	fillNever(s.seen)
	if cap(s.insts) < n/3 {
		s.insts = make([]inst, 0, max(n/3+8, 2*cap(s.insts)))
	}
}

// fillNever sets every element of seen to -1 (never walked) by doubling
// copies: a loop storing one element at a time was 1.6% of a program's
// walk (every byte of every function's code).
func fillNever(seen []int64) {
	if len(seen) == 0 {
		return
	}
	seen[0] = -1
	for n := 1; n < len(seen); n *= 2 {
		copy(seen[n:], seen[:n])
	}
}

// maxLoopGrowth is how many times a loop that moves SP is walked before the
// frame is declared dynamic.
const maxLoopGrowth = 8

type walker struct {
	in Input
	// into is in.Decoder as an isa.IntoDecoder, when it is one (asked
	// once per walk, not at every instruction).
	into isa.IntoDecoder
	// intoFn is in.Decoder's isa.IntoFunc, when it has one (called
	// before into: one call level less per instruction).
	intoFn isa.IntoFunc
	// callees caches in's Thunk and NoReturn answers (the scratch's,
	// nil without a CalleeKey).
	callees  *calleeCache
	code     []byte    // the function's code, then its parts
	segs     []segment // where each stretch of code lies
	ra       int64
	insts    []inst
	index    []int32 // code offset -> 1 + index in insts; 0 = not decoded
	seen     []int64 // depth at which an offset was walked; -1 = never
	visits   []uint8
	fr       Frame
	maxAt    uint64 // address of the instruction after the deepest point
	maxOK    bool
	maxTouch int64
	// callIdx (and callIdxReset, for the code after a reset) map the
	// offset of a call site walked to its index in fr.Calls; callAt the
	// address of one outside the walk's code, if any.
	callIdx, callIdxReset offTable[int32]
	callAt                map[callKey]int
	// stack is the work stack's storage between walks; slicers the
	// slicer's tables (both the scratch's).
	stack   []work
	slicers *slicerTables
	// resetSeen and resetVisits are seen and visits for the code walked
	// after a reset (allocated at the first one): the same instruction
	// can run before and after a reset, with depths of different origins.
	resetSeen   []int64
	resetVisits []uint8
	// resetAt maps the offset of an SP write the walk took for a reset to
	// its index in fr.Resets; refused lists those it did not (both are
	// checked again once the whole function is known, see checkResets).
	resetAt       map[int]int
	refused       map[int]bool
	indirectJumps []struct {
		addr uint64
		st   state
	}
	// tableTargets are the offsets walked as jump-table targets.
	tableTargets []int
	// dispatches are the calls to case helpers reached (dispatchAt: by
	// offset); caseData their tables' bytes, sorted.
	dispatches []*dispatch
	dispatchAt map[int]*dispatch
	caseData   []Range
	// lr is the link register's number (-1: the return address is on
	// the stack); raWalked is, for each offset walked (and walk kind:
	// after a reset or not), the registers that held the return address
	// on every walk through it (state.ra).
	lr       int8
	raWalked map[callKey]uint16
	// withTailCode is the function's code followed by Input.Tail (see
	// withTail), made when first needed.
	withTailCode []byte
	// spRegs are the SP moves by a register taken as the constant the
	// code before them shows (offset -> amount), checked again once the
	// whole function is known (checkSPRegisters).
	spRegs map[int]int64
	// joins and regSites serve the x86-64 tracking of SP copies
	// and return addresses (x86regs.go); regs says it is on.
	joins    offTable[joinState]
	regSites map[uint64]regSite
	regs     bool
	// copies turns on the tracking of SP copies (spcopy.go); cpSeen,
	// cpConflict and cpRestored serve it.
	copies     bool
	spReg      int8
	callerSave uint32
	cpSeen     map[callKey][2]cpState
	cpConflict uint64
	cpRestored uint64
	// frameAddrs and slotRestores serve the SP saved in a frame slot
	// (spslot.go).
	frameAddrs   []frameAddr
	slotRestores []slotRestore
	// slotStored, argTrack, argSeen and argLost serve the stack-argument
	// areas of calls (argarea.go).
	slotStored bool
	argTrack   bool
	argSeen    offTable[argArea]
	argLost    []argLoss
	// literals says an instruction decoded without error reads a literal
	// (isa.Effect.LiteralSize) or is a movt (DefHigh16): without one,
	// branchLiterals has nothing to find.
	literals bool
	// keptFromSP and lostLoads say where the stack-argument rule kept an
	// SP copy, and which loads read one a call dropped (argarea.go).
	keptFromSP []keptAt
	lostLoads  []lostLoad
	// errs are the decoding errors of insts (inst.errAt).
	errs []error
	// fast lets run take its shortcut for quiet instructions (see
	// quietFlags).
	fast bool
}

// Analyze walks one function and returns its frame. It never panics on any
// byte sequence: what cannot be decoded makes the frame Unknown.
func Analyze(in Input) Frame {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	w := &sc.w
	fr := w.begin(in, sc, false)
	if w.slotStored {
		// SP or a copy of it went to a stack word: walked again, this
		// time following the stack-argument areas of the calls, which
		// a callee may write (argarea.go).
		fr = w.begin(in, sc, true)
	}
	// The call list is the scratch's: the frame gets an exact copy
	// (which is also all the result keeps, not append's spare room).
	sc.calls = fr.Calls[:0]
	fr.Calls = slices.Clone(fr.Calls)
	if len(fr.Calls) == 0 {
		fr.Calls = nil
	}
	// The references too (Refs is nil when there are none, as before).
	sc.refs = fr.Refs[:0]
	fr.Refs = slices.Clone(fr.Refs)
	if len(fr.Refs) == 0 {
		fr.Refs = nil
	}
	sc.stack = w.stack[:0]
	sc.insts = w.insts[:0]
	sc.segs = w.segs[:0]
	sc.frameAddrs = w.frameAddrs[:0]
	// Nothing of this function is kept alive by the pooled walker.
	*w = walker{}
	return fr
}

// begin sets the walker up for in and walks it (argTrack: see
// argarea.go).
func (w *walker) begin(in Input, sc *scratch, argTrack bool) Frame {
	*w = walker{in: in, ra: in.Decoder.ReturnAddressSize(), code: in.Code, lr: -1, argTrack: argTrack}
	w.into, _ = in.Decoder.(isa.IntoDecoder)
	if d, ok := in.Decoder.(isa.IntoFuncDecoder); ok {
		w.intoFn = d.IntoFunc()
	}
	if in.CalleeKey != nil {
		sc.callees.use(in.CalleeKey)
		w.callees = &sc.callees
	}
	w.fr.Calls, w.stack = sc.calls[:0], sc.stack[:0]
	w.callIdx, w.callIdxReset = sc.callIdx, sc.callIdxReset
	w.fr.Refs, w.frameAddrs = sc.refs[:0], sc.frameAddrs[:0]
	w.slicers = &sc.slicers
	w.slicers.reset()
	w.joins, w.argSeen = sc.joins, sc.argSeen
	fr := w.analyze(sc)
	sc.joins, sc.argSeen = w.joins.release(), w.argSeen.release()
	sc.callIdx, sc.callIdxReset = w.callIdx.release(), w.callIdxReset.release()
	return fr
}

func (w *walker) analyze(sc *scratch) Frame {
	in := w.in
	if d, ok := in.Decoder.(interface{ LinkRegister() int8 }); ok {
		w.lr = d.LinkRegister()
	}
	w.segs = append(sc.segs[:0], segment{addr: in.Addr, start: 0, end: len(in.Code)})
	n := len(w.code)
	sc.reset(n)
	w.index, w.seen, w.visits, w.insts = sc.index, sc.seen, sc.visits, sc.insts[:0]
	w.fr.Size = w.ra
	w.maxTouch = w.ra
	if n == 0 {
		w.fr.Kind = Unknown
		w.fr.Reason = "function has no code"
		w.fr.ReasonAddr = in.Addr
		return w.fr
	}
	start := state{depth: w.ra, retAt: w.ra}
	w.regs = w.tracksRegs()
	w.copies = w.tracksSPCopies()
	w.fast = w.lr < 0 && !w.copies && !noQuiet
	if w.lr >= 0 {
		start.ra = 1 << uint(w.lr)
	}
	w.walk(0, start)
	w.resolveDispatches()
	w.resolveIndirectJumps()
	w.resolveDispatches() // (a table's cases may hold more)
	w.checkDispatches()
	w.checkResets()
	w.checkSPRegisters()
	w.checkSPCopies()
	w.checkSlotRestores()
	w.checkLeaves()
	if w.maxTouch > w.fr.Size {
		w.fr.RedZone = w.maxTouch - w.fr.Size
	}
	if in.CFA != nil && w.maxOK && w.fr.Kind == Static {
		if cfa, ok := in.CFA(w.maxAt); ok {
			w.fr.CFIChecked = true
			if cfa != w.fr.Size {
				w.fr.CFIMismatch = &Mismatch{PC: w.maxAt, CFA: cfa, Computed: w.fr.Size}
			}
		}
	}
	w.traceTargets()
	w.pageRefs()
	w.excReturns()
	w.branchLiterals()
	// (slices.SortFunc, not sort.Slice: the same pattern-defeating
	// quicksort, so the same order of calls at one address, without
	// sort.Slice's two allocations per walk.)
	slices.SortFunc(w.fr.Calls, func(a, b CallSite) int { return cmp.Compare(a.Addr, b.Addr) })
	w.fr.Refs = dedupe(w.fr.Refs)
	return w.fr
}

func (w *walker) setKind(k Kind, addr uint64, format string, args ...any) {
	if k <= w.fr.Kind && w.fr.Kind != Static {
		return
	}
	if k < w.fr.Kind {
		return
	}
	w.fr.Kind = k
	w.fr.Reason = fmt.Sprintf(format, args...)
	w.fr.ReasonAddr = addr
}

// segmentOf returns the segment holding code offset off.
func (w *walker) segmentOf(off int) segment {
	for i := len(w.segs) - 1; i > 0; i-- {
		if off >= w.segs[i].start {
			return w.segs[i]
		}
	}
	return w.segs[0]
}

// addr returns the address of code offset off.
func (w *walker) addr(off int) uint64 {
	if len(w.segs) == 1 {
		// The function's own code alone (nearly every walk): asked at
		// every instruction, segmentOf's loop and copy cost 1.8% of a
		// program's walk.
		return w.segs[0].addr + uint64(off-w.segs[0].start)
	}
	sg := w.segmentOf(off)
	return sg.addr + uint64(off-sg.start)
}

// segEnd returns the end offset of the segment holding off.
func (w *walker) segEnd(off int) int {
	if len(w.segs) == 1 {
		return w.segs[0].end // (as in addr)
	}
	return w.segmentOf(off).end
}

// offset returns the code offset of addr when it lies in the function.
func (w *walker) offset(addr uint64) (int, bool) {
	for _, sg := range w.segs {
		if addr >= sg.addr && addr < sg.addr+uint64(sg.end-sg.start) {
			return sg.start + int(addr-sg.addr), true
		}
	}
	return 0, false
}

// extend adds the outside code at addr to the walk (see Input.Continue).
func (w *walker) extend(addr uint64) (int, bool) {
	if w.in.Continue == nil || len(w.segs) >= maxSegments {
		return 0, false
	}
	code, ok := w.continueAt(addr)
	if !ok || len(code) == 0 {
		return 0, false
	}
	// The new stretch must not overlap one already walked.
	end := addr + uint64(len(code))
	for _, sg := range w.segs {
		if sgEnd := sg.addr + uint64(sg.end-sg.start); addr < sgEnd && sg.addr < end {
			code = code[:sg.addr-addr]
			end = sg.addr
		}
	}
	if len(code) == 0 {
		return 0, false
	}
	start := len(w.code)
	if len(w.segs) == 1 {
		w.code = append([]byte(nil), w.code...)
	}
	w.code = append(w.code, code...)
	w.segs = append(w.segs, segment{addr: addr, start: start, end: len(w.code)})
	w.index = append(w.index, make([]int32, len(code))...)
	w.visits = append(w.visits, make([]uint8, len(code))...)
	for range code {
		w.seen = append(w.seen, -1)
	}
	if w.resetSeen != nil {
		w.resetVisits = append(w.resetVisits, make([]uint8, len(code))...)
		for range code {
			w.resetSeen = append(w.resetSeen, -1)
		}
	}
	return start, true
}

func (w *walker) isData(off int) bool {
	// Asked at every instruction walked; x86-64 code has neither (this
	// test alone, so that it is inlined into the walk's loop).
	if len(w.in.DataInCode) == 0 && len(w.caseData) == 0 {
		return false
	}
	return w.inData(off)
}

// inData is isData for a walk with data ranges.
func (w *walker) inData(off int) bool {
	a := w.addr(off)
	return inRanges(w.in.DataInCode, a) || inRanges(w.caseData, a)
}

// inRanges says whether a lies in one of the sorted ranges r.
func inRanges(r []Range, a uint64) bool {
	i := sort.Search(len(r), func(i int) bool { return r[i].End > a })
	return i < len(r) && r[i].Begin <= a
}

// decode returns the instruction at off, decoding it once.
func (w *walker) decode(off int) *inst {
	if i := w.index[off]; i != 0 {
		return &w.insts[i-1]
	}
	end := w.segEnd(off)
	// Decoded straight into the table (isa.DecodeInto: no copies of the
	// Effect). The slot is not cleared first: DecodeInto sets the whole
	// Effect, and off and err are set here (clearing the 200-byte slot
	// twice was a tenth of the decoding).
	if len(w.insts) < cap(w.insts) {
		w.insts = w.insts[:len(w.insts)+1]
	} else {
		w.insts = append(w.insts, inst{})
	}
	in := &w.insts[len(w.insts)-1]
	in.off = off
	eff := &in.eff
	var err error
	if w.intoFn != nil {
		err = w.intoFn(w.code[off:end], w.addr(off), eff)
	} else if w.into != nil {
		err = w.into.DecodeInto(w.code[off:end], w.addr(off), eff)
	} else {
		err = isa.DecodeInto(w.in.Decoder, w.code[off:end], w.addr(off), eff)
	}
	in.errAt, in.hasWrites, in.quiet = 0, false, 0
	if err == nil {
		if eff.LiteralSize > 0 && end == w.segs[0].end && len(w.in.Tail) > 0 {
			*eff = w.withTail(off, *eff)
		}
		switch {
		case eff.Len <= 0:
			err = fmt.Errorf("decoder returned length %d", eff.Len)
		case off+eff.Len > end:
			// An instruction that straddles the function's end: the code
			// runs on past the symbol's size.
			err = fmt.Errorf("instruction runs past the end of the function")
		default:
			if eff.LiteralSize > 0 || eff.DefKind == isa.DefHigh16 {
				w.literals = true
			}
			in.quiet = quietFlags(eff)
		}
	}
	if err != nil {
		w.errs = append(w.errs, err)
		in.errAt = int32(len(w.errs))
	}
	w.index[off] = int32(len(w.insts))
	w.fr.Instructions++
	return in
}

// Bits of inst.quiet: quietStep says the instruction leaves SP
// (SPNone), neither sets nor adjusts FP nor saves an SP limit, starts no
// IT block, computes no reference, stores no register, writes at most a
// register run's tracking does not follow (regsQuiet's DefNone,
// DefOther, DefLoad) and accesses no SP- or FP-relative memory but to
// load from it, and falls through or is a conditional branch to a known
// target (quietJcc). On a path with no SP copy and no register holding
// the return address, run's general step then changes nothing but the
// deepest access (a load's), topReg and the argument area's slack, and
// pushes the branch's target, on x86-64 (no link register, no RISC-V
// copies: walker.fast). quietFP: it uses or clobbers FP, which matters
// only while FP is set from SP; quietLoad: a load, which matters only
// when a call dropped an SP copy (regsQuiet).
const (
	quietStep uint8 = 1 << iota
	quietFP
	quietLoad
	quietJcc
)

// quietFlags is inst.quiet for the instruction e.
func quietFlags(e *isa.Effect) uint8 {
	if e.SP != isa.SPNone || e.SetsFP || e.AdjustsFP || e.SavesSPLimit || e.CondNext != 0 || e.HasStore {
		return 0
	}
	q := quietStep
	switch e.Flow {
	case isa.FlowNext:
	case isa.FlowCondJump:
		if !e.HasTarget {
			return 0
		}
		q |= quietJcc
	default:
		return 0
	}
	switch e.DefKind {
	case isa.DefLoad:
		q |= quietLoad
	case isa.DefCopy, isa.DefAddImm:
		// (A copy of SP or FP, or an address from them, is a frame
		// address or an SP copy trackRegs notes.)
		if e.DefSrc == regSP || e.DefSrc == regFP || e.Access != isa.BaseNone {
			return 0
		}
	case isa.DefNone, isa.DefOther, isa.DefConst, isa.DefAddr:
		if e.Access != isa.BaseNone {
			return 0 // (a store to the stack: trackRegs follows it)
		}
	default:
		return 0
	}
	if e.UsesFP || e.ClobbersFP {
		q |= quietFP
	}
	return q
}

// quietJump says whether run's shortcut may take the conditional
// branch e (quietJcc) on a path with or without a stack-clash limit:
// a branch into the function (*to: its target's offset) on a path with
// no limit, which the general step pushes with the state after it.
// (targetOffset may extend the code; the general step would have asked
// it first as well.)
func (w *walker) quietJump(e *isa.Effect, limitOK bool, to *int) bool {
	if limitOK {
		return false
	}
	t, inside := w.targetOffset(e)
	*to = t
	return inside
}

// instErr is the decoding error of in (nil when it decoded).
func (w *walker) instErr(in *inst) error {
	if in.errAt == 0 {
		return nil
	}
	return w.errs[in.errAt-1]
}

// withTail decodes the instruction at off (in the function's own code)
// again with Input.Tail after the code, when the literal it reads lies
// there: the decoder reads only the bytes it is given. The instruction
// itself must still end inside the function (decode checks that).
func (w *walker) withTail(off int, eff isa.Effect) isa.Effect {
	end := w.in.Addr + uint64(w.segs[0].end)
	tailEnd := end + uint64(len(w.in.Tail))
	if eff.Literal+uint64(eff.LiteralSize) <= end || eff.Literal >= tailEnd || eff.Literal+uint64(eff.LiteralSize) > tailEnd {
		return eff
	}
	if w.withTailCode == nil {
		w.withTailCode = append(append(make([]byte, 0, w.segs[0].end+len(w.in.Tail)), w.code[:w.segs[0].end]...), w.in.Tail...)
	}
	e, err := w.in.Decoder.Decode(w.withTailCode[off:], w.addr(off))
	if err != nil || e.Len != eff.Len {
		return eff
	}
	return e
}

type work struct {
	off int
	st  state
}

func (w *walker) walk(start int, st state) {
	// The walker's stack, taken while in use (a walk inside a walk, if
	// one ever came, would start its own).
	stack := append(w.stack[:0], work{start, st})
	w.stack = nil
	for len(stack) > 0 {
		wk := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		stack = w.run(wk.off, wk.st, stack)
	}
	w.stack = stack[:0]
}

// run follows straight-line code from off, pushing branch targets on stack.
func (w *walker) run(off int, st state, stack []work) []work {
	var jumpTo int // (quietJump's)
	for {
		if off < 0 || off >= len(w.code) || w.isData(off) {
			return stack
		}
		// (Taken afresh each time: extend grows the tables.)
		seen, visits := w.seen, w.visits
		if st.afterReset {
			seen, visits = w.resetSeen, w.resetVisits
		}
		addr := w.addr(off)
		if prev := seen[off]; prev >= 0 {
			again := w.regs && w.joinAgain(off, &st, true)
			if w.argTrack && w.joinArgs(off, &st, true) {
				again = true
			}
			if w.copies {
				w.joinCopy(off, addr, st)
			}
			if st.depth <= prev {
				if !again && (w.lr < 0 || w.raWalked[callKey{uint64(off), st.afterReset}]&^st.ra == 0) {
					return stack
				}
				// Walked before with a register holding the return
				// address that does not now: once more (see ra).
			} else {
				// The same instruction reached with SP deeper than before: a
				// loop that moves SP.
				visits[off]++
				if st.limitOK && st.depth < st.limit {
					// A stack-clash probe loop: skip ahead to its last
					// iteration, which brings SP exactly to the limit.
					step := st.depth - prev
					if last := st.limit - step; last > st.depth {
						st.depth = last
					}
				} else if visits[off] > maxLoopGrowth {
					w.setKind(Dynamic, addr, "SP moves down in a loop at %#x", addr)
					return stack
				}
			}
		}
		if w.lr >= 0 {
			if w.raWalked == nil {
				w.raWalked = map[callKey]uint16{}
			}
			k := callKey{uint64(off), st.afterReset}
			if ra, ok := w.raWalked[k]; ok {
				w.raWalked[k] = ra & st.ra
			} else {
				w.raWalked[k] = st.ra
			}
		}
		if w.regs && seen[off] < 0 {
			if !st.plain() {
				// (For a plain state, all joinAgain does at an offset
				// not walked before is nothing: the test here, inlined,
				// spares a call per instruction.)
				w.joinAgain(off, &st, false)
			}
			if w.argTrack {
				w.joinArgs(off, &st, false)
			}
		}
		if w.copies && seen[off] < 0 {
			w.joinCopy(off, addr, st)
		}
		seen[off] = max(seen[off], st.depth)
		in := w.decode(off)
		if in.failed() {
			w.setKind(Unknown, addr, "%v at %#x", w.instErr(in), addr)
			return stack
		}
		e := &in.eff
		if q := in.quiet; q != 0 && w.fast && st.condLeft == 0 && st.sp == nil && st.raReg == 0 &&
			(q&quietFP == 0 || !st.fpOK) && (q&quietLoad == 0 || len(w.argLost) == 0) && (q&quietJcc == 0 || w.quietJump(e, st.limitOK, &jumpTo)) {
			// An instruction that moves no SP, writes no stack word, sets
			// no frame pointer and falls through or branches inside the
			// function, on a path with no SP copy or return address in a
			// register (see quietFlags): what the general step below
			// would do, without the copy of the state and the forty
			// tests per instruction, for most instructions of compiled
			// x86-64 code.
			if q&quietLoad != 0 && !st.afterReset {
				switch {
				case e.Access == isa.BaseSP:
					w.touch(st.depth - e.AccessOff)
				case e.Access == isa.BaseFP && st.fpOK:
					w.touch(st.fpDepth - e.AccessOff)
				}
			}
			switch {
			case st.afterReset:
				w.fr.ResetSize = max(w.fr.ResetSize, st.depth)
			case st.depth > w.fr.Size:
				w.fr.Size = st.depth
				w.maxAt = addr + uint64(e.Len)
				w.maxOK = true
			}
			if st.depth < 0 {
				if st.afterReset {
					w.setKind(Unknown, addr, "SP rises above the top of the main stack at %#x", addr)
				} else {
					w.setKind(Unknown, addr, "SP rises above the caller's SP at %#x", addr)
				}
				return stack
			}
			if e.HasRef {
				w.fr.Refs = append(w.fr.Refs, e.Ref)
			}
			if w.regs {
				if quietCheck != nil {
					quietCheck(w, off, e, st, st)
				}
				st.topReg = 0 // (regsQuiet's)
				if w.argTrack && !st.dyn {
					st.args.slack = 0 // (all trackArgs does)
				}
			}
			if q&quietJcc != 0 {
				stack = append(stack, work{jumpTo, st})
			}
			off += e.Len
			continue
		}
		cond := st.condLeft > 0
		if cond {
			st.condLeft--
		}
		// A conditional instruction (Thumb IT block) may not execute: the
		// path that falls through keeps the state from before it.
		pre := st
		// Memory below SP: the red zone.
		switch {
		case st.afterReset:
			// (Red zones are x86-64's; SP resets are Cortex-M's.)
		case e.Access == isa.BaseSP:
			w.touch(st.depth - e.AccessOff)
		case e.Access == isa.BaseFP && st.fpOK:
			w.touch(st.fpDepth - e.AccessOff)
		}
		switch e.SP {
		case isa.SPAdd:
			if e.SPDelta < 0 && w.countedMove(addr) {
				// Counted by the caller (countedmoves.go): SP-relative
				// addresses below it are not at a known depth.
				st.dyn = true
				break
			}
			st.depth -= e.SPDelta
		case isa.SPAlign:
			if w.regs && st.sp != nil && st.sp.valid != 0 {
				st.depth = drapRealign(st.depth, e.SPAlignment)
				break
			}
			st.depth = w.realign(st.depth, e.SPAlignment)
		case isa.SPFromFP:
			if !st.fpOK {
				w.setKind(Unknown, addr, "SP restored from a frame pointer that was not set from SP, at %#x", addr)
				return stack
			}
			st.depth = st.fpDepth - e.SPDelta
			st.dyn = false
			if e.HasSPReg {
				// FP plus a register: its constant, when the code proves it
				v, ok := w.spRegister(off, e)
				if !ok {
					w.setKind(Unknown, addr, "SP restored at %#x from the frame pointer plus a register whose value is not a proved constant", addr)
					return stack
				}
				st.depth += v
			}
		case isa.SPDynamic:
			if v, ok := w.spRegister(off, e); ok {
				st.depth += v
				break
			}
			if v, ok := w.boundedAmount(addr); ok {
				// An upper bound, not the amount: SP-relative
				// addresses below it are not at a known depth
				// (spslot.go), so the move still counts as dynamic
				// for them.
				st.depth += v
				st.dyn = true
				st.args.slack += v
				break
			}
			w.setKind(Dynamic, addr, "SP moved by a run-time amount at %#x (alloca or variable-length array)", addr)
			st.dyn = true
		case isa.SPUnknown:
			if d, ok := w.spCopyRestore(e, &st, addr); ok {
				st.depth = d
				break
			}
			if d, ok := w.slotRestoreDepth(e, &st, addr); w.regs && ok {
				// SP loaded from a frame slot holding a copy of it
				// (spslot.go).
				st.depth, st.dyn = d, false
				break
			}
			if d, ok := w.spRestore(e, &st, addr); ok && w.regs {
				// SP set from a register holding a copy of it.
				st.depth, st.dyn = d, false
				break
			}
			switch w.stackWrite(off, e, cond) {
			case writeOtherStack:
				// The running SP does not move (see SysWrites).
			case writeReset:
				stack = append(stack, work{off + e.Len, state{afterReset: true, ra: st.ra}})
				return stack
			case writeTask:
				// A task resumes on its own stack (stackswitch.go).
				return stack
			default:
				if w.leaves(off, addr, e, cond) {
					// SP and PC from somewhere else: longjmp (leave.go).
					return stack
				}
				if !w.lostArgSlot(e, &pre, addr) {
					w.setKind(Unknown, addr, "SP written in a way not modelled at %#x", addr)
				}
				return stack
			}
		}
		switch {
		case st.afterReset:
			w.fr.ResetSize = max(w.fr.ResetSize, st.depth)
		case st.depth > w.fr.Size:
			w.fr.Size = st.depth
			w.maxAt = addr + uint64(e.Len)
			w.maxOK = true
		}
		if st.depth < 0 {
			if st.afterReset {
				w.setKind(Unknown, addr, "SP rises above the top of the main stack at %#x", addr)
			} else {
				w.setKind(Unknown, addr, "SP rises above the caller's SP at %#x", addr)
			}
			return stack
		}
		if e.SetsFP {
			st.fpOK, st.fpDepth = true, st.depth-e.FPOffset
		} else if e.AdjustsFP {
			st.fpDepth -= e.FPDelta
		} else if e.ClobbersFP {
			st.fpOK = false
		}
		if e.SavesSPLimit {
			if lim, ok := w.spLimit(off, e); ok {
				st.limitOK, st.limit = true, st.depth-lim
			} else {
				st.limitOK = false
			}
		}
		if e.CondNext > 0 {
			st.condLeft = e.CondNext
		}
		if e.HasRef {
			w.fr.Refs = append(w.fr.Refs, e.Ref)
		}
		if w.lr >= 0 {
			w.trackRA(e, &st, pre, cond)
		}
		if w.regs {
			if !noQuiet && regsQuiet(e, &pre, &st, len(w.argLost)) {
				if quietCheck != nil {
					// (The states by value: their addresses given to a
					// function value would move them to the heap, an
					// allocation per instruction.)
					quietCheck(w, off, e, pre, st)
				}
				st.topReg = 0 // (all trackRegs would do)
			} else {
				w.trackRegs(off, e, &pre, &st)
			}
			if w.argTrack {
				w.trackArgs(off, addr, e, &pre, &st)
			}
		}
		if w.copies {
			w.trackSPCopy(e, &st)
			w.trackRACall(off, e, &st)
		}
		next := off + e.Len
		switch e.Flow {
		case isa.FlowNext:
		case isa.FlowJump, isa.FlowCondJump:
			if t, ok := w.targetOffset(e); ok && e.Flow == isa.FlowCondJump && st.limitOK && st.depth == st.limit && w.seenAt(st, t) >= 0 && st.depth > w.seenAt(st, t) {
				// The probe loop's `cmp sp,limit; jne loop` at the limit:
				// the loop is done.
				break
			}
			if t, inside := w.targetOffset(e); inside {
				if e.Flow == isa.FlowCondJump && st.limitOK && st.depth < st.limit && w.seenAt(st, t) >= 0 && st.depth > w.seenAt(st, t) {
					// The back edge of a loop that moves SP toward a
					// saved limit (a stack-clash probe loop): it cannot
					// exit before SP reaches the limit.
					off = t
					continue
				}
				if e.Flow == isa.FlowJump && !cond {
					off = t
					continue
				}
				stack = append(stack, work{t, st})
			} else if t, ok := w.thunkCall(addr, off, e, st, true); ok {
				// A jump to a retpoline thunk: an indirect tail call, or
				// a return (__x86_return_thunk).
				if t.Return {
					if why, ok := w.retCheck(&pre); !ok {
						w.setKind(Unknown, addr, "jumps to a return thunk at %#x, but %s", addr, why)
					}
				}
				if e.Flow == isa.FlowJump && !cond {
					return stack
				}
			} else if w.millicodeReturn(e) {
				// A jump to __riscv_restore_N: the function's epilogue.
				if e.Flow == isa.FlowJump && !cond {
					return stack
				}
			} else {
				w.call(TailCall, addr, e, st)
				if e.Flow == isa.FlowJump && !cond {
					return stack
				}
			}
		case isa.FlowCall:
			if e.AltLink {
				if !w.millicodeCall(addr, e, &st) {
					return stack
				}
				break
			}
			if h, ok := w.caseHelper(e); ok {
				w.call(Call, addr, e, st)
				i, _ := w.callIndex(callKey{addr, st.afterReset})
				w.fr.Calls[i].Dispatch = true
				if cond || st.afterReset {
					w.setKind(Unknown, addr, "jump table through %s at %#x: %s", h, addr,
						map[bool]string{true: "a conditional call", false: "after SP was set to the top of the main stack"}[cond])
					return stack
				}
				w.noteDispatch(off, h, st)
				return stack
			}
			if _, ok := w.thunkCall(addr, off, e, st, false); ok {
				// A call through a retpoline thunk: an indirect call
				// through its register (x86regs.go).
				break
			}
			if t, local := w.localCall(e); local {
				// A call to code that starts no function (hand-written
				// assembly such as libgcc's `bleq` to a shared tail that
				// pops the caller's frame): walked as part of this
				// function, with the return address pushed, and assumed
				// to return as well.
				callee := st
				callee.depth += w.ra
				callee.condLeft = 0
				// LR holds the return address into this function.
				callee.ra, callee.local, callee.localAt = st.ra|1<<uint(w.lr), st.local+1, addr
				callee.retAt = callee.depth
				stack = append(stack, work{t, callee})
				break
			}
			w.call(Call, addr, e, st)
			if w.in.NoReturn != nil && e.HasTarget && !cond && w.noReturn(e.Target) {
				// abort, __assert_fail, longjmp...: nothing after the
				// call runs, and walking on would join the next block
				// with this path's SP.
				return stack
			}
		case isa.FlowIndirectCall:
			if e.AltLink {
				w.millicodeCall(addr, e, &st)
				return stack
			}
			w.call(IndirectCall, addr, e, st)
		case isa.FlowIndirectJump:
			if st.afterReset {
				// Jump tables are resolved with the relative walk's
				// SP (resolveIndirectJumps); after a reset, say so.
				w.setKind(Unknown, addr, "indirect jump at %#x after SP was set to the top of the main stack", addr)
				return stack
			}
			if e.JumpTable {
				w.fr.JumpTables++
			}
			w.indirectJumps = append(w.indirectJumps, struct {
				addr uint64
				st   state
			}{addr, st})
			if !cond {
				return stack
			}
		case isa.FlowReturn, isa.FlowStop:
			if e.Flow == isa.FlowReturn && w.copies && e.HasCallReg && e.CallReg == w.lr && e.SP == isa.SPNone && pre.ra&(1<<uint(w.lr)) == 0 && pre.raCall > 0 && !cond {
				// ret with ra written by the function's own call: control
				// goes back after that call (see trackRACall).
				stack = append(stack, work{int(pre.raCall - 1), st})
				return stack
			}
			if e.Flow == isa.FlowReturn && w.lr >= 0 && e.SP == isa.SPNone && pre.ra&(1<<uint(w.lr)) == 0 && !(w.copies && !e.HasCallReg) {
				// (On RISC-V only ret goes through ra; mret does not.)
				// bx lr / mov pc, lr after LR was changed: control
				// goes to where LR was made to point, not to the
				// return address.
				if pre.local > 0 {
					w.setKind(Unknown, addr, "the code called at %#x (no function starts there) returns at %#x through a link register it changed: "+
						"where control goes next is not known (a jump-table helper such as libgcc's __gnu_thumb1_case_* without its symbol?)", pre.localAt, addr)
					return stack
				}
				if !w.fr.ReturnsElsewhere {
					w.fr.ReturnsElsewhere, w.rare().ReturnsElsewhereAt = true, addr
				}
			}
			if e.Flow == isa.FlowReturn && w.regs && !st.afterReset {
				if reg, jump, why, ok := w.retThrough(&pre); !ok {
					w.setKind(Unknown, addr, "returns at %#x, but %s: where control goes is not known", addr, why)
					return stack
				} else if jump {
					// A retpoline: the return address was replaced by a
					// register's value; ret jumps there with SP above it.
					tail := st
					tail.depth -= w.ra
					w.call(IndirectTailCall, addr, e, tail)
					w.regSite(addr, off, reg)
					return stack
				}
			}
			if st.afterReset && e.Flow == isa.FlowReturn {
				// The caller's frame is gone: what it does next is
				// not the code this walk can follow.
				w.setKind(Unknown, addr, "returns at %#x after SP was set to the top of the main stack", addr)
				return stack
			}
			if !cond {
				return stack
			}
		}
		if cond && (e.Flow != isa.FlowNext || st.depth < pre.depth) {
			// Not executed: a conditional return or branch falls through
			// with the SP it had; a conditional SP change is taken in
			// the direction that keeps the stack deepest.
			pre.condLeft = st.condLeft
			pre.ra &= st.ra // (a conditional call)
			st = pre
		}
		off = next
	}
}

// trackRA updates st.ra after the instruction e (pre is the state before
// it; cond: it is conditional and may not run).
func (w *walker) trackRA(e *isa.Effect, st *state, pre state, cond bool) {
	if (e.Flow == isa.FlowCall || e.Flow == isa.FlowIndirectCall) && !e.AltLink {
		st.ra &^= w.callerSaved()
	} else {
		written := uint16(e.DefAlso)
		if e.DefKind != isa.DefNone && e.DefReg >= 0 && e.DefReg < 16 {
			written |= 1 << uint(e.DefReg)
		}
		switch {
		case written == 0:
		case e.SP == isa.SPAdd && e.SPDelta > 0 || e.Access == isa.BaseSP:
			// Loaded from the stack: pop, ldm sp!, ldr rX, [sp, #n].
			st.ra |= written
		case e.DefKind == isa.DefCopy && e.DefValue == 0 && written == 1<<uint(e.DefReg) && e.DefSrc >= 0 && e.DefSrc < 16:
			if st.ra&(1<<uint(e.DefSrc)) != 0 {
				st.ra |= written
			} else {
				st.ra &^= written
			}
		default:
			st.ra &^= written
		}
	}
	if cond {
		st.ra &= pre.ra
	}
}

// callerSaved are the registers (bit n for register n) a callee may
// change: the decoder's (RISC-V's ra, t0-t6, a0-a7), else AAPCS's r0-r3,
// r12 and LR.
func (w *walker) callerSaved() uint16 {
	if d, ok := w.in.Decoder.(interface{ CallerSaved() uint32 }); ok {
		return uint16(d.CallerSaved()) | 1<<uint(w.lr)
	}
	return 0xF | 1<<12 | 1<<uint(w.lr)
}

// seenAt is the depth at which off was walked in st's kind of walk
// (before or after a reset), -1 if never.
func (w *walker) seenAt(st state, off int) int64 {
	if st.afterReset {
		return w.resetSeen[off]
	}
	return w.seen[off]
}

func (w *walker) touch(depth int64) {
	if depth > w.maxTouch {
		w.maxTouch = depth
	}
}

// realign returns the depth after `and sp, -align`. The caller's SP is only
// known to be StackAlign-aligned, so in the worst case the realignment adds
// align-StackAlign bytes on top of rounding up to StackAlign. (GCC's .su
// assumes the caller's SP is align-aligned, so it can print less.)
func (w *walker) realign(depth, align int64) int64 {
	if align <= 0 || align&(align-1) != 0 {
		return depth
	}
	abi := w.in.StackAlign
	if abi <= 0 {
		abi = 1
	}
	if align <= abi {
		return roundUp(depth, align)
	}
	return roundUp(depth, abi) + align - abi
}

func roundUp(v, a int64) int64 { return (v + a - 1) / a * a }

// localCall says whether a call goes to code that is no function's entry
// and that the walk can follow (see Input.Continue).
func (w *walker) localCall(e *isa.Effect) (int, bool) {
	if !e.HasTarget || e.Target == w.in.Addr {
		return 0, false
	}
	return w.targetOffset(e)
}

// targetOffset says whether a branch target lies inside the function.
func (w *walker) targetOffset(e *isa.Effect) (int, bool) {
	if !e.HasTarget {
		return 0, false
	}
	// A jump to the function's own entry is a loop as far as the stack is
	// concerned (`b .` in a handler, self tail recursion): followed inside.
	if off, ok := w.offset(e.Target); ok {
		return off, true
	}
	return w.extend(e.Target)
}

// callKey tells apart the two walks of a call site: before and after a
// reset of SP (their depths have different origins).
type callKey struct {
	addr       uint64
	afterReset bool
}

func (w *walker) call(kind CallKind, addr uint64, e *isa.Effect, st state) {
	depth := st.depth
	key := callKey{addr, st.afterReset}
	// A call walked again (SP deeper on a second path) keeps one site with
	// the deepest depth.
	if i, ok := w.callIndex(key); ok {
		if depth > w.fr.Calls[i].Depth {
			w.fr.Calls[i].Depth = depth
		}
		return
	}
	w.setCallIndex(key, len(w.fr.Calls))
	cs := CallSite{Addr: addr, Kind: kind, Depth: depth, Slot: e.Slot, HasSlot: e.HasSlot, AfterReset: st.afterReset}
	if e.HasTarget {
		cs.Target = e.Target
	} else if kind == Call {
		cs.Kind = IndirectCall
	} else if kind == TailCall {
		cs.Kind = IndirectTailCall
	}
	w.fr.Calls = append(w.fr.Calls, cs)
}

// callIndex is the index in fr.Calls of the call site key, if it has
// one. The sites are found by offset (a map insertion per call site was
// 1.5% of a program's walk), those outside the walk's code, if any, by
// address.
func (w *walker) callIndex(key callKey) (int, bool) {
	t := w.callTable(key.afterReset)
	if off, ok := w.offset(key.addr); ok {
		i, ok := t.get(off)
		return int(i), ok
	}
	i, ok := w.callAt[key]
	return i, ok
}

// setCallIndex records that call site key is fr.Calls[i].
func (w *walker) setCallIndex(key callKey, i int) {
	if off, ok := w.offset(key.addr); ok {
		w.callTable(key.afterReset).set(off, len(w.code), int32(i))
		return
	}
	if w.callAt == nil {
		w.callAt = map[callKey]int{}
	}
	w.callAt[key] = i
}

func (w *walker) callTable(afterReset bool) *offTable[int32] {
	if afterReset {
		return &w.callIdxReset
	}
	return &w.callIdx
}

// resolveIndirectJumps decides what the function's indirect jumps are. Code
// that no direct path reaches is taken to be the targets of jump tables and
// walked with the deepest SP seen at an indirect jump (switch statements do
// not move SP). An indirect jump that is not a known jump table, in a
// function with no such unreached code, is an indirect tail call.
func (w *walker) resolveIndirectJumps() {
	if len(w.indirectJumps) == 0 {
		return
	}
	seed := w.indirectJumps[0].st
	for _, j := range w.indirectJumps[1:] {
		if j.st.depth > seed.depth {
			seed = j.st
		}
	}
	seed.condLeft = 0
	foundUnreached := false
	// Only the function's own code: the outside stretches a jump continued
	// into hold other code after the part that was jumped to.
	for off := 0; off < w.segs[0].end; {
		if w.seen[off] >= 0 || (w.resetSeen != nil && w.resetSeen[off] >= 0) {
			off += w.instLen(off)
			continue
		}
		if w.isData(off) {
			off++
			continue
		}
		in := w.decode(off)
		if in.failed() || isPadding(in.eff) {
			off += max(in.eff.Len, 1)
			if in.failed() {
				// Bytes between blocks that do not decode are alignment
				// or data; a real target would decode.
				off = w.nextInstruction(off)
			}
			continue
		}
		foundUnreached = true
		w.tableTargets = append(w.tableTargets, off)
		w.walk(off, seed)
		off += w.instLen(off)
	}
	for _, j := range w.indirectJumps {
		if foundUnreached || w.jumpIsTable(j.addr) {
			if !w.jumpIsTable(j.addr) {
				w.fr.JumpTables++
			}
			continue
		}
		if _, dup := w.callIndex(callKey{addr: j.addr}); dup {
			continue
		}
		w.setCallIndex(callKey{addr: j.addr}, len(w.fr.Calls))
		w.fr.Calls = append(w.fr.Calls, CallSite{Addr: j.addr, Kind: IndirectTailCall, Depth: j.st.depth})
	}
}

func (w *walker) jumpIsTable(addr uint64) bool {
	off, ok := w.offset(addr)
	if !ok {
		return false
	}
	if i := w.index[off]; i != 0 {
		return w.insts[i-1].eff.JumpTable
	}
	return false
}

func (w *walker) instLen(off int) int {
	if i := w.index[off]; i != 0 && w.insts[i-1].eff.Len > 0 {
		return w.insts[i-1].eff.Len
	}
	return 1
}

func (w *walker) nextInstruction(off int) int {
	for off < len(w.code) && w.seen[off] < 0 && w.index[off] == 0 {
		off++
	}
	return off
}

// isPadding recognises filler between blocks: traps (int3, udf) and
// no-ops. A no-op before a block that a direct path reaches must not be
// walked with the jump table's SP: it would fall into that block's
// prologue with the wrong depth.
func isPadding(e isa.Effect) bool {
	return e.Flow == isa.FlowStop || e.Nop
}

func dedupe(v []uint64) []uint64 {
	if len(v) < 2 {
		return v
	}
	slices.Sort(v) // (no allocation, unlike sort.Slice; plain numbers)
	out := v[:1]
	for _, x := range v[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}
