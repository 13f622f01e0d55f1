package cfi

import (
	"encoding/binary"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// The frame walk asks CFAOffset once per function (77,000 times on
// /usr/bin/node), and delve's interpreter builds a whole row of register
// rules for each question: two maps, a copy of the CIE's instructions and a
// state stack (6% of node's frame walk). cfaFast runs the same CFA
// instructions keeping only the CFA rule, without allocating. It is not a
// second interpreter with its own reading of DWARF: it follows delve's
// (table.go of github.com/go-delve/delve/pkg/dwarf/frame) step for step for
// the opcodes compilers emit, and gives up (sure false) on anything else —
// DW_CFA_set_loc, the user opcodes, an opcode delve does not know, an
// operand cut short by the end of the instructions, a restore_state with
// nothing remembered — for CFAOffset to ask delve instead. So the answer
// is delve's in every case; TestFastCFAMatchesDelve checks that at every
// row of every FDE of libc, libstdc++ (and node), FuzzParse on any input.

// maxRemembered is how deep cfaFast's remember_state stack goes without
// allocating; deeper, it gives up.
const maxRemembered = 8

// cfaRule is the part of delve's frame.DWRule for the CFA that decides
// CFAOffset's answer.
type cfaRule struct {
	rule   frame.Rule
	reg    uint64
	offset int64
}

// cfaProgram runs call-frame instructions for the CFA alone.
type cfaProgram struct {
	b         []byte
	order     binary.ByteOrder
	codeAlign uint64
	dataAlign int64
	loc       uint64
	cfa       cfaRule
	saved     [maxRemembered]cfaRule
	nsaved    int
	// inCIE: the CIE's instructions are running, when delve has no byte
	// order yet (an advance_loc2 or 4 there panics in delve).
	inCIE bool
}

// cfaFast is cfaAt without delve's allocations. sure is false when it
// met something it leaves to delve; n and ok are then meaningless.
func cfaFast(fde *frame.FrameDescriptionEntry, pc, spReg uint64, order binary.ByteOrder) (n int64, ok, sure bool) {
	cie := fde.CIE
	if cie == nil || order == nil {
		return 0, false, false
	}
	p := cfaProgram{b: cie.InitialInstructions, order: order, codeAlign: cie.CodeAlignmentFactor, dataAlign: cie.DataAlignmentFactor}
	// The CIE's instructions run to their end (executeCIEInstructions),
	// then the FDE's while the row's location is not past pc
	// (ExecuteUntilPC), from the FDE's start.
	p.inCIE = true
	for len(p.b) > 0 {
		if !p.step() {
			return 0, false, false
		}
	}
	p.inCIE = false
	p.b, p.loc = fde.Instructions, fde.Begin()
	for pc >= p.loc && len(p.b) > 0 {
		if !p.step() {
			return 0, false, false
		}
	}
	if p.cfa.rule != frame.RuleCFA || p.cfa.reg != spReg {
		return 0, false, true
	}
	return p.cfa.offset, true, true
}

// Opcodes (DWARF 5, 6.4.2; the names are delve's).
const (
	opAdvanceLoc1      = 0x02
	opAdvanceLoc2      = 0x03
	opAdvanceLoc4      = 0x04
	opOffsetExtended   = 0x05
	opRestoreExtended  = 0x06
	opUndefined        = 0x07
	opSameValue        = 0x08
	opRegister         = 0x09
	opRememberState    = 0x0a
	opRestoreState     = 0x0b
	opDefCFA           = 0x0c
	opDefCFARegister   = 0x0d
	opDefCFAOffset     = 0x0e
	opDefCFAExpression = 0x0f
	opExpression       = 0x10
	opOffsetExtendedSF = 0x11
	opDefCFASF         = 0x12
	opDefCFAOffsetSF   = 0x13
	opValOffset        = 0x14
	opValOffsetSF      = 0x15
	opValExpression    = 0x16
	opGNUArgsSize      = 0x2e
	opHighAdvanceLoc   = 0x40
	opHighOffset       = 0x80
	opHighRestore      = 0xc0
	highTwoBits        = 0xc0
	lowSixBits         = 0x3f
)

// step runs one instruction; false: one cfaFast leaves to delve.
func (p *cfaProgram) step() bool {
	op := p.b[0]
	p.b = p.b[1:]
	switch op & highTwoBits {
	case opHighAdvanceLoc:
		p.loc += uint64(op&lowSixBits) * p.codeAlign
		return true
	case opHighOffset:
		_, ok := p.uleb()
		return ok
	case opHighRestore:
		return true // a register's rule
	}
	switch op {
	case 0: // DW_CFA_nop
		return true
	case opAdvanceLoc1:
		if len(p.b) < 1 {
			return false
		}
		p.loc += uint64(p.b[0]) * p.codeAlign
		p.b = p.b[1:]
	case opAdvanceLoc2:
		if len(p.b) < 2 || p.inCIE {
			return false
		}
		p.loc += uint64(p.order.Uint16(p.b)) * p.codeAlign
		p.b = p.b[2:]
	case opAdvanceLoc4:
		if len(p.b) < 4 || p.inCIE {
			return false
		}
		p.loc += uint64(p.order.Uint32(p.b)) * p.codeAlign
		p.b = p.b[4:]
	case opOffsetExtended, opRegister, opValOffset:
		return p.skipULEBs(2)
	case opRestoreExtended, opUndefined, opSameValue, opGNUArgsSize:
		return p.skipULEBs(1)
	case opOffsetExtendedSF, opValOffsetSF:
		if _, ok := p.uleb(); !ok {
			return false
		}
		_, ok := p.sleb()
		return ok
	case opRememberState:
		if p.nsaved == maxRemembered {
			return false
		}
		p.saved[p.nsaved] = p.cfa
		p.nsaved++
	case opRestoreState:
		if p.nsaved == 0 {
			return false // delve panics (and CFAOffset says no): its answer
		}
		p.nsaved--
		p.cfa = p.saved[p.nsaved]
	case opDefCFA:
		reg, ok := p.uleb()
		if !ok {
			return false
		}
		off, ok := p.uleb()
		if !ok {
			return false
		}
		p.cfa = cfaRule{rule: frame.RuleCFA, reg: reg, offset: int64(off)}
	case opDefCFARegister:
		reg, ok := p.uleb()
		if !ok {
			return false
		}
		p.cfa.reg = reg
	case opDefCFAOffset:
		off, ok := p.uleb()
		if !ok {
			return false
		}
		p.cfa.offset = int64(off)
	case opDefCFASF:
		reg, ok := p.uleb()
		if !ok {
			return false
		}
		off, ok := p.sleb()
		if !ok {
			return false
		}
		p.cfa = cfaRule{rule: frame.RuleCFA, reg: reg, offset: off * p.dataAlign}
	case opDefCFAOffsetSF:
		off, ok := p.sleb()
		if !ok {
			return false
		}
		p.cfa.offset = off * p.dataAlign
	case opDefCFAExpression:
		if !p.skipBlock() {
			return false
		}
		p.cfa.rule = frame.RuleExpression
	case opExpression, opValExpression:
		if _, ok := p.uleb(); !ok {
			return false
		}
		return p.skipBlock()
	default:
		// DW_CFA_set_loc (delve adds a base it keeps to itself), the
		// user opcodes, and those delve does not know (an error there).
		return false
	}
	return true
}

// uleb reads an unsigned LEB128 number as delve's leb128.DecodeUnsigned
// does (bits shifted past 64 are lost); ok is false when the
// instructions end before it does, or there is none (delve reads 0 there;
// left to it).
func (p *cfaProgram) uleb() (v uint64, ok bool) {
	var shift uint64
	for i, b := range p.b {
		v |= uint64((uint(b) & 0x7f) << shift)
		if b&0x80 == 0 {
			p.b = p.b[i+1:]
			return v, true
		}
		shift += 7
	}
	return 0, false
}

// sleb reads a signed LEB128 number as delve's leb128.DecodeSigned does.
func (p *cfaProgram) sleb() (v int64, ok bool) {
	var shift uint64
	for i, b := range p.b {
		v |= (int64(b) & 0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 8*uint64(i+1) && b&0x40 > 0 {
				v |= -(1 << shift)
			}
			p.b = p.b[i+1:]
			return v, true
		}
	}
	return 0, false
}

// skipULEBs steps over n unsigned LEB128 operands.
func (p *cfaProgram) skipULEBs(n int) bool {
	for range n {
		if _, ok := p.uleb(); !ok {
			return false
		}
	}
	return true
}

// skipBlock steps over a block: its ULEB128 length, then that many bytes.
func (p *cfaProgram) skipBlock() bool {
	l, ok := p.uleb()
	if !ok || l > uint64(len(p.b)) {
		return false
	}
	p.b = p.b[l:]
	return true
}
