package callgraph

import (
	"debug/dwarf"
	"debug/elf"
	"strings"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// What an x86-64 function's walk needs to know about the code it calls
// (frame.Input.Thunk and NoReturn), found once per file and address.

// fileCalls caches, per file, the retpoline thunks and the functions
// that never return.
type fileCalls struct {
	// shards hold, by address, what thunk and never found there, each
	// under its own lock. Each answer depends only on the code (never's
	// on the level below too), so no answer depends on which worker
	// asked first (two may compute the same one). One map for both: the
	// walk asks both questions of most call targets, and the second
	// lookup then finds its entry in the cache (two maps of a large
	// program's call targets cost 6% of its frame walk in cache misses).
	// Shards, not one lock: the frame walkers ask at nearly every call,
	// and under one lock they queued on it (libLLVM: about 1,700 waits,
	// each leaving a core idle while the waiter was parked and woken).
	shards    [factShards]factShard
	declared  map[uint64]bool // DWARF DW_AT_noreturn, read once
	dwarfOnce sync.Once
	// ownLevelOnly makes known use only the asked level's answers, as
	// it did before (the tests' reference).
	ownLevelOnly bool
	// fallThroughFirst makes codeNeverReturns walk a conditional jump's
	// fall-through before its branch, as it did before (the tests'
	// reference).
	fallThroughFirst bool
	// thunkFn and neverFn are thunk and never of this file, as
	// frame.Input's Thunk and NoReturn (see callsOf).
	thunkFn func(addr uint64) (frame.Thunk, bool)
	neverFn func(addr uint64) bool
	// continueFn and cfaFn are frame.Input's Continue and CFA for the
	// file (any architecture), made once too.
	continueFn func(addr uint64) ([]byte, bool)
	cfaFn      func(pc uint64) (int64, bool)
}

// factShards is how many locks fileCalls' answers are spread over.
const factShards = 64

// factShard is one lock's share of fileCalls' answers.
type factShard struct {
	mu    sync.Mutex
	facts map[uint64]calleeFacts
	_     [48]byte // (a cache line each: the workers' locks do not share one)
}

// shard is the share that holds addr's answers.
func (c *fileCalls) shard(addr uint64) *factShard {
	return &c.shards[(addr*0x9e3779b97f4a7c15)>>(64-6)]
}

// calleeFacts are fileCalls' answers for one address.
type calleeFacts struct {
	thunk     frame.Thunk
	thunkOK   bool
	thunkDone bool // thunk and thunkOK are thunk's answer
	// never is never's answer at each level: 1 never returns, -1
	// returns, 0 not asked.
	never [noReturnLevels + 1]int8
}

func (g *Graph) callsOf(f *binfile.File) *fileCalls {
	g.dataMu.Lock()
	defer g.dataMu.Unlock()
	if g.calls == nil {
		g.calls = map[*binfile.File]*fileCalls{}
	}
	c, ok := g.calls[f]
	if !ok {
		c = newFileCalls()
		// The walk's two questions, made once per file: made for each
		// walk, they were two of its allocations per function.
		c.thunkFn = func(addr uint64) (frame.Thunk, bool) { return c.thunk(g, f, addr) }
		c.neverFn = func(addr uint64) bool { return c.never(g, f, addr, noReturnLevels) }
		c.continueFn = func(addr uint64) ([]byte, bool) { return continueCode(f, addr) }
		if f.CFI.Len() > 0 {
			c.cfaFn = f.CFI.CFAOffset
		}
		g.calls[f] = c
	}
	return c
}

func newFileCalls() *fileCalls {
	c := &fileCalls{}
	for i := range c.shards {
		c.shards[i].facts = map[uint64]calleeFacts{}
	}
	return c
}

// setX86Calls gives in the thunk and never-returns answers for f.
func (g *Graph) setX86Calls(f *binfile.File, in *frame.Input) {
	if f.Arch != binfile.ArchX86_64 {
		return
	}
	c := g.callsOf(f)
	in.Thunk, in.NoReturn = c.thunkFn, c.neverFn
	// (the answers of both, and of Continue, depend on the address alone:
	// see fileCalls.shards and continueCode)
	in.CalleeKey = c
}

// thunkCode is how many bytes a retpoline thunk's shape is looked for in.
const thunkCode = 64

// thunk says whether the code at addr is a retpoline thunk: by its code
// (frame.MatchThunk: also in a stripped file, and whatever its name), or
// by the names GCC, Clang and the kernel give them.
func (c *fileCalls) thunk(g *Graph, f *binfile.File, addr uint64) (frame.Thunk, bool) {
	sh := c.shard(addr)
	sh.mu.Lock()
	a := sh.facts[addr]
	sh.mu.Unlock()
	if a.thunkDone {
		return a.thunk, a.thunkOK
	}
	var t frame.Thunk
	ok := false
	if f.IsExecutable(addr) && !f.InPLT(addr) {
		if code, err := f.Code(addr, min(f.CodeEnd(addr)-addr, thunkCode)); err == nil {
			t, ok = frame.MatchThunk(g.Decoder, code, addr)
		}
	}
	if !ok {
		if fn, found := f.FunctionAt(addr); found {
			t, ok = ThunkByName(fn.CName()) // (its names are C names)
		}
	}
	sh.mu.Lock()
	a = sh.facts[addr] // (never may have added to it meanwhile)
	a.thunk, a.thunkOK, a.thunkDone = t, ok, true
	sh.facts[addr] = a
	sh.mu.Unlock()
	return t, ok
}

// x86Regs are the 64-bit register names by number.
var x86Regs = [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// ThunkByName recognises a retpoline thunk by its name:
// __x86_indirect_thunk_<reg>, __x86_indirect_call_thunk_<reg>,
// __x86_indirect_jump_thunk_<reg>, __llvm_retpoline_<reg>,
// __llvm_external_retpoline_<reg>; __x86_return_thunk returns.
func ThunkByName(name string) (frame.Thunk, bool) {
	if name == "__x86_return_thunk" {
		return frame.Thunk{Return: true}, true
	}
	for _, p := range []string{"__x86_indirect_thunk_", "__x86_indirect_call_thunk_", "__x86_indirect_jump_thunk_",
		"__llvm_retpoline_", "__llvm_external_retpoline_"} {
		if reg, ok := strings.CutPrefix(name, p); ok {
			for i, r := range x86Regs {
				if r == reg {
					return frame.Thunk{Reg: int8(i)}, true
				}
			}
		}
	}
	return frame.Thunk{}, false
}

// noReturnNames are the C library's and C++ runtime's functions that
// never return to their caller (glibc and musl declare them noreturn).
var noReturnNames = map[string]bool{
	"abort": true, "exit": true, "_exit": true, "_Exit": true, "quick_exit": true,
	"__assert_fail": true, "__assert_perror_fail": true, "__assert": true, "__assert2": true,
	"__stack_chk_fail": true, "__stack_chk_fail_local": true, "__fortify_fail": true, "__chk_fail": true,
	"__libc_fatal": true, "longjmp": true, "_longjmp": true, "siglongjmp": true, "__longjmp_chk": true,
	"__libc_longjmp": true, "__libc_siglongjmp": true, "__longjmp": true, "__longjmp_cancel": true, "____longjmp_chk": true,
	"err": true, "errx": true, "verr": true, "verrx": true, "pthread_exit": true, "thrd_exit": true,
	"__cxa_throw": true, "__cxa_rethrow": true, "__cxa_bad_cast": true, "__cxa_bad_typeid": true,
	"__cxa_throw_bad_array_new_length": true, "__cxa_call_unexpected": true, "_Unwind_Resume": true,
	"_ZSt9terminatev": true, "__cxa_pure_virtual": true, "__cxa_deleted_virtual": true,
}

// maxNoReturnName is the length of the longest of noReturnNames.
var maxNoReturnName = func() int {
	n := 0
	for name := range noReturnNames {
		n = max(n, len(name))
	}
	return n
}()

// NoReturnName says whether a function of that name never returns: the
// list above, and libstdc++'s std::__throw_* helpers.
func NoReturnName(name string) bool {
	if len(name) > maxNoReturnName && !strings.HasPrefix(name, "_ZSt") && strings.IndexByte(name[:maxNoReturnName+1], '@') < 0 {
		// Its part before any '@' is longer than every name listed:
		// a C++ program's link names mostly are, and finding their '@'
		// and hashing them was most of noReturnFunction's 13 ms a run
		// on node (profiles).
		return false
	}
	if i := strings.IndexByte(name, '@'); i > 0 {
		name = name[:i] // a versioned import: abort@GLIBC_2.2.5
	}
	return noReturnNames[name] || strings.HasPrefix(name, "_ZSt") && strings.Contains(name, "__throw_")
}

// maxNoReturnWalk bounds the instructions decoded to prove that one
// function never returns, and maxNoReturnSize the size of a function
// looked at; past them, it is taken to return (the safe answer). Error
// paths that end in exit or abort are small.
const (
	maxNoReturnWalk = 1000
	maxNoReturnSize = 4096
)

// noReturnLevels is how many wrappers deep never looks: a function that
// calls one that calls exit (die -> fatal -> exit) is found; deeper ones
// are taken to return (the safe answer: the walk goes on after the call).
const noReturnLevels = 2

// never says whether the function at addr never returns: by its name
// (its symbol, or the import its PLT stub jumps to), DWARF's
// DW_AT_noreturn, or, at level > 0, its code: no path reaches a return,
// an indirect jump or a tail call to a function that returns, each path
// ending in a trap, a loop, or a call or jump to a function that never
// returns by the answer one level down.
func (c *fileCalls) never(g *Graph, f *binfile.File, addr uint64, level int) bool {
	sh := c.shard(addr)
	sh.mu.Lock()
	v, ok := c.known(sh, addr, level)
	sh.mu.Unlock()
	if ok {
		return v
	}
	v = c.decide(g, f, addr, level)
	sh.mu.Lock()
	a := sh.facts[addr] // (thunk may have added to it meanwhile)
	a.never[level] = -1
	if v {
		a.never[level] = 1
	}
	sh.facts[addr] = a
	sh.mu.Unlock()
	return v
}

// known is never's answer at level when one is cached, at that level
// or another: each level's answers are a superset of the level below's
// (a level more only adds wrappers found), so a yes below or a no above
// is the answer, exactly. Most functions return: a function the frame
// walk asked about (level noReturnLevels) is not decoded again when it is
// asked about as a callee's callee. Under sh's lock, addr's shard.
func (c *fileCalls) known(sh *factShard, addr uint64, level int) (v, ok bool) {
	never := sh.facts[addr].never
	if a := never[level]; a != 0 || c.ownLevelOnly {
		return a > 0, a != 0
	}
	for l := level + 1; l < len(never); l++ {
		if never[l] < 0 {
			return false, true
		}
	}
	for l := level - 1; l >= 0; l-- {
		if never[l] > 0 {
			return true, true
		}
	}
	return false, false
}

func (c *fileCalls) decide(g *Graph, f *binfile.File, addr uint64, level int) bool {
	if f.InPLT(addr) {
		m := &Module{File: f}
		if slot := g.pltSlot(m, addr); slot != 0 {
			if name, ok := f.Slots[slot]; ok {
				return NoReturnName(name)
			}
		}
		return false
	}
	fn, ok := f.FunctionAt(addr)
	if !ok {
		return false
	}
	if noReturnFunction(fn) || level > 0 && c.codeNeverReturns(g, f, fn, level-1) {
		return true
	}
	return c.declaredNoReturn(f, addr)
}

// codeNeverReturns walks fn's code (see never); callees are asked at
// level.
func (c *fileCalls) codeNeverReturns(g *Graph, f *binfile.File, fn *binfile.Function, level int) bool {
	if fn.Size > maxNoReturnSize {
		return false
	}
	code, err := f.Code(fn.Addr, fn.Size)
	if err != nil || len(code) == 0 {
		return false
	}
	end := fn.Addr + uint64(len(code))
	// seen is a bit per byte of the function (at most maxNoReturnSize),
	// on the stack: this runs for most direct callees of a file, and a
	// map per walk was a tenth of its time.
	var seen [maxNoReturnSize / 64]uint64
	var workBuf [64]uint64
	// The instruction's length, flow and target: x86.DecodeFlow gives
	// them alone (called directly: through an interface, the dispatch
	// and the wrapper cost as much as its decoding); other decoders fill
	// an Effect (made here only for them: given to an interface method,
	// it moves to the heap).
	var e x86.Flow
	var eff *isa.Effect
	switch g.Decoder.(type) {
	case x86.Decoder, *x86.Decoder:
	default:
		eff = new(isa.Effect)
	}
	work := append(workBuf[:0], fn.Addr)
	for n := 0; len(work) > 0; n++ {
		if n > maxNoReturnWalk {
			return false
		}
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		if pc < fn.Addr || pc >= end {
			// Runs off its end, into code it does not own. (Tested
			// before seen, which covers only the function's bytes;
			// such a pc was never marked seen.)
			return false
		}
		bit := pc - fn.Addr
		if seen[bit/64]&(1<<(bit%64)) != 0 {
			continue
		}
		seen[bit/64] |= 1 << (bit % 64)
		// Only the length, flow and target are read: the sweep's decode
		// (isa.SweepDecoder) gives them without the registers' description.
		if eff == nil {
			var err error
			if e, err = x86.DecodeFlow(code[pc-fn.Addr:], pc); err != nil {
				return false
			}
		} else {
			if err := isa.DecodeSweep(g.Decoder, code[pc-fn.Addr:], pc, eff); err != nil {
				return false
			}
			e = x86.Flow{Len: eff.Len, Flow: eff.Flow, Target: eff.Target, HasTarget: eff.HasTarget}
		}
		if e.Len <= 0 {
			return false
		}
		next := pc + uint64(e.Len)
		inside := e.HasTarget && e.Target >= fn.Addr && e.Target < end
		switch e.Flow {
		case isa.FlowReturn, isa.FlowIndirectJump:
			return false
		case isa.FlowStop:
		case isa.FlowJump:
			switch {
			case inside:
				work = append(work, e.Target)
			case !e.HasTarget || !c.ends(g, f, e.Target, level):
				return false
			}
		case isa.FlowCondJump:
			if !inside && (!e.HasTarget || !c.ends(g, f, e.Target, level)) {
				return false
			}
			// The branch first, then the fall-through: most functions
			// return, and a branch leads to a return sooner (an early
			// exit, the epilogue after a block). The answer does not
			// depend on the order: "never" is the answer only when every
			// instruction reachable is walked, the same instructions
			// pushing the same successors in any order (so the same
			// count against maxNoReturnWalk), each ending in a stop, a
			// loop or a callee that ends; any other end is "returns",
			// whenever it is met (TestNeverBranchFirst). node:
			// 1.81 million instructions decoded to 1.34 million, 48.7 to
			// the first return on average to 36.8.
			switch {
			case !inside:
				work = append(work, next)
			case c.fallThroughFirst:
				work = append(work, e.Target, next)
			default:
				work = append(work, next, e.Target)
			}
		case isa.FlowCall:
			if e.HasTarget && !inside && c.ends(g, f, e.Target, level) {
				continue
			}
			if inside {
				return false // a local call: not followed here
			}
			work = append(work, next)
		default:
			work = append(work, next)
		}
	}
	return true
}

// ends says whether control that reaches addr (by a call or a tail
// call) never comes back.
func (c *fileCalls) ends(g *Graph, f *binfile.File, addr uint64, level int) bool {
	if t, ok := c.thunk(g, f, addr); ok && !t.Return {
		return false
	}
	return c.never(g, f, addr, level)
}

// declaredNoReturn says whether DWARF marks the subprogram at addr
// DW_AT_noreturn (C11 _Noreturn, __attribute__((noreturn))).
func (c *fileCalls) declaredNoReturn(f *binfile.File, addr uint64) bool {
	c.dwarfOnce.Do(func() {
		c.declared = map[uint64]bool{}
		if d, err := f.ELF.DWARF(); err == nil {
			readNoReturnSkipping(d, noReturnScanner(f.ELF), c.declared)
		}
	})
	return c.declared[addr]
}

// attrNoreturn is DW_AT_noreturn (debug/dwarf has no name for it).
const attrNoreturn dwarf.Attr = 0x87

// ReadNoReturn adds to out the entry addresses of the subprograms DWARF
// marks DW_AT_noreturn.
func ReadNoReturn(d *dwarf.Data, out map[uint64]bool) {
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		addNoReturn(e, out)
	}
}

// noReturnScanner is the entry scanner (diescan.go) of f's own DWARF,
// for readNoReturnSkipping: nil for a relocatable file (f.DWARF()
// relocates its sections, the scanner would read them unrelocated) or
// when a section does not read.
func noReturnScanner(f *elf.File) *dieScanner {
	if f.Type == elf.ET_REL {
		return nil
	}
	data := map[string][]byte{}
	for _, name := range []string{".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str"} {
		s := f.Section(name)
		if s == nil {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil
		}
		data[name] = b
	}
	if data[".debug_info"] == nil {
		return nil
	}
	return newDIEScanner(data[".debug_info"], data[".debug_abbrev"], data[".debug_str"], data[".debug_line_str"])
}

// readNoReturnSkipping is ReadNoReturn without debug/dwarf's decoding of
// the entries that cannot add to out (on node: all but the units' first
// entries; decoding all of them was 2.4% of its program walk). The entry
// scanner (diescan.go) goes through each unit's entries in order, as
// debug/dwarf's Next does; debug/dwarf decodes (Seek, then Next) each
// unit's first entry, each entry whose abbreviation has DW_AT_noreturn,
// and, from the first entry the scanner cannot read on, the rest of the
// unit (all of a DWARF 5 unit: entering one, Next collects its bases,
// which can fail). An entry the scanner passes by has no DW_AT_noreturn,
// so it adds nothing, and reads in debug/dwarf without an error (what
// the scanner answers only then), so it would not have stopped the full
// read either. An entry decoded after a Seek to it decodes as it does in
// the full read: from the same bytes, in the same unit (debug/dwarf's
// entry decoding does not use the compile unit entry it is given), and
// its error, if any, is the one the full read stops on. So out is
// ReadNoReturn's, errors included. sc nil: ReadNoReturn. It returns how
// many entries it decoded with debug/dwarf (for the tests: -1 for
// ReadNoReturn's).
func readNoReturnSkipping(d *dwarf.Data, sc *dieScanner, out map[uint64]bool) (decoded int) {
	if sc == nil {
		ReadNoReturn(d, out)
		return -1
	}
	r := d.Reader()
	// decode reads the entry at off with debug/dwarf; false on an error
	// (the full read stops there).
	decode := func(off dwarf.Offset) bool {
		r.Seek(off)
		e, err := r.Next()
		decoded++
		if err != nil || e == nil {
			return false
		}
		addNoReturn(e, out)
		return true
	}
	for i := range sc.units {
		u := &sc.units[i]
		p := u.start
		if p == u.end {
			continue // (no entries: Next passes it by)
		}
		if u.abbrevs != nil && u.vers < 5 {
			if !decode(p) {
				return decoded
			}
			for p != u.end {
				e, kind := sc.read(p)
				if kind == readUnknown || e.unit != u || e.end <= p || e.end > u.end {
					break
				}
				if e.noReturnAttr && p != u.start && !decode(p) {
					return decoded
				}
				p = e.end
			}
			if p == u.end {
				continue
			}
		}
		// The rest of the unit, from p, as the full read reads it.
		r.Seek(p)
		for {
			e, err := r.Next()
			decoded++
			if err != nil || e == nil {
				return decoded
			}
			if e.Offset >= u.end && (e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit) {
				break // (the next unit's first entry: decoded again there)
			}
			addNoReturn(e, out)
		}
	}
	return decoded
}

// addNoReturn adds e's entry address to out when it is a subprogram
// marked DW_AT_noreturn (ReadNoReturn's test).
func addNoReturn(e *dwarf.Entry, out map[uint64]bool) {
	if e.Tag != dwarf.TagSubprogram {
		return
	}
	if nr, _ := e.Val(attrNoreturn).(bool); !nr {
		return
	}
	if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		out[lo] = true
	}
}
