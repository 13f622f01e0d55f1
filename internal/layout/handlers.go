package layout

import (
	"fmt"
	"sort"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/thumb"
)

// FaultHandler is what the check found in one exception handler.
type FaultHandler struct {
	Name    string   `json:"name"`
	Vectors []string `json:"vectors"`
	Addr    uint64   `json:"addr"`
	// UsesStackBeforeSPCheck: on some path from the entry the handler
	// pushes, moves SP down, accesses memory relative to SP or calls a
	// function before it reads SP into a register or resets SP. With the
	// stack at the start of RAM such a handler faults again on an overflow
	// and the core locks up.
	UsesStackBeforeSPCheck bool   `json:"uses_stack_before_sp_check"`
	FirstStackUse          *Instr `json:"first_stack_use"`
	// SPCheck is the first instruction that reads or resets SP, when it
	// comes before any stack use.
	SPCheck *Instr `json:"sp_check"`
	// EndlessLoop: every path from the entry ends in a loop with no exit
	// (no return, call, tail call or indirect jump) and no reset request.
	EndlessLoop bool   `json:"endless_loop"`
	LoopAt      *Instr `json:"loop_at"`
	// RequestsReset: the handler writes SCB->AIRCR (SYSRESETREQ).
	RequestsReset bool `json:"requests_reset"`
	// Unknown says why the handler could not be checked fully.
	Unknown string `json:"unknown,omitempty"`
}

// Instr is one instruction a finding points at.
type Instr struct {
	Addr uint64 `json:"addr"`
	What string `json:"what"`
}

// walkLimit bounds the instructions looked at per handler.
const walkLimit = 256

// checkHandlers checks the fault handlers (vector slots 3-6) for stack use
// before an SP check, and every exception handler for endless loops.
func checkHandlers(f *binfile.File, vt *binfile.VectorTable) (faults, loops []FaultHandler) {
	faults, loops = []FaultHandler{}, []FaultHandler{}
	byAddr := map[uint64]*FaultHandler{}
	var order []uint64
	for _, v := range vt.Vectors {
		if v.Index < 2 {
			continue
		}
		h, ok := byAddr[v.Handler]
		if !ok {
			h = &FaultHandler{Name: fmt.Sprintf("handler@%#x", v.Handler), Addr: v.Handler, Vectors: []string{}}
			if fn, ok := f.FunctionAt(v.Handler); ok {
				h.Name = fn.Name()
			}
			byAddr[v.Handler] = h
			order = append(order, v.Handler)
		}
		h.Vectors = append(h.Vectors, binfile.ExceptionName(v.Index))
	}
	isFault := map[uint64]bool{}
	for _, v := range vt.Vectors {
		if v.Index >= 3 && v.Index <= 6 {
			isFault[v.Handler] = true
		}
	}
	for _, a := range order {
		h := byAddr[a]
		loopCheck(f, h)
		if isFault[a] {
			stackCheck(f, h)
			faults = append(faults, *h)
		}
		if h.EndlessLoop {
			loops = append(loops, *h)
		}
	}
	sort.SliceStable(faults, func(i, j int) bool { return faultOrder(faults[i]) < faultOrder(faults[j]) })
	return faults, loops
}

func faultOrder(h FaultHandler) int {
	for i, n := range []string{"HardFault", "MemManage", "BusFault", "UsageFault"} {
		for _, v := range h.Vectors {
			if v == n {
				return i
			}
		}
	}
	return 9
}

// handlerEnd is where the handler's code ends.
func handlerEnd(f *binfile.File, addr uint64) uint64 {
	if fn, ok := f.FunctionAt(addr); ok && fn.Size > 0 {
		return fn.Addr + fn.Size
	}
	return f.CodeEnd(addr)
}

func decodeAt(f *binfile.File, pc uint64) (isa.Effect, []byte, error) {
	// More than the instruction: the decoder reads a literal-pool word
	// (Ref) only when it lies inside the bytes it is given.
	code, err := f.Code(pc, 1024)
	if err != nil {
		return isa.Effect{}, nil, err
	}
	e, err := thumb.Decoder{}.Decode(code, pc)
	return e, code, err
}

// requestsReset recognises the CMSIS NVIC_SystemReset sequence by its
// constants: the VECTKEY value written to AIRCR, or AIRCR's address.
func requestsReset(e isa.Effect) bool {
	return e.HasRef && (e.Ref&0xFFFF0000 == 0x05FA0000 || e.Ref == 0xE000ED0C)
}

// loopCheck sets EndlessLoop when no path from the entry ever leaves the
// handler: every reachable instruction stays inside it, and none returns,
// calls, jumps indirectly or elsewhere, or requests a reset.
func loopCheck(f *binfile.File, h *FaultHandler) {
	// Each work item carries the bounds of the function it runs in: a jump
	// into another function's entry (a tail call) is followed there.
	type item struct{ pc, lo, hi uint64 }
	seen := map[uint64]bool{}
	work := []item{{h.Addr, h.Addr, handlerEnd(f, h.Addr)}}
	var back *Instr
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		pc, lo, hi := it.pc, it.lo, it.hi
		cond := 0 // instructions left in an IT block
		for {
			if pc < lo || pc >= hi {
				if _, ok := f.FunctionAt(pc); !ok {
					return // runs off the handler: not a closed loop
				}
				lo, hi = pc, handlerEnd(f, pc)
			}
			if len(seen) > walkLimit {
				return
			}
			if seen[pc] {
				if back == nil {
					back = &Instr{Addr: pc, What: "branch back to here"}
				}
				break
			}
			seen[pc] = true
			e, _, err := decodeAt(f, pc)
			if err != nil {
				h.Unknown = err.Error()
				return
			}
			if requestsReset(e) {
				h.RequestsReset = true
				return
			}
			conditional := cond > 0
			if cond > 0 {
				cond--
			}
			if e.CondNext > 0 {
				cond = e.CondNext
			}
			next := pc + uint64(e.Len)
			switch e.Flow {
			case isa.FlowReturn, isa.FlowCall, isa.FlowIndirectCall, isa.FlowIndirectJump, isa.FlowStop:
				return
			case isa.FlowJump, isa.FlowCondJump:
				if !e.HasTarget {
					return
				}
				if e.Target == pc {
					back = &Instr{Addr: pc, What: "b ."}
				}
				if e.Flow == isa.FlowCondJump || conditional {
					work = append(work, item{e.Target, lo, hi})
				} else {
					next = e.Target
				}
			}
			pc = next
		}
	}
	if len(seen) > 0 {
		h.EndlessLoop = true
		h.LoopAt = back
	}
}

// stackCheck walks the handler's first instructions on every path (into
// tail-called code too) until each path reads or resets SP, and records the
// first stack use that comes before that.
func stackCheck(f *binfile.File, h *FaultHandler) {
	type item struct {
		pc   uint64
		cond int
	}
	seen := map[uint64]bool{}
	work := []item{{pc: h.Addr}}
	steps := 0
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		pc, cond := it.pc, it.cond
		for !seen[pc] && steps < walkLimit {
			steps++
			seen[pc] = true
			e, code, err := decodeAt(f, pc)
			if err != nil {
				if h.Unknown == "" {
					h.Unknown = err.Error()
				}
				break
			}
			conditional := cond > 0
			if cond > 0 {
				cond--
			}
			if e.CondNext > 0 {
				cond = e.CondNext
			}
			if what := readsSP(code); what != "" {
				if h.SPCheck == nil {
					h.SPCheck = &Instr{Addr: pc, What: what}
				}
				if !conditional {
					break
				}
			}
			if e.SP == isa.SPUnknown || e.SP == isa.SPFromFP {
				if h.SPCheck == nil {
					h.SPCheck = &Instr{Addr: pc, What: "sets SP"}
				}
				if !conditional {
					break
				}
			}
			if use := stackUse(f, e, code); use != "" {
				h.UsesStackBeforeSPCheck = true
				h.FirstStackUse = &Instr{Addr: pc, What: use}
				h.SPCheck = nil
				return
			}
			next := pc + uint64(e.Len)
			stop := false
			switch e.Flow {
			case isa.FlowReturn, isa.FlowIndirectJump, isa.FlowStop:
				stop = !conditional
			case isa.FlowJump:
				if e.HasTarget {
					if conditional {
						work = append(work, item{pc: e.Target})
					} else {
						next = e.Target
					}
				} else {
					stop = true
				}
			case isa.FlowCondJump:
				if e.HasTarget {
					work = append(work, item{pc: e.Target})
				}
			}
			if stop {
				break
			}
			pc = next
		}
	}
}

// stackUse says how an instruction touches the stack, or "".
func stackUse(f *binfile.File, e isa.Effect, code []byte) string {
	switch {
	case e.SP == isa.SPAdd && e.SPDelta < 0:
		hw1 := uint16(code[0]) | uint16(code[1])<<8
		if hw1&0xFE00 == 0xB400 || hw1 == 0xE92D || hw1 == 0xF84D {
			return fmt.Sprintf("push of %d B", -e.SPDelta)
		}
		return fmt.Sprintf("sub sp, #%d", -e.SPDelta)
	case e.SP == isa.SPAlign || e.SP == isa.SPDynamic:
		return "moves SP"
	case e.Access == isa.BaseSP:
		return fmt.Sprintf("accesses [sp, #%d]", e.AccessOff)
	case e.Flow == isa.FlowCall:
		name := fmt.Sprintf("%#x", e.Target)
		if fn, ok := f.FunctionAt(e.Target); ok {
			name = fn.Name()
		}
		return "calls " + name
	case e.Flow == isa.FlowIndirectCall:
		return "calls through a register"
	}
	return ""
}

// readsSP recognises the few encodings that copy SP into another register
// (or compare it), which is how a stack-overflow-aware fault handler starts.
// isa.Effect does not describe register reads (the frame analysis never
// needs them), so this package matches these encodings itself:
//
//	mov Rd, sp          16-bit 0x4668|Rd (0100 0110 D 1101 ddd), 32-bit mov.w Rd, sp
//	add Rd, sp, #imm    16-bit 1010 1ddd imm8, 32-bit add.w/addw Rd, sp, #imm (Rd != sp)
//	sub Rd, sp, #imm    32-bit sub.w/subw (Rd != sp)
//	add Rdm, sp, Rdm    16-bit 0100 0100 D 1101 ddd
//	cmp sp, Rm / Rn, sp 16-bit 0100 0101 N mmmm nnn with SP as an operand
//	mrs Rd, msp|psp     0xf3ef 0x8d08 / 0x8d09 (and the _NS variants of ARMv8-M)
func readsSP(code []byte) string {
	if len(code) < 2 {
		return ""
	}
	hw1 := uint16(code[0]) | uint16(code[1])<<8
	if hw1>>11 < 0x1D { // 16-bit
		switch {
		case hw1&0xFF78 == 0x4668:
			if rd := hw1&7 | (hw1>>4)&8; rd != 13 && rd != 15 {
				return fmt.Sprintf("mov r%d, sp", rd)
			}
		case hw1&0xF800 == 0xA800:
			return fmt.Sprintf("add r%d, sp, #%d", (hw1>>8)&7, (hw1&0xFF)*4)
		case hw1&0xFF78 == 0x4468:
			if rd := hw1&7 | (hw1>>4)&8; rd != 13 && rd != 15 {
				return fmt.Sprintf("add r%d, sp, r%d", rd, rd)
			}
		case hw1&0xFF00 == 0x4500:
			rn, rm := hw1&7|(hw1>>4)&8, (hw1>>3)&0xF
			if rn == 13 || rm == 13 {
				return "cmp with sp"
			}
		}
		return ""
	}
	if len(code) < 4 {
		return ""
	}
	hw2 := uint16(code[2]) | uint16(code[3])<<8
	rd := (hw2 >> 8) & 0xF
	switch {
	case hw1&0xFFEF == 0xEA4F && hw2&0x70F0 == 0 && hw2&0xF == 13 && rd != 13 && rd != 15:
		return fmt.Sprintf("mov.w r%d, sp", rd)
	case hw1&0xFBEF == 0xF10D && hw2&0x8000 == 0 && rd != 13 && rd != 15, // add.w Rd, sp, #imm
		hw1&0xFBFF == 0xF20D && hw2&0x8000 == 0 && rd != 13 && rd != 15: // addw
		return fmt.Sprintf("add r%d, sp, #imm", rd)
	case hw1&0xFBEF == 0xF1AD && hw2&0x8000 == 0 && rd != 13 && rd != 15, // sub.w Rd, sp, #imm
		hw1&0xFBFF == 0xF2AD && hw2&0x8000 == 0 && rd != 13 && rd != 15: // subw
		return fmt.Sprintf("sub r%d, sp, #imm", rd)
	case hw1 == 0xF3EF && hw2&0xF000 == 0x8000:
		switch hw2 & 0xFF {
		case 0x08, 0x88:
			return fmt.Sprintf("mrs r%d, msp", rd)
		case 0x09, 0x89:
			return fmt.Sprintf("mrs r%d, psp", rd)
		}
	}
	return ""
}
