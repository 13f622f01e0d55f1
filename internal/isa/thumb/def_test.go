package thumb

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// TestDef decodes a block assembled by arm-none-eabi-as (-mcpu=cortex-m4)
// from the asm column, with its literal pool at 0x4c, and checks the Def
// fields of each instruction.
func TestDef(t *testing.T) {
	cases := []struct {
		asm  string
		hex  string
		kind isa.DefKind
		reg  int8
		src  int8
		val  int64
	}{
		{"movs r2, #200", "22c8", isa.DefConst, 2, 0, 200},
		{"mov r0, r4", "4620", isa.DefCopy, 0, 4, 0},
		{"movs r1, r2", "0011", isa.DefCopy, 1, 2, 0},
		{"ldr r0, [pc, #68]", "4811", isa.DefConst, 0, 0, 0x08000123},
		{"adr r1, lit", "a110", isa.DefAddr, 1, 0, 0x4c},
		{"add r0, sp, #8", "a802", isa.DefAddImm, 0, 13, 8},
		{"adds r1, r0, #4", "1d01", isa.DefAddImm, 1, 0, 4},
		{"subs r2, r3, #1", "1e5a", isa.DefAddImm, 2, 3, -1},
		{"adds r3, #100", "3364", isa.DefAddImm, 3, 3, 100},
		{"subs r3, #8", "3b08", isa.DefAddImm, 3, 3, -8},
		{"movw r0, #0x1234", "f241 2034", isa.DefConst, 0, 0, 0x1234},
		{"movt r0, #0x2000", "f2c2 0000", isa.DefHigh16, 0, 0, 0x2000},
		{"mov.w r2, #1024", "f44f 6280", isa.DefConst, 2, 0, 1024},
		{"mvn.w r3, #0", "f06f 0300", isa.DefConst, 3, 0, -1 & 0xFFFFFFFF},
		{"add.w r1, r0, #8192", "f500 5100", isa.DefAddImm, 1, 0, 8192},
		{"sub.w r1, r0, #256", "f5a0 7180", isa.DefAddImm, 1, 0, -256},
		{"addw r2, r1, #4095", "f601 72ff", isa.DefAddImm, 2, 1, 4095},
		{"subw r2, r1, #4", "f2a1 0204", isa.DefAddImm, 2, 1, -4},
		{"mov.w r5, r6", "ea4f 0506", isa.DefCopy, 5, 6, 0},
		{"ldr.w r4, [pc, #16]", "f8df 4010", isa.DefConst, 4, 0, 0x08000123},
		{"adr.w r6, lit", "f20f 060c", isa.DefAddr, 6, 0, 0x4c},
		{"ldr r0, [r1, #0]", "6808", isa.DefLoad, 0, 0, 0}, // the address is in Mem* (TestLoadsAndCallRegisters)
		{"str r0, [sp, #4]", "9001", isa.DefNone, 0, 0, 0},
		{"bl .", "f7ff fffe", isa.DefNone, 0, 0, 0},
		{"lsl.w r3, r4, #12", "ea4f 3304", isa.DefShl, 3, 4, 12},
	}
	var code []byte
	for _, c := range cases {
		code = append(code, hexCode(t, c.hex)...)
	}
	if len(code) != 0x4c {
		t.Fatalf("block is %#x bytes, want 0x4c", len(code))
	}
	code = append(code, 0x23, 0x01, 0x00, 0x08) // lit: .word 0x08000123
	var d Decoder
	pc := 0
	for _, c := range cases {
		e, err := d.Decode(code[pc:], uint64(pc))
		if err != nil {
			t.Fatalf("%s at %#x: %v", c.asm, pc, err)
		}
		if e.DefKind != c.kind || e.DefReg != c.reg || e.DefSrc != c.src || e.DefValue != c.val {
			t.Errorf("%s at %#x: def %v r%d src r%d value %#x; want %v r%d src r%d value %#x",
				c.asm, pc, e.DefKind, e.DefReg, e.DefSrc, e.DefValue, c.kind, c.reg, c.src, c.val)
		}
		pc += e.Len
	}
	if e, err := d.Decode(hexCode(t, "0052"), 0); err != nil || e.DefKind != isa.DefShl || e.DefReg != 2 || e.DefSrc != 2 || e.DefValue != 1 {
		t.Errorf("lsls r2, r2, #1: %+v, %v", e, err)
	}
}

// TestLoadsAndCallRegisters: word loads carry their memory operand and
// blx its register, so that the code before an indirect call shows where
// the target came from (a vtable slot).
func TestLoadsAndCallRegisters(t *testing.T) {
	d := Decoder{}
	for _, c := range []struct {
		asm, hex        string
		rt, base        int8
		disp            int64
		callReg, isCall bool
	}{
		{"ldr r3, [r0]", "6803", 3, 0, 0, false, false},
		{"ldr r3, [r3, #8]", "689b", 3, 3, 8, false, false},
		{"ldr r2, [sp, #12]", "9a03", 2, 13, 12, false, false},
		{"ldr.w r1, [r4, #1024]", "f8d4 1400", 1, 4, 1024, false, false},
		{"blx r3", "4798", 3, 0, 0, true, true},
	} {
		e, err := d.Decode(hexCode(t, c.hex), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.asm, err)
		}
		if c.isCall {
			if !e.HasCallReg || e.CallReg != c.rt || e.Flow != isa.FlowIndirectCall {
				t.Errorf("%s: call reg %v r%d flow %v", c.asm, e.HasCallReg, e.CallReg, e.Flow)
			}
			continue
		}
		if e.DefKind != isa.DefLoad || e.DefReg != c.rt || !e.HasMem || e.MemBase != c.base || e.MemIndex != -1 || e.MemDisp != c.disp {
			t.Errorf("%s: def %v r%d mem %v base %d index %d disp %d", c.asm, e.DefKind, e.DefReg, e.HasMem, e.MemBase, e.MemIndex, e.MemDisp)
		}
	}
}

// TestDefIndexAndAlso: table loads with an index register, the address of
// a table's element (add rd, rn, rm, lsl #n), the registers an
// instruction writes besides DefReg, and bx's register. The hex is
// arm-none-eabi-as's (-mcpu=cortex-m4) for the asm column.
func TestDefIndexAndAlso(t *testing.T) {
	d := Decoder{}
	for _, c := range []struct {
		asm, hex   string
		kind       isa.DefKind
		reg, src   int8
		index      int8 // DefIndex, or MemIndex for a load
		shift      int64
		also       uint32
		callReg    int8
		hasCallReg bool
	}{
		{"ldr r3, [r3, r2]", "589b", isa.DefLoad, 3, 3, 2, 1, 0, 0, false},
		{"ldr.w r3, [r3, r2, lsl #2]", "f853 3022", isa.DefLoad, 3, 3, 2, 4, 0, 0, false},
		{"adds r0, r1, r2", "1888", isa.DefAddIndex, 0, 1, 2, 0, 0, 0, false},
		{"add r3, r2", "4413", isa.DefAddIndex, 3, 3, 2, 0, 0, 0, false},
		{"add r8, r3", "4498", isa.DefAddIndex, 8, 8, 3, 0, 0, 0, false},
		{"add.w r0, r3, r0, lsl #4", "eb03 1000", isa.DefAddIndex, 0, 3, 0, 4, 0, 0, false},
		{"add r3, sp", "446b", isa.DefOther, 3, 0, 0, 0, 0, 0, false},
		{"pop {r0, r4, pc}", "bd11", isa.DefNone, 0, 0, 0, 0, 1<<0 | 1<<4, 0, false},
		{"ldmia r0!, {r1, r2}", "c806", isa.DefNone, 0, 0, 0, 0, 1<<0 | 1<<1 | 1<<2, 0, false},
		{"ldrd r2, r1, [r0, #4]", "e9d0 2101", isa.DefOther, 2, 0, 0, 0, 1 << 1, 0, false},
		{"ldr.w r3, [r2], #4", "f852 3b04", isa.DefOther, 3, 0, 0, 0, 1 << 2, 0, false},
		{"umull r0, r1, r2, r3", "fba2 0103", isa.DefOther, 0, 0, 0, 0, 1 << 1, 0, false},
		{"bx r2", "4710", isa.DefNone, 0, 0, 0, 0, 0, 2, true},
		{"blx r3", "4798", isa.DefNone, 0, 0, 0, 0, 0, 3, true},
	} {
		e, err := d.Decode(hexCode(t, c.hex), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.asm, err)
		}
		if e.DefKind != c.kind || e.DefAlso != c.also || e.HasCallReg != c.hasCallReg || e.CallReg != c.callReg {
			t.Errorf("%s: def %v also %#x call reg %v r%d; want %v also %#x call reg %v r%d",
				c.asm, e.DefKind, e.DefAlso, e.HasCallReg, e.CallReg, c.kind, c.also, c.hasCallReg, c.callReg)
			continue
		}
		switch c.kind {
		case isa.DefLoad:
			if e.DefReg != c.reg || e.MemBase != c.src || e.MemIndex != c.index || int64(e.MemScale) != c.shift || e.MemDisp != 0 {
				t.Errorf("%s: r%d = [r%d + r%d*%d + %d]", c.asm, e.DefReg, e.MemBase, e.MemIndex, e.MemScale, e.MemDisp)
			}
		case isa.DefAddIndex:
			if e.DefReg != c.reg || e.DefSrc != c.src || e.DefIndex != c.index || e.DefValue != c.shift {
				t.Errorf("%s: r%d = r%d + r%d<<%d", c.asm, e.DefReg, e.DefSrc, e.DefIndex, e.DefValue)
			}
		case isa.DefOther:
			if e.DefReg != c.reg {
				t.Errorf("%s: writes r%d, want r%d", c.asm, e.DefReg, c.reg)
			}
		}
	}
}

// TestLdmSPRegLiteral checks the fields a slice back from an instruction
// reads besides Def: the register list and base of an ldm (the words a
// context restore loads), the register an SP move adds (ARMv6-M large
// frames), and the literal a PC-relative load reads.
func TestLdmSPRegLiteral(t *testing.T) {
	var d Decoder
	for _, c := range []struct {
		asm  string
		hex  string
		pc   uint64
		want func(e isa.Effect) bool
	}{
		{"ldmia r0!, {r2}", "c804", 0, func(e isa.Effect) bool {
			return e.HasLdm && e.LdmList == 1<<2 && e.LdmBase == 0 && !e.LdmDown && e.DefAlso == 1<<0|1<<2
		}},
		{"ldmia r0!, {r3, r4, r5, r6, r7}", "c8f8", 0, func(e isa.Effect) bool {
			return e.HasLdm && e.LdmList == 0xF8 && e.LdmBase == 0 && !e.LdmDown
		}},
		{"ldmia.w r0!, {r2-r11}", "e8b0 0ffc", 0, func(e isa.Effect) bool {
			return e.HasLdm && e.LdmList == 0x0FFC && e.LdmBase == 0 && !e.LdmDown && e.DefAlso&1 != 0
		}},
		{"ldmdb r1, {r2, r3}", "e911 000c", 0, func(e isa.Effect) bool {
			return e.HasLdm && e.LdmList == 0x0C && e.LdmBase == 1 && e.LdmDown && e.DefAlso&2 == 0
		}},
		{"stmia r0!, {r3}", "c008", 0, func(e isa.Effect) bool { return !e.HasLdm }},
		{"add sp, r7", "44bd", 0, func(e isa.Effect) bool {
			return e.SP == isa.SPDynamic && e.HasSPReg && e.SPReg == 7 && !e.SPRegSub
		}},
		{"sub.w sp, sp, r3", "ebad 0d03", 0, func(e isa.Effect) bool {
			return e.SP == isa.SPDynamic && e.HasSPReg && e.SPReg == 3 && e.SPRegSub
		}},
		{"sub.w sp, sp, r3, lsl #2", "ebad 0d83", 0, func(e isa.Effect) bool {
			return e.SP == isa.SPDynamic && !e.HasSPReg
		}},
		{"ldr r3, [pc, #8]", "4b02", 0x102, func(e isa.Effect) bool { return e.Literal == 0x10c && e.LiteralSize == 4 }},
		{"ldrb.w r0, [pc, #-3]", "f81f 0003", 0x100, func(e isa.Effect) bool { return e.Literal == 0x101 && e.LiteralSize == 1 }},
		{"ldrd r2, r3, [pc, #8]", "e9df 2302", 0x100, func(e isa.Effect) bool { return e.Literal == 0x10c && e.LiteralSize == 8 }},
		{"vldr s0, [pc, #4]", "ed9f 0a01", 0x102, func(e isa.Effect) bool { return e.Literal == 0x108 && e.LiteralSize == 4 }},
		{"pld [pc, #8]", "f89f f008", 0x100, func(e isa.Effect) bool { return e.LiteralSize == 0 }},
		{"ldr r3, [r0, #8]", "6883", 0, func(e isa.Effect) bool { return e.LiteralSize == 0 }},
	} {
		e, err := d.Decode(hexCode(t, c.hex), c.pc)
		if err != nil {
			t.Fatalf("%s: %v", c.asm, err)
		}
		if !c.want(e) {
			t.Errorf("%s: %+v", c.asm, e)
		}
	}
}
