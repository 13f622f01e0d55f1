package callgraph

import (
	"bytes"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// A stream made by fopencookie(cookie, mode, io) keeps io, the
// cookie_io_functions_t {read, write, seek, close} passed by value, in the
// FILE (struct _IO_cookie_file, after the cookie), each pointer mangled
// (PTR_MANGLE: xor with the guard at fs:0x30, rol 0x11). glibc's
// _IO_cookie_read, _IO_cookie_write, _IO_cookie_seek and _IO_cookie_close,
// which the cookie streams' jump tables (_IO_cookie_jumps) lead to,
// demangle one of them and call it. fmemopen is such a stream too: it
// calls fopencookie with its own fmemopen_read, _write, _seek and _close.
// Without a model those calls take libc's address-taken set, and from
// there every function of the program whose address is taken.
//
// The model: the call through a field goes to the functions the modules'
// calls of fopencookie pass in that field, read at each call from the
// words of the struct argument in the caller's outgoing argument area
// ([rsp+0..31] at the call, System V: a 32-byte struct is passed in
// memory). It rests on glibc's code (2.36, libio/iofopncook.c): only
// _IO_cookie_init writes the fields, from its argument, and only
// fopencookie calls it. Nothing in the binary proves the first half (a
// store through a FILE* could write them), so the edges carry a
// glibc-model premise and --strict keeps the assumed targets.

// cookieFields are the functions that call through each field of
// cookie_io_functions_t, in the field's order (read, write, seek, close).
var cookieFields = []string{"_IO_cookie_read", "_IO_cookie_write", "_IO_cookie_seek", "_IO_cookie_close"}

var (
	// cookieOpeners take the cookie_io_functions_t by value and store it
	// (through _IO_cookie_init) in the stream.
	cookieOpeners = []string{"fopencookie", "_IO_fopencookie"}
	// cookieInit is the internal function that writes the fields; a call
	// of it from anything but an opener is one the model cannot read.
	cookieInit = []string{"_IO_cookie_init"}
)

// linkCookieFunctions applies the model above (not with --strict). Each
// of the four call sites is found by its demangling shape in the function
// of that name (libc6-dbg's names; without them nothing changes), and the
// four must load consecutive words of the FILE. A field
// keeps its assumed targets when one of fopencookie's calls passes in it
// a value the model cannot read, and every field does when fopencookie's
// (or _IO_cookie_init's) address is taken, or it is called other than
// directly or through the PLT.
func (g *Graph) linkCookieFunctions() {
	if g.opts.Strict {
		return
	}
	for _, m := range g.Modules[1:] {
		if _, ok := m.File.Lookup("_IO_cookie_init"); !ok {
			continue
		}
		// The four calls, each the one of its function, loading four
		// consecutive words of the FILE (read, write, seek, close): the
		// names stand for the fields they are taken to.
		sites := make([]frame.CallSite, len(cookieFields))
		callers := make([]int, len(cookieFields))
		var first int64
		for f, name := range cookieFields {
			fn, ok := m.File.Lookup(name)
			if !ok {
				return
			}
			fi, _ := m.File.FunctionIndex(fn.Addr)
			id := g.nodeFor(m, fi)
			cs, disp, ok := g.demangledCall(m, g.Nodes[id])
			if f == 0 {
				first = disp
			}
			if !ok || disp != first+int64(8*f) {
				return
			}
			sites[f], callers[f] = cs, id
		}
		fields, known := g.cookieArguments()
		for f := range cookieFields {
			if !known[f] {
				continue
			}
			nw := g.cookieHub(m, f, fields[f])
			id, cs := callers[f], sites[f]
			n := g.Nodes[id]
			n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == cs.Addr })
			n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return a.Site == cs.Addr })
			n.Unresolved = slices.DeleteFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == cs.Addr })
			g.addEdge(id, nw.hub, cs, MethodCookieIO)
		}
		return // one C library
	}
}

// cookieHub is the node standing for the functions of field f that the
// calls of fopencookie pass, with the premise the model rests on.
func (g *Graph) cookieHub(m *Module, f int, targets []int) narrowed {
	field := []string{"read", "write", "seek", "close"}[f]
	nw := g.subsetHub(m, "cookie io "+field, MethodCookieIO, slices.Clone(targets), func(c int) string {
		return fmt.Sprintf("fopencookie's %s functions: %d %s (the ones the calls of fopencookie and fmemopen pass)", field, c, plural(c, "function"))
	})
	g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel,
		Detail: "a cookie stream's " + field + " function is one a call of fopencookie passed: only glibc 2.36's _IO_cookie_init, " +
			"called from fopencookie alone, writes the FILE's io functions; a library loaded later with dlopen could pass others (--strict takes any address-taken function)"})
	return nw
}

// cookieArguments returns, for each field, the nodes of the functions the
// modules' calls of fopencookie pass there (0 passes none), and whether
// every call's value in that field was read.
func (g *Graph) cookieArguments() (fields [4][]int, known [4]bool) {
	known = [4]bool{true, true, true, true}
	none := [4]bool{}
	all := append(slices.Clone(cookieOpeners), cookieInit...)
	for _, m := range g.Modules {
		var defined []uint64
		for _, name := range all {
			if fn, ok := m.File.Lookup(name); ok {
				defined = append(defined, fn.Addr)
			}
		}
		imported := importsAny(m.File, all)
		if len(defined) == 0 && !imported {
			continue
		}
		if g.cookieOpenerEscapes(m, defined, all) {
			return fields, none
		}
		g.completeModule(m)
		for _, id := range slices.Sorted(m.nodes.all()) {
			n := g.Nodes[id]
			if n.Func == nil {
				continue
			}
			opener := slices.Contains(defined, n.Func.Addr) && namedAny(n, cookieOpeners)
			for _, e := range n.Edges {
				to := g.Nodes[e.To]
				if !namedAny(to, all) {
					continue
				}
				if e.Method != MethodDirect && e.Method != MethodPLT {
					return fields, none // through a pointer or a GOT word: any argument
				}
				if namedAny(to, cookieInit) {
					if opener {
						continue // fopencookie passing its argument on
					}
					return fields, none
				}
				words, ok := g.stackArguments(m, n, e.Site, 4)
				for f := range words {
					if !ok[f] {
						known[f] = false
						continue
					}
					if words[f] == 0 {
						continue
					}
					t, found := g.functionNode(m, words[f])
					if !found {
						known[f] = false
						continue
					}
					fields[f] = append(fields[f], t)
				}
			}
		}
	}
	return fields, known
}

// cookieOpenerEscapes says whether module m may call one of the openers
// other than directly or through a PLT stub: m's code or data takes the
// address of one it defines or of a PLT stub of one, or the dynamic
// linker stores one's address in a word of m other than a PLT slot (a
// GOT word: `call [rip+got]` at -fno-plt, or a pointer).
func (g *Graph) cookieOpenerEscapes(m *Module, defined []uint64, names []string) bool {
	if len(defined) > 0 {
		g.completeModule(m)
		if g.refersTo(m, defined) {
			return true
		}
	}
	taken, ok := m.File.AddressImports()
	if !ok {
		return true
	}
	for _, name := range names {
		if taken[name] {
			return true
		}
	}
	// A PLT stub's address taken (a non-PIE program's `&fopencookie`).
	stub := func(a uint64) bool {
		if !m.File.InPLT(a) {
			return false
		}
		name, _, _ := strings.Cut(m.File.Slots[g.pltSlot(m, a)], "@")
		return slices.Contains(names, name)
	}
	g.completeModule(m)
	for id := range m.nodes.all() {
		if slices.ContainsFunc(g.Nodes[id].Frame.Refs, stub) {
			return true
		}
	}
	return slices.ContainsFunc(m.File.AddressTaken(), stub)
}

// functionNode returns the node of the function that starts at addr in
// m, or of the PLT stub there.
func (g *Graph) functionNode(m *Module, addr uint64) (int, bool) {
	if fi, ok := m.File.FunctionIndex(addr); ok && m.File.Functions[fi].Addr == addr {
		return g.nodeFor(m, fi), true
	}
	if m.File.InPLT(addr) {
		return g.pltNode(m, addr)
	}
	return 0, false
}

// demangledCall finds node n's one indirect call (or tail jump) through a
// pointer demangled right before it: `mov r,[base+k]`, `ror r,0x11`,
// `xor r,fs:0x30`, then only compares, outward conditional branches and
// moves into other registers up to `call r`/`jmp r`, no branch landing
// after the load. It returns the site and the load's displacement (the
// field's offset in the FILE). Not ok when there is not exactly one.
func (g *Graph) demangledCall(m *Module, n *Node) (frame.CallSite, int64, bool) {
	insts, from, ok := g.decodeLinear(m, n)
	if !ok {
		return frame.CallSite{}, 0, false
	}
	code, err := m.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return frame.CallSite{}, 0, false
	}
	var out []frame.CallSite
	var disp int64
	for _, cs := range n.Frame.Calls {
		if !cs.Kind.Indirect() || cs.HasSlot {
			continue
		}
		at := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == cs.Addr })
		if at < 0 {
			continue
		}
		if d, ok := demangles(insts, from, code, n.Func.Addr, at); ok {
			out = append(out, cs)
			disp = d
		}
	}
	if len(out) != 1 {
		return frame.CallSite{}, 0, false
	}
	return out[0], disp, true
}

// demangles checks the shape of demangledCall before insts[at].
func demangles(insts []linearInst, from map[uint64][]uint64, code []byte, start uint64, at int) (int64, bool) {
	decode := func(i int) (x86asm.Inst, bool) {
		in, err := x86asm.Decode(code[insts[i].addr-start:], 64)
		return in, err == nil
	}
	call, ok := decode(at)
	if !ok || (call.Op != x86asm.CALL && call.Op != x86asm.JMP) {
		return 0, false
	}
	r, ok := call.Args[0].(x86asm.Reg)
	if !ok || r < x86asm.RAX || r > x86asm.R15 {
		return 0, false
	}
	sameGP := func(a x86asm.Reg) bool {
		i, _, ok := gpIndex(a)
		return ok && i == int(r-x86asm.RAX)
	}
	step := 0 // 0: want xor fs:0x30; 1: want ror 0x11; 2: want the load
	for i := at - 1; i >= 0 && at-i <= 16; i-- {
		if len(from[insts[i+1].addr]) > 0 {
			return 0, false // a branch lands between
		}
		in, ok := decode(i)
		if !ok {
			return 0, false
		}
		dst, isReg := in.Args[0].(x86asm.Reg)
		writesR := isReg && sameGP(dst) && in.Op != x86asm.TEST && in.Op != x86asm.CMP
		switch {
		case step == 0 && dst == r && in.Op == x86asm.XOR:
			mem, ok := in.Args[1].(x86asm.Mem)
			if !ok || mem.Segment != x86asm.FS || mem.Base != 0 || mem.Index != 0 || mem.Disp != 0x30 {
				return 0, false
			}
			step = 1
		case step == 1 && dst == r && in.Op == x86asm.ROR:
			if imm, ok := in.Args[1].(x86asm.Imm); !ok || imm != 0x11 {
				return 0, false
			}
			step = 2
		case step == 2 && dst == r && in.Op == x86asm.MOV:
			mem, ok := in.Args[1].(x86asm.Mem)
			if !ok || mem.Segment != 0 || mem.Base < x86asm.RAX || mem.Base > x86asm.R15 || mem.Index != 0 {
				return 0, false
			}
			return int64(int32(mem.Disp)), true
		case writesR:
			return 0, false
		case in.Op == x86asm.TEST || in.Op == x86asm.CMP:
		case insts[i].e.Flow == isa.FlowCondJump:
		case (in.Op == x86asm.MOV || in.Op == x86asm.LEA) && isReg:
			// a move into another register (the cookie into rdi)
		case in.Op == x86asm.MOV && !isReg:
			// a store (_IO_cookie_seek keeps the offset in its frame)
		default:
			return 0, false
		}
	}
	return 0, false
}

// Stack words at a call, by a forward flow over the straight-line code
// before it. The flow is written here rather than on argslots.go's (which
// follows values a function keeps in its own frame across calls, for
// register arguments) because a struct passed by value is built with SSE
// moves (pxor, movq, punpcklqdq, movaps/movdqa/movups between the stack
// and xmm registers), which that flow does not model.

const (
	cvUnknown uint8 = iota
	cvConst         // a constant: an address in the module, or a number
	cvStack         // the SP where the flow starts, plus v
)

// cv is a value the flow knows.
type cv struct {
	kind uint8
	v    int64
}

// stackFlow is the state of the flow: the general-purpose registers, the
// two 64-bit lanes of each xmm register, and the 8-byte words of the
// stack (by offset from the SP where the flow starts) whose value is known.
type stackFlow struct {
	gp  [16]cv
	xmm [16][2]cv
	mem map[int64]cv
}

// stackArguments returns the first count 8-byte words of the outgoing
// argument area ([rsp], [rsp+8], ...) at the call at site in node n, each
// with whether it is a known constant. The flow runs from the start of the
// straight-line code that ends at the call (the function's entry, or the
// instruction after its last branch, call or branch target), knowing
// nothing there but SP; every instruction it does not model makes
// everything unknown, and a store it cannot place forgets every word.
func (g *Graph) stackArguments(m *Module, n *Node, site uint64, count int) ([]uint64, []bool) {
	words, ok := make([]uint64, count), make([]bool, count)
	insts, from, linear := g.decodeLinear(m, n)
	if !linear {
		return words, ok
	}
	code, err := m.File.Code(n.Func.Addr, n.Func.Size)
	if err != nil {
		return words, ok
	}
	at := slices.IndexFunc(insts, func(in linearInst) bool { return in.addr == site })
	if at < 0 {
		return words, ok
	}
	s := at
	for s > 0 && flowsOn(insts[s-1].e.Flow) && len(from[insts[s].addr]) == 0 {
		s--
	}
	fl := stackFlow{mem: map[int64]cv{}}
	fl.gp[4] = cv{cvStack, 0}
	for i := s; i < at; i++ {
		b := code[insts[i].addr-n.Func.Addr:]
		if bytes.HasPrefix(b, endbr64) {
			continue // a CET landing pad (x86asm v0.32 does not know it): no effect
		}
		in, err := x86asm.Decode(b, 64)
		if err != nil {
			return words, ok
		}
		if insts[i].e.Flow != isa.FlowNext {
			fl.afterCall()
			continue
		}
		fl.step(m, &in, insts[i].addr+uint64(in.Len))
	}
	sp := fl.gp[4]
	if sp.kind != cvStack {
		return words, ok
	}
	for k := range count {
		if w, known := fl.mem[sp.v+int64(8*k)]; known && w.kind == cvConst {
			words[k], ok[k] = uint64(w.v), true
		}
	}
	return words, ok
}

// flowsOn says whether the flow goes on past an instruction of this kind
// to the next one: most do; a call returns there.
func flowsOn(f isa.Flow) bool {
	return f == isa.FlowNext || f == isa.FlowCall || f == isa.FlowIndirectCall
}

// afterCall is the state after a call: SP and the callee-saved registers
// (rbx, rbp, r12-r15) as they were, which the System V ABI has every
// function keep; every other register, and every stack word (the callee
// may write through a pointer into the frame), unknown.
func (fl *stackFlow) afterCall() {
	kept := fl.gp
	fl.forget(false)
	for _, r := range []int{3, 4, 5, 12, 13, 14, 15} {
		fl.gp[r] = kept[r]
	}
}

var endbr64 = []byte{0xf3, 0x0f, 0x1e, 0xfa}

// gpIndex returns the register number (rax 0 ... r15 15) of a
// general-purpose register and its size in bytes.
func gpIndex(r x86asm.Reg) (int, int, bool) {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX), 8, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX), 4, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX), 2, true
	case r >= x86asm.AL && r <= x86asm.R15B:
		i := int(r - x86asm.AL)
		if i >= 4 { // AH..BH, then SPB..DIB, R8B..: rax..rbx, rsp..rdi, r8..
			i -= 4
		}
		return i, 1, true
	}
	return 0, 0, false
}

func xmmIndex(r x86asm.Reg) (int, bool) {
	if r >= x86asm.X0 && r <= x86asm.X15 {
		return int(r - x86asm.X0), true
	}
	return 0, false
}

// forget makes everything unknown but SP (when keepSP).
func (fl *stackFlow) forget(keepSP bool) {
	sp := fl.gp[4]
	fl.gp = [16]cv{}
	fl.xmm = [16][2]cv{}
	clear(fl.mem)
	if keepSP {
		fl.gp[4] = sp
	}
}

// address evaluates a memory operand: a stack address, a constant
// (rip-relative), or unknown (also for a segment override).
func (fl *stackFlow) address(mem x86asm.Mem, next uint64) cv {
	if mem.Segment != 0 {
		return cv{}
	}
	var base cv
	switch {
	case mem.Base == x86asm.RIP:
		base = cv{cvConst, int64(next)}
	case mem.Base == 0:
		base = cv{cvConst, 0}
	default:
		r, size, ok := gpIndex(mem.Base)
		if !ok || size != 8 {
			return cv{}
		}
		base = fl.gp[r]
	}
	if mem.Index != 0 || base.kind == cvUnknown {
		return cv{}
	}
	// x86asm gives a disp32 unsigned; the CPU adds it sign-extended.
	return cv{base.kind, base.v + int64(int32(mem.Disp))}
}

// store records a write of size bytes at addr; lanes are the 8-byte
// values written (nil: not known).
func (fl *stackFlow) store(addr cv, size int, lanes []cv) {
	switch addr.kind {
	case cvConst:
		return // a global: not the stack
	case cvUnknown:
		clear(fl.mem)
		return
	}
	if size <= 0 {
		clear(fl.mem)
		return
	}
	for off := range fl.mem {
		if off < addr.v+int64(size) && off+8 > addr.v {
			delete(fl.mem, off)
		}
	}
	if len(lanes)*8 != size {
		return
	}
	for k, l := range lanes {
		if l.kind != cvUnknown {
			fl.mem[addr.v+int64(8*k)] = l
		}
	}
}

// load reads lanes 8-byte words at addr: known stack words, or words of
// a read-only section of the file that no relocation writes.
func (fl *stackFlow) load(m *Module, addr cv, lanes int) []cv {
	out := make([]cv, lanes)
	switch addr.kind {
	case cvStack:
		for k := range out {
			out[k] = fl.mem[addr.v+int64(8*k)]
		}
	case cvConst:
		if m == nil || !readOnlyData(m, uint64(addr.v), uint64(8*lanes)) {
			return out
		}
		data, err := m.File.Code(uint64(addr.v), uint64(8*lanes))
		if err != nil || len(data) < 8*lanes {
			return out
		}
		for k := range out {
			w := uint64(addr.v) + uint64(8*k)
			v, relocated, known := m.File.DynamicWord(w)
			switch {
			case !relocated:
				out[k] = cv{cvConst, int64(m.File.ELF.ByteOrder.Uint64(data[8*k:]))}
			case known:
				out[k] = cv{cvConst, int64(v)}
			}
		}
	}
	return out
}

// readOnlyData says whether [addr, addr+size) lies in data the program
// cannot write: an allocated section that is neither writable nor code,
// or one inside PT_GNU_RELRO (.data.rel.ro: read-only once the dynamic
// linker has relocated it). Its words are then the file's, or what a
// dynamic relocation stores (DynamicWord).
func readOnlyData(m *Module, addr, size uint64) bool {
	for _, s := range m.File.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS || addr < s.Addr || addr+size > s.Addr+s.Size {
			continue
		}
		if s.Flags&elf.SHF_EXECINSTR != 0 {
			return false
		}
		if s.Flags&elf.SHF_WRITE == 0 {
			return true
		}
		for _, p := range m.File.ELF.Progs {
			if p.Type == elf.PT_GNU_RELRO && addr >= p.Vaddr && addr+size <= p.Vaddr+p.Memsz {
				return true
			}
		}
		return false
	}
	return false
}

// value evaluates an 8-byte source operand.
func (fl *stackFlow) value(m *Module, a x86asm.Arg, next uint64) cv {
	switch a := a.(type) {
	case x86asm.Imm:
		return cv{cvConst, int64(a)}
	case x86asm.Reg:
		if r, size, ok := gpIndex(a); ok && size == 8 {
			return fl.gp[r]
		}
	case x86asm.Mem:
		return fl.load(m, fl.address(a, next), 1)[0]
	}
	return cv{}
}

// setGP writes a general-purpose register: 8 bytes as given, 4 bytes
// zero-extends a constant, anything narrower merges (unknown).
func (fl *stackFlow) setGP(r x86asm.Reg, v cv) {
	i, size, ok := gpIndex(r)
	if !ok {
		return
	}
	switch {
	case size == 4 && v.kind == cvConst:
		v.v = int64(uint32(v.v))
	case size != 8:
		v = cv{}
	}
	fl.gp[i] = v
}

// memBytes is the size of an instruction's memory operand.
func memBytes(in *x86asm.Inst) int {
	if in.MemBytes > 0 {
		return in.MemBytes
	}
	return 0
}

// step runs one instruction (next: the address after it).
func (fl *stackFlow) step(m *Module, in *x86asm.Inst, next uint64) {
	dst, src := in.Args[0], in.Args[1]
	switch in.Op {
	case x86asm.NOP, x86asm.CMP, x86asm.TEST:
		return
	case x86asm.MOV:
		if d, ok := dst.(x86asm.Mem); ok {
			v := fl.value(m, src, next)
			if _, reg := src.(x86asm.Reg); reg && memBytes(in) != 8 {
				v = cv{}
			}
			if imm, ok := src.(x86asm.Imm); ok && memBytes(in) == 8 {
				v = cv{cvConst, int64(imm)} // sign-extended imm32
			}
			fl.store(fl.address(d, next), memBytes(in), []cv{v})
			return
		}
		if r, ok := dst.(x86asm.Reg); ok {
			_, size, _ := gpIndex(r)
			if _, isMem := src.(x86asm.Mem); isMem && size != 8 {
				fl.setGP(r, cv{}) // a narrower load: not a word the flow keeps
				return
			}
			if srcReg, ok := src.(x86asm.Reg); ok {
				if _, ssize, _ := gpIndex(srcReg); ssize != size {
					fl.setGP(r, cv{})
					return
				}
				if i, _, ok := gpIndex(srcReg); ok && size == 4 {
					fl.setGP(r, fl.gp[i]) // mov r32,r32: the low half, zero-extended
					return
				}
			}
			fl.setGP(r, fl.value(m, src, next))
			return
		}
	case x86asm.LEA:
		if r, ok := dst.(x86asm.Reg); ok {
			mem, _ := src.(x86asm.Mem)
			if _, size, _ := gpIndex(r); size == 8 {
				fl.setGP(r, fl.address(mem, next))
			} else {
				fl.setGP(r, cv{})
			}
			return
		}
	case x86asm.ADD, x86asm.SUB:
		if r, ok := dst.(x86asm.Reg); ok && r == x86asm.RSP {
			imm, isImm := src.(x86asm.Imm)
			if sp := fl.gp[4]; isImm && sp.kind == cvStack {
				if in.Op == x86asm.SUB {
					imm = -imm
				}
				fl.gp[4] = cv{cvStack, sp.v + int64(imm)}
				return
			}
			fl.forget(false)
			return
		}
	case x86asm.PUSH:
		v := fl.value(m, dst, next)
		if sp := fl.gp[4]; sp.kind == cvStack && in.DataSize != 16 {
			fl.gp[4] = cv{cvStack, sp.v - 8}
			fl.store(fl.gp[4], 8, []cv{v})
			return
		}
		fl.forget(false)
		return
	case x86asm.POP:
		if r, ok := dst.(x86asm.Reg); ok {
			if sp := fl.gp[4]; sp.kind == cvStack {
				fl.setGP(r, fl.mem[sp.v])
				fl.gp[4] = cv{cvStack, sp.v + 8}
				return
			}
		}
		fl.forget(false)
		return
	case x86asm.XOR, x86asm.PXOR, x86asm.XORPS, x86asm.XORPD:
		if a, ok := dst.(x86asm.Reg); ok && a == src {
			if x, ok := xmmIndex(a); ok {
				fl.xmm[x] = [2]cv{{cvConst, 0}, {cvConst, 0}}
				return
			}
			fl.setGP(a, cv{cvConst, 0})
			return
		}
	case x86asm.MOVQ:
		if x, ok := xmmIndex(asReg(dst)); ok {
			v := cv{}
			if sx, ok := xmmIndex(asReg(src)); ok {
				v = fl.xmm[sx][0]
			} else if r, size, ok := gpIndex(asReg(src)); ok && size == 8 {
				v = fl.gp[r]
			} else if mem, ok := src.(x86asm.Mem); ok {
				v = fl.load(m, fl.address(mem, next), 1)[0]
			}
			fl.xmm[x] = [2]cv{v, {cvConst, 0}}
			return
		}
		if sx, ok := xmmIndex(asReg(src)); ok {
			if mem, ok := dst.(x86asm.Mem); ok {
				fl.store(fl.address(mem, next), 8, []cv{fl.xmm[sx][0]})
				return
			}
			if r, size, ok := gpIndex(asReg(dst)); ok && size == 8 {
				fl.gp[r] = fl.xmm[sx][0]
				return
			}
		}
	case x86asm.PUNPCKLQDQ:
		if x, ok := xmmIndex(asReg(dst)); ok {
			var low cv
			if sx, ok := xmmIndex(asReg(src)); ok {
				low = fl.xmm[sx][0]
			} else if mem, ok := src.(x86asm.Mem); ok {
				low = fl.load(m, fl.address(mem, next), 1)[0]
			}
			fl.xmm[x][1] = low
			return
		}
	case x86asm.MOVAPS, x86asm.MOVUPS, x86asm.MOVAPD, x86asm.MOVUPD, x86asm.MOVDQA, x86asm.MOVDQU:
		if x, ok := xmmIndex(asReg(dst)); ok {
			if sx, ok := xmmIndex(asReg(src)); ok {
				fl.xmm[x] = fl.xmm[sx]
			} else if mem, ok := src.(x86asm.Mem); ok {
				l := fl.load(m, fl.address(mem, next), 2)
				fl.xmm[x] = [2]cv{l[0], l[1]}
			} else {
				fl.xmm[x] = [2]cv{}
			}
			return
		}
		if sx, ok := xmmIndex(asReg(src)); ok {
			if mem, ok := dst.(x86asm.Mem); ok {
				fl.store(fl.address(mem, next), 16, fl.xmm[sx][:])
				return
			}
		}
	}
	// Anything else: an instruction that writes only its first operand
	// (a register or a memory operand) loses that; any other, everything.
	if !writesFirstOnly(in.Op) {
		fl.forget(false)
		return
	}
	switch d := dst.(type) {
	case x86asm.Reg:
		if r, _, ok := gpIndex(d); ok {
			if r == 4 {
				fl.forget(false)
				return
			}
			fl.gp[r] = cv{}
			return
		}
		if x, ok := xmmIndex(d); ok {
			fl.xmm[x] = [2]cv{}
			return
		}
		fl.forget(false)
	case x86asm.Mem:
		fl.store(fl.address(d, next), memBytes(in), nil)
	default:
		fl.forget(false)
	}
}

func asReg(a x86asm.Arg) x86asm.Reg {
	r, _ := a.(x86asm.Reg)
	return r
}

// writesFirstOnly lists instructions whose only effects are on their
// first operand and the flags (no implicit register or memory operand).
func writesFirstOnly(op x86asm.Op) bool {
	switch op {
	case x86asm.ADD, x86asm.SUB, x86asm.AND, x86asm.OR, x86asm.XOR, x86asm.ADC, x86asm.SBB,
		x86asm.SHL, x86asm.SHR, x86asm.SAR, x86asm.ROL, x86asm.ROR, x86asm.NEG, x86asm.NOT, x86asm.INC, x86asm.DEC,
		x86asm.MOV, x86asm.LEA, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.MOVD, x86asm.MOVQ,
		x86asm.MOVAPS, x86asm.MOVUPS, x86asm.MOVAPD, x86asm.MOVUPD, x86asm.MOVDQA, x86asm.MOVDQU,
		x86asm.PXOR, x86asm.XORPS, x86asm.XORPD, x86asm.PUNPCKLQDQ, x86asm.MOVSS, x86asm.MOVSD_XMM,
		x86asm.SETE, x86asm.SETNE, x86asm.CMOVE, x86asm.CMOVNE, x86asm.BSWAP:
		return true
	}
	return false
}
