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
// one sets it again (csrs/csrw mstatus): such a handler is named in a
// warning, because a nested trap then runs on its stack. The main-stack
// total (reset path plus the handlers by nesting) is not computed yet.

const (
	csrMstatus = 0x300
	csrMtvec   = 0x305
	// maxVectors bounds a vectored mtvec table (causes 0..63).
	maxVectors = 64
)

// riscvTrapSpecs returns the trap handlers of a RISC-V firmware as entries
// (kind "trap"), those not already in have, and a warning for each handler
// that may set mstatus.MIE again.
func riscvTrapSpecs(f *binfile.File, g *callgraph.Graph, have []bound.Spec, dec isa.Decoder) ([]bound.Spec, []string) {
	if !f.Arch.IsRISCV() {
		return nil, nil
	}
	handlers := map[uint64]string{} // address -> how it was found
	type write struct {
		name string
		at   uint64
	}
	var reenable []write
	for i := range f.Functions {
		fn := &f.Functions[i]
		code, err := f.Code(fn.Addr, fn.Size)
		if err != nil {
			continue
		}
		s := scanTrapCode(dec, code, fn.Addr)
		if s.mret {
			handlers[fn.Addr] = "returns with mret"
		}
		for _, v := range s.mtvec {
			for _, h := range mtvecHandlers(f, dec, v) {
				if _, ok := handlers[h]; !ok {
					handlers[h] = fmt.Sprintf("mtvec is set to %#x in %s", v, fn.Name)
				}
			}
		}
		if s.mstatusAt != 0 {
			reenable = append(reenable, write{fn.Name, s.mstatusAt})
		}
	}
	in := map[int]bool{}
	for _, s := range have {
		in[s.Node] = true
	}
	addrs := make([]uint64, 0, len(handlers))
	for a := range handlers {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	var specs []bound.Spec
	var warnings []string
	isHandler := map[string]bool{}
	for _, a := range addrs {
		fi, ok := f.FunctionIndex(a)
		if !ok {
			continue
		}
		node := g.Node(g.Modules[0], fi)
		isHandler[f.Functions[fi].Name] = true
		if in[node] {
			continue
		}
		in[node] = true
		specs = append(specs, bound.Spec{Name: f.Functions[fi].Name, Node: node, Kind: "trap"})
	}
	for _, r := range reenable {
		if isHandler[r.name] {
			warnings = append(warnings, fmt.Sprintf("trap handler %s writes mstatus at %#x: it may set MIE again, and traps then nest on its stack (the main-stack total of reset path and handlers is not computed for RISC-V)", r.name, r.at))
		}
	}
	return specs, warnings
}

// trapScan is what scanTrapCode finds in one function.
type trapScan struct {
	mret      bool
	mtvec     []uint64 // values written to mtvec
	mstatusAt uint64   // a write to mstatus that may set MIE (0: none)
}

// scanTrapCode decodes code (at addr) in order and notes mret, the
// constants written to mtvec and the writes of mstatus that may set MIE.
// Constants are followed in straight-line order (la t0, sym; csrw mtvec,
// t0): a value found this way only adds an entry, it never removes one.
func scanTrapCode(dec isa.Decoder, code []byte, addr uint64) trapScan {
	var s trapScan
	consts := map[int8]int64{}
	for off := 0; off+2 <= len(code); {
		pc := addr + uint64(off)
		e, err := dec.Decode(code[off:], pc)
		if err != nil {
			off += 2
			clear(consts)
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
			case x&0x7F == 0x73 && x>>20 == csrMstatus && mayWriteMIE(x) && s.mstatusAt == 0:
				s.mstatusAt = pc
			}
		}
		if e.DefKind != isa.DefNone {
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
		}
		off += e.Len
	}
	return s
}

// mayWriteMIE says whether the CSR instruction x on mstatus may set its
// MIE bit (bit 3): csrrw/csrrs with a source register other than x0 (its
// value is not followed), csrrwi/csrrsi with bit 3 of the immediate.
func mayWriteMIE(x uint32) bool {
	rs1 := x >> 15 & 31
	switch x >> 12 & 7 {
	case 1, 2: // csrrw, csrrs
		return rs1 != 0
	case 5, 6: // csrrwi, csrrsi
		return rs1&8 != 0
	}
	return false
}

// mtvecHandlers are the handlers an mtvec value v names: v itself in
// direct mode; in vectored mode, the targets of the jumps in the table at
// v &^ 3.
func mtvecHandlers(f *binfile.File, dec isa.Decoder, v uint64) []uint64 {
	base := v &^ 3
	if v&3 == 0 {
		return []uint64{base}
	}
	if v&3 != 1 {
		return nil
	}
	var out []uint64
	for i := range maxVectors {
		pc := base + uint64(4*i)
		code, err := f.Code(pc, 4)
		if err != nil || len(code) < 4 {
			break
		}
		e, err := dec.Decode(code, pc)
		if err != nil || e.Flow != isa.FlowJump || !e.HasTarget {
			break
		}
		out = append(out, e.Target)
	}
	return out
}
