package x86

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/isa"
)

// Flow is what a walk that follows only the control flow reads of an
// instruction: its length, flow and direct target (the fields of
// isa.Effect of the same names).
type Flow struct {
	Len       int
	Flow      isa.Flow
	Target    uint64
	HasTarget bool
}

// DecodeFlow is DecodeSweep reduced to the instruction's Flow: the same
// error, and DecodeSweep's Len, Flow, Target and HasTarget. The
// never-returns walk (callgraph's codeNeverReturns) reads only these, of
// some 1.7 million instructions on /usr/bin/node; the most frequent
// instructions (flowHot) are measured here without an Effect (176 bytes
// cleared and filled for each), the others decoded by DecodeSweep. A
// plain function, not a method of Decoder: its caller knows its decoder
// is x86's, and through an interface the dispatch and the wrapper cost
// about as many machine instructions as flowHot's own.
func DecodeFlow(code []byte, pc uint64) (Flow, error) {
	if f, ok := flowHot(code, pc); ok {
		return f, nil
	}
	var e isa.Effect
	if err := (Decoder{}).DecodeSweep(code, pc, &e); err != nil {
		return Flow{}, err
	}
	return Flow{Len: e.Len, Flow: e.Flow, Target: e.Target, HasTarget: e.HasTarget}, nil
}

// Classes of flowHot's opcodes (one byte, or 0F and one byte).
const (
	flowNone    uint8 = iota // not taken: DecodeSweep decides
	flowOne                  // no operand: 1 byte (push, pop, cdqe, cqo)
	flowModRM                // ModRM, no immediate
	flowModRM8               // ModRM and an 8-bit immediate
	flowModRM32              // ModRM and a 32-bit immediate
	flowMovImm               // B8+r: imm32, or imm64 with REX.W
	flowJcc8                 // jcc rel8
	flowJmp8                 // jmp rel8
	flowRel32                // call or jmp rel32
	flowRet                  // ret
	flowInt3                 // int3
	flowImm8                 // an 8-bit immediate, no ModRM (cmp al, test al)
	flowImm32                // a 32-bit immediate, no ModRM (cmp eax, test eax)
	flowGroupFF              // FF: inc, dec, push; call and jmp through r/m
	flowLea                  // lea: ModRM with a memory operand only
	flowMovsxd               // movsxd (63) with REX.W only
	flowNop0F                // 0F 1F /0 (nop r/m)
	flowJcc32                // 0F 80-8F: jcc rel32
)

// flowOps classifies one-byte opcodes; flowOps0F those after 0F. Only
// opcodes whose every ModRM form (but where noted) is valid in 64-bit
// mode and changes nothing but the registers, flags and memory: their
// flow is FlowNext. checkDecodeFlow compares each with DecodeSweep at every
// byte offset of libc and libstdc++, on every ModRM byte, and in
// FuzzDecode.
var flowOps, flowOps0F = func() (one, two [256]uint8) {
	// The ALU forms r/m,r and r,r/m of add, or, adc, sbb, and, sub, xor,
	// cmp, 8-bit and full size.
	for _, base := range []int{0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38} {
		for i := 0; i < 4; i++ {
			one[base+i] = flowModRM
		}
	}
	for op := 0x84; op <= 0x8B; op++ { // test, xchg, mov
		one[op] = flowModRM
	}
	for op := 0x50; op <= 0x5F; op++ { // push, pop
		one[op] = flowOne
	}
	for op := 0xB8; op <= 0xBF; op++ {
		one[op] = flowMovImm
	}
	for op := 0x70; op <= 0x7F; op++ {
		one[op] = flowJcc8
	}
	one[0x98], one[0x99] = flowOne, flowOne // cdqe, cqo
	one[0x80], one[0x83], one[0x6B] = flowModRM8, flowModRM8, flowModRM8
	one[0x81], one[0x69] = flowModRM32, flowModRM32
	one[0x3C], one[0xA8] = flowImm8, flowImm8
	one[0x3D], one[0xA9] = flowImm32, flowImm32
	one[0x8D] = flowLea
	one[0x63] = flowMovsxd
	one[0xEB] = flowJmp8
	one[0xE8], one[0xE9] = flowRel32, flowRel32
	one[0xC3] = flowRet
	one[0xCC] = flowInt3
	one[0xFF] = flowGroupFF
	for op := 0x80; op <= 0x8F; op++ {
		two[op] = flowJcc32
	}
	for op := 0x40; op <= 0x4F; op++ { // cmovcc
		two[op] = flowModRM
	}
	two[0xB6], two[0xB7], two[0xBE], two[0xBF], two[0xAF] = flowModRM, flowModRM, flowModRM, flowModRM, flowModRM // movzx, movsx, imul
	two[0x1F] = flowNop0F
	return
}()

// flowHot measures the instructions flowOps lists, with no prefix but one
// REX; ok false for anything else (and for code too short to hold the
// instruction: DecodeSweep then gives the error).
func flowHot(code []byte, pc uint64) (f Flow, ok bool) {
	p := 0
	var rex byte
	if len(code) > 0 && code[0]&0xF0 == 0x40 {
		rex, p = code[0], 1
	}
	if p >= len(code) {
		return Flow{}, false
	}
	op := code[p]
	p++
	cls := flowOps[op]
	if op == 0x0F {
		if p >= len(code) {
			return Flow{}, false
		}
		cls = flowOps0F[code[p]]
		p++
	}
	switch cls {
	case flowNone:
		return Flow{}, false
	case flowOne:
		return Flow{Len: p}, true
	case flowRet, flowInt3:
		if rex != 0 {
			return Flow{}, false
		}
		if cls == flowRet {
			return Flow{Len: p, Flow: isa.FlowReturn}, true
		}
		return Flow{Len: p, Flow: isa.FlowStop}, true
	case flowJcc8, flowJmp8:
		if rex != 0 || p+1 > len(code) {
			return Flow{}, false
		}
		f = Flow{Len: p + 1, Flow: isa.FlowCondJump, HasTarget: true}
		if cls == flowJmp8 {
			f.Flow = isa.FlowJump
		}
		f.Target = pc + uint64(p+1) + uint64(int64(int8(code[p])))
		return f, true
	case flowRel32, flowJcc32:
		if rex != 0 || p+4 > len(code) {
			return Flow{}, false
		}
		f = Flow{Len: p + 4, Flow: isa.FlowCondJump, HasTarget: true}
		switch {
		case cls == flowJcc32:
		case op == 0xE8:
			f.Flow = isa.FlowCall
		default:
			f.Flow = isa.FlowJump
		}
		f.Target = pc + uint64(p+4) + uint64(int64(int32(binary.LittleEndian.Uint32(code[p:]))))
		return f, true
	case flowImm8, flowImm32:
		n := 1
		if cls == flowImm32 {
			n = 4
		}
		if p+n > len(code) {
			return Flow{}, false
		}
		return Flow{Len: p + n}, true
	case flowMovImm:
		n := 4
		if rex&8 != 0 {
			n = 8
		}
		if p+n > len(code) {
			return Flow{}, false
		}
		return Flow{Len: p + n}, true
	case flowMovsxd:
		if rex&8 == 0 {
			return Flow{}, false
		}
	}
	// The forms with a ModRM byte.
	if p >= len(code) {
		return Flow{}, false
	}
	modrm := code[p]
	mod, reg := modrm>>6, (modrm>>3)&7
	n, ok := modrmLen(code[p:]) // (false also when it runs past code: the check below would fail)
	if !ok {
		return Flow{}, false
	}
	switch cls {
	case flowModRM8:
		n++
	case flowModRM32:
		n += 4
	case flowLea:
		if mod == 3 {
			return Flow{}, false // (no lea of a register)
		}
	case flowNop0F:
		if reg != 0 {
			return Flow{}, false
		}
	case flowGroupFF:
		switch reg {
		case 0, 1, 6: // inc, dec, push
		case 2:
			f.Flow = isa.FlowIndirectCall
		case 4:
			f.Flow = isa.FlowIndirectJump
		default:
			return Flow{}, false // far call and jmp, and FF /7
		}
	}
	if p+n > len(code) || p+n > 15 {
		return Flow{}, false
	}
	f.Len = p + n
	return f, true
}
