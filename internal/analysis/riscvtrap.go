package analysis

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/isa"
)

// RISC-V traps. A trap pushes nothing on RISC-V: the handler's own code
// saves what it uses (GCC's __attribute__((interrupt)) saves every register
// it touches, and ends with mret), so a handler's bound is what its code
// says, like any function's. The handlers are found two ways:
//   - functions whose code returns with mret (or sret);
//   - the value the code writes to mtvec (csrw mtvec, rX, with rX set by
//     la/lui+addi before it): in direct mode the handler, in vectored mode
//     (mode bits 01) a table of jumps, one per cause, each to a handler.
// Machine mode clears mstatus.MIE on a trap, so handlers do not nest unless
// one sets it again (csrs/csrw mstatus, in the handler or a function it
// calls): riscvtotal.go turns that into the main-stack total.

const (
	csrMstatus = 0x300
	csrMtvec   = 0x305
	// maxVectors bounds a vectored mtvec table (causes 0..63).
	maxVectors = 64
)

// riscvTraps is what the code of a RISC-V image says about its traps.
type riscvTraps struct {
	handlers []trapHandler // by address
	// writers are the functions (by address) with a write of mstatus
	// that may set MIE, and the address of their first one.
	writers map[uint64]uint64
	// tables are the values written to mtvec, and where.
	tables []string
	// restores are the functions (by address) whose writes of mstatus
	// restore it from the context the code resumes (see restoresMstatus),
	// which riscvTrapSpecs took for keeping MIE clear; --strict moves them
	// back to writers (strictRestores).
	restores map[uint64]mstatusRestore
}

// mstatusRestore is one function's restore of mstatus from a context.
type mstatusRestore struct {
	addr uint64 // the csrw
	load uint64 // the load of the value
	mret uint64
}

// trapHandler is one trap handler and how it was found.
type trapHandler struct {
	addr uint64
	name string
	node int
	how  []string // "mret" (returns with it), "mtvec" (direct mode), "cause 7" (vectored)
}

// riscvTrapSpecs returns the trap handlers of a RISC-V firmware as entries
// (kind "trap"), those not already in have, and what the code says about
// its traps (nil when it is not RISC-V or has no trap handler).
func riscvTrapSpecs(f *binfile.File, g *callgraph.Graph, have []bound.Spec, dec isa.Decoder) ([]bound.Spec, *riscvTraps) {
	if !f.Arch.IsRISCV() {
		return nil, nil
	}
	how := map[uint64][]string{} // handler address -> how it was found
	tr := &riscvTraps{writers: map[uint64]uint64{}, restores: map[uint64]mstatusRestore{}}
	for i := range f.Functions {
		fn := &f.Functions[i]
		code, err := f.Code(fn.Addr, fn.Size)
		if err != nil {
			continue
		}
		s := scanTrapCode(dec, code, fn.Addr)
		if s.mret {
			how[fn.Addr] = append(how[fn.Addr], "mret")
		}
		for _, v := range s.mtvec {
			mode := "direct"
			if v&3 == 1 {
				mode = "vectored"
			}
			tr.tables = append(tr.tables, fmt.Sprintf("mtvec %#x (%s), set in %s", v, mode, fn.Name()))
			for _, slot := range mtvecHandlers(f, dec, v) {
				w := "mtvec"
				if slot.cause >= 0 {
					w = fmt.Sprintf("cause %d", slot.cause)
				}
				how[slot.addr] = append(how[slot.addr], w)
			}
		}
		switch {
		case s.mstatusAt != 0:
			tr.writers[fn.Addr] = s.mstatusAt
		case s.restore.addr != 0:
			tr.restores[fn.Addr] = s.restore
		}
	}
	in := map[int]bool{}
	for _, s := range have {
		in[s.Node] = true
	}
	addrs := make([]uint64, 0, len(how))
	for a := range how {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	var specs []bound.Spec
	for _, a := range addrs {
		fi, ok := f.FunctionIndex(a)
		if !ok {
			continue
		}
		node := g.Node(g.Modules[0], fi)
		name := f.Functions[fi].Name()
		tr.handlers = append(tr.handlers, trapHandler{addr: a, name: name, node: node, how: how[a]})
		if in[node] {
			continue
		}
		in[node] = true
		specs = append(specs, bound.Spec{Name: name, Node: node, Kind: "trap"})
	}
	if len(tr.handlers) == 0 {
		return specs, nil
	}
	return specs, tr
}

// trapScan is what scanTrapCode finds in one function.
type trapScan struct {
	mret      bool
	mtvec     []uint64 // values written to mtvec
	mstatusAt uint64   // a write to mstatus that may set MIE (0: none)
	// restore is the first write of mstatus that restores it from the
	// context the code resumes (addr 0: none); it may set MIE only if
	// the saved value has it.
	restore mstatusRestore
}

// scanTrapCode decodes code (at addr) in order and notes mret, the
// constants written to mtvec and the writes of mstatus that may set MIE.
// Constants are followed in straight-line order (la t0, sym; csrw mtvec,
// t0), forgotten at every branch and at every instruction a branch of the
// function lands on. A value found this way only adds an mtvec entry; it
// clears a write of mstatus (proves MIE stays clear) only when the
// function has no indirect jump, which could land anywhere.
func scanTrapCode(dec isa.Decoder, code []byte, addr uint64) trapScan {
	joins, indirect := branchTargets(dec, code, addr)
	var s trapScan
	consts := map[int8]int64{}
	loaded := map[int8]uint64{} // register -> the sp-relative load that set it
	for off := 0; off+2 <= len(code); {
		pc := addr + uint64(off)
		if joins[pc] {
			clear(consts)
			clear(loaded)
		}
		e, err := dec.Decode(code[off:], pc)
		if err != nil {
			off += 2
			clear(consts)
			clear(loaded)
			continue
		}
		if e.Len == 4 {
			x := binary.LittleEndian.Uint32(code[off:])
			switch {
			case x == 0x30200073 || x == 0x10200073: // mret, sret
				s.mret = true
			case x&0x7F == 0x73 && x>>20 == csrMtvec && x>>12&7 == 1: // csrw mtvec, rs1 (csrrw)
				if v, ok := consts[int8(x>>15&31)]; ok {
					s.mtvec = append(s.mtvec, uint64(v))
				}
			case x&0x7F == 0x73 && x>>20 == csrMstatus && s.mstatusAt == 0:
				known := consts
				if indirect {
					known = nil
				}
				if !mayWriteMIE(x, known) {
					break
				}
				if r, ok := restoresMstatus(dec, code, addr, off, x, loaded); ok {
					if s.restore.addr == 0 {
						s.restore = r
					}
					break
				}
				s.mstatusAt = pc
			}
		}
		if e.DefKind != isa.DefNone {
			delete(loaded, e.DefReg)
			if e.DefKind == isa.DefLoad && e.HasMem && e.MemBase == riscvRegSP && e.MemIndex < 0 {
				loaded[e.DefReg] = pc
			}
			switch e.DefKind {
			case isa.DefConst, isa.DefAddr:
				consts[e.DefReg] = e.DefValue
			case isa.DefAddImm:
				if v, ok := consts[e.DefSrc]; ok {
					consts[e.DefReg] = v + e.DefValue
				} else {
					delete(consts, e.DefReg)
				}
			default:
				delete(consts, e.DefReg)
			}
		}
		if e.Flow != isa.FlowNext {
			clear(consts)
			clear(loaded)
		}
		off += e.Len
	}
	return s
}

// riscvRegSP is sp (x2).
const riscvRegSP = 2

// maxRestoreTail bounds the instructions from a restore of mstatus to
// its mret (a context restore reloads about 30 registers).
const maxRestoreTail = 96

// restoresMstatus says whether the csrrw of mstatus x at off (in code at
// addr) restores mstatus from the context the code resumes: its source
// register was loaded from the stack (loaded: straight-line, after the
// code's switch to the resumed context's SP), and the straight-line code
// after it reaches mret with no branch, jump, call or other write of
// mstatus. The value is then the mstatus the context was saved with: a
// trap handler's save reads it with MIE already clear (the trap cleared
// it), and an RTOS builds a new task's initial mstatus with MIE clear
// (FreeRTOS's pxPortInitialiseStack: andi t0, t0, ~0x8), so MIE stays
// clear until mret, which sets it from MPIE. That the saved value has MIE
// clear is what the code of the context's writers says, not this
// function's: an assumption ("mstatus-restore", off under --strict).
func restoresMstatus(dec isa.Decoder, code []byte, addr uint64, off int, x uint32, loaded map[int8]uint64) (mstatusRestore, bool) {
	if x>>12&7 != 1 { // csrrw only: csrrs would OR the value into the live one
		return mstatusRestore{}, false
	}
	load, ok := loaded[int8(x>>15&31)]
	if !ok {
		return mstatusRestore{}, false
	}
	r := mstatusRestore{addr: addr + uint64(off), load: load}
	off += 4
	for range maxRestoreTail {
		if off+2 > len(code) {
			break
		}
		pc := addr + uint64(off)
		e, err := dec.Decode(code[off:], pc)
		if err != nil {
			break
		}
		if e.Len == 4 {
			y := binary.LittleEndian.Uint32(code[off:])
			if y == 0x30200073 { // mret
				r.mret = pc
				return r, true
			}
			if y&0x7F == 0x73 && y>>20 == csrMstatus && y>>12&3 != 0 {
				break
			}
		}
		if e.Flow != isa.FlowNext {
			break
		}
		off += e.Len
	}
	return mstatusRestore{}, false
}

// AssumeMstatusRestore is the assumption of a trap handler whose write of
// mstatus restores it from the context it resumes (restoresMstatus).
const AssumeMstatusRestore = "mstatus-restore"

// strictRestores makes every restore of mstatus a write that may set MIE
// (--strict assumes nothing about what a context holds).
func (tr *riscvTraps) strictRestores() {
	for fn, r := range tr.restores {
		if _, ok := tr.writers[fn]; !ok {
			tr.writers[fn] = r.addr
		}
	}
	clear(tr.restores)
}

// branchTargets are the addresses in code that a branch or jump of the
// same code lands on, and whether it has an indirect jump (a jump table
// or a tail call through a register: its targets are not known here).
func branchTargets(dec isa.Decoder, code []byte, addr uint64) (map[uint64]bool, bool) {
	joins := map[uint64]bool{}
	indirect := false
	for off := 0; off+2 <= len(code); {
		pc := addr + uint64(off)
		e, err := dec.Decode(code[off:], pc)
		if err != nil {
			off += 2
			continue
		}
		switch {
		case e.Flow == isa.FlowIndirectJump:
			indirect = true
		case (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) && e.HasTarget:
			joins[e.Target] = true
		}
		off += e.Len
	}
	return joins, indirect
}

// mayWriteMIE says whether the CSR instruction x on mstatus may set its
// MIE bit (bit 3): csrrw/csrrs with a source register other than x0 whose
// value is not a known constant with bit 3 clear (known: the constants
// followed before it; nil when none can be trusted), csrrwi/csrrsi with
// bit 3 of the immediate. csrrc/csrrci only clear bits.
func mayWriteMIE(x uint32, known map[int8]int64) bool {
	rs1 := int8(x >> 15 & 31)
	switch x >> 12 & 7 {
	case 1, 2: // csrrw, csrrs
		if rs1 == 0 {
			return false
		}
		if v, ok := known[rs1]; ok {
			return v&(1<<3) != 0
		}
		return true
	case 5, 6: // csrrwi, csrrsi
		return rs1&8 != 0
	}
	return false
}

// vectorSlot is one handler an mtvec value names: the cause of its slot
// in a vectored table, -1 in direct mode.
type vectorSlot struct {
	cause int
	addr  uint64
}

// mtvecHandlers are the handlers an mtvec value v names: v itself in
// direct mode; in vectored mode, the targets of the jumps in the table at
// v &^ 3.
func mtvecHandlers(f *binfile.File, dec isa.Decoder, v uint64) []vectorSlot {
	base := v &^ 3
	if v&3 == 0 {
		return []vectorSlot{{-1, base}}
	}
	if v&3 != 1 {
		return nil
	}
	var out []vectorSlot
	for i := range maxVectors {
		pc := base + uint64(4*i)
		if fn, ok := f.FunctionAt(pc); i > 0 && ok && fn.Addr == pc {
			break // a function starts here: the table has ended (its own first jump may be one)
		}
		code, err := f.Code(pc, 4)
		if err != nil || len(code) < 4 {
			break
		}
		e, err := dec.Decode(code, pc)
		if err != nil || e.Flow != isa.FlowJump || !e.HasTarget {
			break
		}
		out = append(out, vectorSlot{i, e.Target})
	}
	return out
}

// restoreAssumptions states, for each trap handler that reaches a
// restore of mstatus from a context (tr.restores), the assumption it
// rests on: in the handler's entry (Assumptions, kind "mstatus-restore")
// and as lines for the main-stack total's assumes.
func restoreAssumptions(res *Result, tr *riscvTraps) []string {
	if len(tr.restores) == 0 {
		return nil
	}
	g := res.Graph
	var lines []string
	for _, th := range tr.handlers {
		seen := map[int]bool{th.node: true}
		queue := []int{th.node}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			n := g.Nodes[id]
			if n.Module == g.Modules[0] && n.Func != nil {
				if r, ok := tr.restores[n.Func.Addr]; ok {
					detail := fmt.Sprintf("mstatus written at %#x with the word loaded at %#x from the context the code resumes, then mret at %#x: "+
						"assumes every saved context has MIE clear (a trap's save reads mstatus with MIE cleared; FreeRTOS's pxPortInitialiseStack clears it), so %s does not set MIE again (--strict: it may)",
						r.addr, r.load, r.mret, th.name)
					a := bound.Assumption{Kind: AssumeMstatusRestore, Function: n.Name(), Addr: r.addr, Detail: detail}
					a.File, a.Line = res.lineAt(r.addr)
					for i := range res.Entries {
						if res.Entries[i].Name == th.name {
							res.Entries[i].Assumptions = append(res.Entries[i].Assumptions, a)
						}
					}
					where := ""
					if a.File != "" {
						where = fmt.Sprintf(" (%s:%d)", shortFile(a.File), a.Line)
					}
					lines = append(lines, fmt.Sprintf("%s restores mstatus from the resumed context at %#x%s before mret: every saved context has MIE clear", th.name, r.addr, where))
				}
			}
			for _, e := range n.Edges {
				if !seen[e.To] {
					seen[e.To] = true
					queue = append(queue, e.To)
				}
			}
		}
	}
	return lines
}
