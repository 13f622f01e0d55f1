package callgraph

import (
	"debug/elf"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// What a GNU ifunc's resolver can return (x86-64). A call of an ifunc
// goes to the function whose address the resolver returned when the
// dynamic linker ran it, so the call's targets are the values rax can
// hold at the resolver's returns: proved by a small forward value
// analysis of the resolver's code, not guessed from the addresses it
// mentions (a resolver may compute an address it never returns, and may
// return one it did not compute: glibc's time and gettimeofday return
// the vDSO's function, read from ld.so's state).
//
// Each general-purpose register holds a set of constant code addresses
// or is unknown. `lea r64,[rip+X]` gives {X}; `mov r64,r64` copies;
// `cmovCC r64,r64` gives the union of both; a write of the constant 0
// (`xor r32,r32`, `mov r,0`) gives {0}, no target (in a fixed-address
// program a `mov r,imm` gives {imm}: the address itself); any other
// write of a register (the decoder's RegWriter names every one an
// instruction may make), a load, and a call for the caller-saved ones,
// give unknown. States join at branch targets by union, to a fixpoint
// over the resolver's control flow within a budget of instruction
// visits. The targets are proved when every `ret` reached has rax known,
// and every value in the sets but 0 starts a function of the module.
// A jump to another function's start (a resolver that ends by jumping to
// another resolver) is followed once, that function's returns counting
// as the resolver's. Anything else (an indirect jump, an instruction
// that does not decode, code running off the resolver's end, a branch
// into the middle of an instruction) leaves the targets unproved.

// ifuncVisitBudget bounds the instruction visits of one resolver's
// fixpoint (glibc's largest resolvers have under 100 instructions and
// converge in a few passes).
const ifuncVisitBudget = 20000

// ifuncMaxValues bounds a register's set (glibc's largest resolver,
// memmove's, returns 13 implementations): a larger one is unknown, which
// keeps each step of the fixpoint cheap on any bytes.
const ifuncMaxValues = 64

// ifuncSite is a call (node, address) of an ifunc whose resolver's
// returns are not proved (Graph.ifuncUnproved).
type ifuncSite struct {
	node int
	addr uint64
}

// ifuncReturns is what one resolver was proved to return.
type ifuncReturns struct {
	// Targets are the function starts the resolver can return, sorted,
	// when Proved; the function starts among the known values at its
	// returns otherwise.
	Targets []uint64
	Proved  bool
	// Why says, when not Proved, what stopped the proof and where.
	Why string
}

// addrSet is a register's value: a set of constants, or unknown (nil
// set with unknown set).
type addrSet struct {
	unknown bool
	vals    map[uint64]bool
}

func (a addrSet) union(b addrSet) addrSet {
	if a.unknown || b.unknown {
		return addrSet{unknown: true}
	}
	subset := true
	for v := range b.vals {
		if !a.vals[v] {
			subset = false
			break
		}
	}
	if subset {
		return a // (sets are never changed in place: sharing is safe)
	}
	if len(a.vals)+len(b.vals) > ifuncMaxValues {
		return addrSet{unknown: true}
	}
	out := addrSet{vals: map[uint64]bool{}}
	maps.Copy(out.vals, a.vals)
	maps.Copy(out.vals, b.vals)
	return out
}

func (a addrSet) equal(b addrSet) bool {
	return a.unknown == b.unknown && maps.Equal(a.vals, b.vals)
}

// addrState is the sets of the 16 general-purpose registers, by the
// decoder's register numbers (rax 0 ... r15 15), and where SP and the
// frame pointer are: sp (fp) bytes below SP at the resolver's entry,
// where its return address is, when spOK (fpOK).
type addrState struct {
	regs       [16]addrSet
	sp, fp     int64
	spOK, fpOK bool
}

func entryAddrState() addrState {
	s := addrState{spOK: true}
	for r := range s.regs {
		s.regs[r] = addrSet{unknown: true}
	}
	return s
}

// resolverReturns is what the resolver at fi of m can return (see
// above), proved once per file (the proof reads the file's code alone;
// the programs of one run share libc's) and kept per graph too (edges
// are resolved on one goroutine). The answer is shared: its Targets are
// never changed.
func (g *Graph) resolverReturns(m *Module, fi int) ifuncReturns {
	fn := &m.File.Functions[fi]
	if r, ok := g.ifuncs[fn]; ok {
		return r
	}
	key := resolverKey{arch: g.Arch, fi: fi, addr: fn.Addr}
	r := binfile.Derived(m.File, key, func() ifuncReturns { return g.proveResolverReturns(m, fi) })
	if g.ifuncs == nil {
		g.ifuncs = map[*binfile.Function]ifuncReturns{}
	}
	g.ifuncs[fn] = r
	return r
}

// resolverKey names a resolver's proof in its file (binfile.Derived): the
// analysis runs for the program's instruction set, whose decoder is the
// same for every program of it.
type resolverKey struct {
	arch binfile.Arch
	fi   int // (its name is in the answer's Why)
	addr uint64
}

// resolverSource is what the analysis reads of a module: code, the
// function that starts at an address, and whether an immediate can be an
// address (a fixed-address program).
type resolverSource struct {
	dec    isa.Decoder
	code   func(addr, size uint64) ([]byte, error)
	funcAt func(addr uint64) (*binfile.Function, bool)
	exec   bool
}

// proveResolverReturns runs the analysis for resolverReturns.
func (g *Graph) proveResolverReturns(m *Module, fi int) ifuncReturns {
	if g.Arch != binfile.ArchX86_64 {
		return ifuncReturns{Why: "no value analysis for this instruction set"}
	}
	src := resolverSource{dec: g.Decoder, code: m.File.Code, funcAt: m.File.FunctionAt, exec: m.File.Type == elf.ET_EXEC}
	return src.returns(&m.File.Functions[fi])
}

// returns proves what resolver fn can return.
func (src resolverSource) returns(fn *binfile.Function) ifuncReturns {
	var out ifuncReturns
	vals, why := src.values(fn, true)
	for _, v := range slices.Sorted(maps.Keys(vals)) {
		if v == 0 {
			continue // a null pointer: no target (the caller crashes)
		}
		t, ok := src.funcAt(v)
		switch {
		case !ok:
			if why == "" {
				why = fmt.Sprintf("it can return %#x, which starts no function", v)
			}
		case t.Addr == fn.Addr:
			if why == "" {
				why = fmt.Sprintf("it can return its own address %#x", v)
			}
		default:
			out.Targets = append(out.Targets, v)
		}
	}
	out.Proved = why == ""
	if !out.Proved {
		out.Why = fmt.Sprintf("resolver %s at %#x: %s", fn.Name(), fn.Addr, why)
	}
	return out
}

// values runs the value analysis over resolver fn: the values rax can
// hold at its returns, and, when one of them is not known, why (""
// when all are). follow allows one jump to another function's start,
// whose returns then count as this one's.
func (src resolverSource) values(fn *binfile.Function, follow bool) (map[uint64]bool, string) {
	rw, ok := src.dec.(isa.RegWriter)
	if !ok {
		return nil, "no value analysis for this instruction set"
	}
	code, err := src.code(fn.Addr, fn.Size)
	if err != nil || len(code) == 0 {
		return nil, "its code cannot be read"
	}
	// A linear decode of the function: its instruction starts.
	type inst struct {
		pc uint64
		e  isa.Effect
		w  *regWrite // of a straight-line instruction, once visited
	}
	var insts []inst
	index := map[uint64]int{}
	for off := 0; off < len(code); {
		pc := fn.Addr + uint64(off)
		e, err := src.dec.Decode(code[off:], pc)
		if err != nil || e.Len <= 0 || e.Len > len(code)-off {
			// Padding after the last return decodes as anything; only
			// an instruction the walk reaches must decode (below).
			break
		}
		index[pc] = len(insts)
		insts = append(insts, inst{pc: pc, e: e})
		off += e.Len
	}
	returns := map[uint64]bool{}
	states := make([]*addrState, len(insts))
	entry := entryAddrState()
	work := []int{}
	// flowTo joins s into the state at instruction k and queues it when
	// that changed it.
	flowTo := func(k int, s addrState) {
		if states[k] == nil {
			c := s
			states[k] = &c
			work = append(work, k)
			return
		}
		changed := false
		for r := range s.regs {
			u := states[k].regs[r].union(s.regs[r])
			if !u.equal(states[k].regs[r]) {
				states[k].regs[r] = u
				changed = true
			}
		}
		// SP or FP where the paths do not agree is not known.
		if states[k].spOK && (!s.spOK || s.sp != states[k].sp) {
			states[k].spOK, changed = false, true
		}
		if states[k].fpOK && (!s.fpOK || s.fp != states[k].fp) {
			states[k].fpOK, changed = false, true
		}
		if changed {
			work = append(work, k)
		}
	}
	if len(insts) == 0 {
		return nil, fmt.Sprintf("the instruction at %#x does not decode", fn.Addr)
	}
	flowTo(0, entry)
	followed := false
	unknownRet := ""
	for visits := 0; len(work) > 0; visits++ {
		if visits > ifuncVisitBudget {
			return nil, fmt.Sprintf("its value analysis did not settle in %d steps", ifuncVisitBudget)
		}
		k := work[len(work)-1]
		work = work[:len(work)-1]
		in := insts[k]
		// A ret returns from the resolver, and a jump to another
		// function returns through its ret, only with SP where it was
		// at the entry and the return address untouched (the value
		// returned is then the resolver's).
		s, why := stackMove(*states[k], in.e)
		if why != "" {
			return returns, fmt.Sprintf("at %#x %s", in.pc, why)
		}
		next := func(s addrState) string {
			if k+1 >= len(insts) || insts[k+1].pc != in.pc+uint64(in.e.Len) {
				return fmt.Sprintf("its code runs off its end (or into what does not decode) after %#x", in.pc)
			}
			flowTo(k+1, s)
			return ""
		}
		// jumpTo follows a branch to t: inside the function, to the
		// instruction there; to another function's start, that
		// function's returns (once).
		jumpTo := func(t uint64) string {
			if j, ok := index[t]; ok {
				flowTo(j, s)
				return ""
			}
			if t >= fn.Addr && t < fn.Addr+fn.Size {
				return fmt.Sprintf("the branch at %#x lands at %#x, inside an instruction", in.pc, t)
			}
			to, ok := src.funcAt(t)
			if !ok || !follow || followed || to.Addr == fn.Addr || !s.spOK || s.sp != 0 {
				return fmt.Sprintf("the jump at %#x to %#x leaves it", in.pc, t)
			}
			followed = true
			vals, why := src.values(to, false)
			maps.Copy(returns, vals)
			if why != "" {
				return fmt.Sprintf("it jumps at %#x to %s, where %s", in.pc, to.Name(), why)
			}
			return ""
		}
		switch in.e.Flow {
		case isa.FlowNext:
			if in.w == nil {
				w := describeWrite(in.e, code[in.pc-fn.Addr:][:in.e.Len], in.pc, rw, src.exec)
				insts[k].w = &w
				in.w = &w
			}
			why = next(in.w.apply(s))
		case isa.FlowJump:
			if !in.e.HasTarget {
				why = fmt.Sprintf("the jump at %#x has no known target", in.pc)
				break
			}
			why = jumpTo(in.e.Target)
		case isa.FlowCondJump:
			if !in.e.HasTarget {
				why = fmt.Sprintf("the branch at %#x has no known target", in.pc)
				break
			}
			if why = jumpTo(in.e.Target); why == "" {
				why = next(s)
			}
		case isa.FlowCall, isa.FlowIndirectCall:
			if in.e.Flow == isa.FlowCall && in.e.HasTarget && in.e.Target >= fn.Addr && in.e.Target < fn.Addr+fn.Size {
				// A call inside the resolver (a retpoline's, a pc
				// load's): its ret does not return from the resolver.
				why = fmt.Sprintf("the call at %#x goes to %#x, inside it", in.pc, in.e.Target)
				break
			}
			// The callee may change every caller-saved register and
			// keeps the others (x86-64 System V).
			for r := range s.regs {
				if callerSaved&(1<<r) != 0 {
					s.regs[r] = addrSet{unknown: true}
				}
			}
			why = next(s)
		case isa.FlowReturn:
			if !s.spOK || s.sp != 0 {
				why = fmt.Sprintf("the ret at %#x may not return from it (SP is not where it was at the entry)", in.pc)
				break
			}
			if s.regs[0].unknown {
				// Not proved; the walk goes on for the known values
				// at the other returns (vdsoIFuncResolver's fallback).
				if unknownRet == "" {
					unknownRet = fmt.Sprintf("the value it returns at %#x is not a known address", in.pc)
				}
				break
			}
			maps.Copy(returns, s.regs[0].vals)
		case isa.FlowStop:
			// No successor: a trap returns nothing.
		default:
			why = fmt.Sprintf("the indirect jump at %#x", in.pc)
		}
		if why != "" {
			return returns, why
		}
	}
	return returns, unknownRet
}

// regWrite is what a straight-line instruction does to the registers'
// sets, worked out once per instruction (x86asm decodes are the costly
// part of a step of the fixpoint): every register in written becomes
// unknown, then dst gets the set {val} (setVal), src's old set (copy),
// or the union of its old set and src's (cmov).
type regWrite struct {
	written        uint32
	dst, src       int8
	val            uint64
	setVal, copy   bool
	cmov, fpWrites bool
}

// describeWrite is regWrite for instruction e (bytes c at pc). exec says
// the module is a fixed-address program, where an immediate can be an
// address.
func describeWrite(e isa.Effect, c []byte, pc uint64, rw isa.RegWriter, exec bool) regWrite {
	w := regWrite{written: rw.MayWrite(c, pc) | e.DefAlso}
	if e.DefKind != isa.DefNone && e.DefReg >= 0 {
		w.written |= 1 << uint(e.DefReg)
	}
	// rbp written with something else than SP's value.
	w.fpWrites = w.written&(1<<5) != 0 && !e.SetsFP
	d := e.DefReg
	if d < 0 || d >= 16 {
		return w
	}
	w.dst = d
	switch e.DefKind {
	case isa.DefAddr:
		// Only a 64-bit lea: a 32-bit one truncates the relocated
		// address at run time.
		w.setVal, w.val = lea64(c), uint64(e.DefValue)
	case isa.DefConst:
		w.setVal, w.val = e.DefValue == 0 || exec, uint64(e.DefValue)
	case isa.DefCopy:
		// mov r32,r32 keeps only the low half (DefValue 32): unknown.
		w.copy, w.src = e.DefValue != 32 && e.DefSrc >= 0 && e.DefSrc < 16, e.DefSrc
	default:
		if dst, src, ok := cmov64(c); ok && w.written == 1<<dst {
			w.cmov, w.dst, w.src = true, dst, src
		}
	}
	return w
}

// apply is the state after an instruction that writes w.
func (w *regWrite) apply(s addrState) addrState {
	old := s.regs
	for r := range s.regs {
		if w.written&(1<<r) != 0 {
			s.regs[r] = addrSet{unknown: true}
		}
	}
	if w.fpWrites {
		s.fpOK = false
	}
	switch {
	case w.setVal:
		s.regs[w.dst] = addrSet{vals: map[uint64]bool{w.val: true}}
	case w.copy:
		s.regs[w.dst] = old[w.src]
	case w.cmov:
		s.regs[w.dst] = old[w.dst].union(old[w.src])
	}
	return s
}

// stackMove is the state after instruction e's effect on SP and the
// frame pointer, or why the resolver's return is not proved: e reads or
// writes its return address, or an SP- or FP-relative access cannot be
// placed.
func stackMove(s addrState, e isa.Effect) (addrState, string) {
	switch e.Access {
	case isa.BaseSP:
		if !s.spOK || e.AccessOff+e.AccessSize > s.sp {
			return s, "an access of the stack may reach its return address"
		}
	case isa.BaseFP:
		if !s.fpOK || e.AccessOff+e.AccessSize > s.fp {
			return s, "an access of the stack may reach its return address"
		}
	}
	switch e.SP {
	case isa.SPNone:
	case isa.SPAdd:
		s.sp -= e.SPDelta
	case isa.SPFromFP:
		s.sp, s.spOK = s.fp-e.SPDelta, s.fpOK && !e.HasSPReg
	default:
		s.spOK = false
	}
	switch {
	case e.SetsFP:
		s.fp, s.fpOK = s.sp-e.FPOffset, s.spOK
	case e.AdjustsFP:
		s.fp -= e.FPDelta
	case e.ClobbersFP:
		s.fpOK = false
	}
	return s, ""
}

// lea64 says whether c is a lea into a 64-bit register.
func lea64(c []byte) bool {
	in, err := x86asm.Decode(c, 64)
	if err != nil || in.Op != x86asm.LEA {
		return false
	}
	r, ok := in.Args[0].(x86asm.Reg)
	return ok && r >= x86asm.RAX && r <= x86asm.R15
}

// cmov64 says whether c is a cmovCC between 64-bit registers, and which.
func cmov64(c []byte) (dst, src int8, ok bool) {
	in, err := x86asm.Decode(c, 64)
	if err != nil || in.Op < x86asm.CMOVA || in.Op > x86asm.CMOVS {
		return 0, 0, false
	}
	d, ok1 := in.Args[0].(x86asm.Reg)
	r, ok2 := in.Args[1].(x86asm.Reg)
	if !ok1 || !ok2 || d < x86asm.RAX || d > x86asm.R15 || r < x86asm.RAX || r > x86asm.R15 {
		return 0, 0, false
	}
	return int8(d - x86asm.RAX), int8(r - x86asm.RAX), true
}

// vdsoIFuncResolver says whether the resolver at fi of library m is one
// linkVDSOIFuncs models (time or gettimeofday, in a library the program
// loads, reading ld.so's _rtld_global_ro through its GOT slot): a call of
// it is linked to the resolver's constant fallback, to which that model
// adds the vDSO's function (or leaves the call unresolved: --strict, no
// vDSO to read). Its conditions are linkVDSOIFuncs' own.
func (g *Graph) vdsoIFuncResolver(m *Module, fi int) bool {
	if g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || m == g.Modules[0] {
		return false
	}
	fn := &m.File.Functions[fi]
	if !fn.IFunc || !slices.ContainsFunc(vdsoIFuncs, func(x struct{ ifunc, symbol string }) bool {
		return fn.Name() == x.ifunc || fn.LinkName == x.ifunc || slices.Contains(fn.Aliases, x.ifunc)
	}) {
		return false
	}
	for addr, name := range m.File.Slots {
		if name, _, _ = strings.Cut(name, "@"); name == rtldGlobalRO && g.loadsSlot(m, fn, addr) {
			return true
		}
	}
	return false
}
