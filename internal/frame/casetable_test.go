package frame

import (
	"encoding/binary"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/thumb"
)

// halfwords assembles Thumb code from its halfwords (as objdump prints
// them; the encodings below are arm-none-eabi-as's).
func halfwords(hw ...uint16) []byte {
	b := make([]byte, 2*len(hw))
	for i, h := range hw {
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// TestThumbReturnsElsewhere: a function that returns through LR after changing
// it does not come back after its call (what libgcc's case helpers do);
// LR restored from the stack, or changed only on a path that returns by
// pop {pc}, is an ordinary return.
func TestThumbReturnsElsewhere(t *testing.T) {
	for _, c := range []struct {
		name string
		code []byte
		want bool
		at   uint64
	}{
		// mov r1, lr; adds r1, #4; mov lr, r1; bx lr: skips 4 bytes.
		{"skips after the call", halfwords(0x4671, 0x3104, 0x468e, 0x4770), true, base + 6},
		// cmp r0, #0; beq 1f; push {r4, lr}; mov lr, r0; pop {r4, pc}; 1: bx lr
		{"lr as scratch, early bx lr", halfwords(0x2800, 0xd002, 0xb510, 0x4686, 0xbd10, 0x4770), false, 0},
		// push {r4, lr}; bl (elsewhere); pop.w {r4, lr}; bx lr
		{"restored by pop", halfwords(0xb510, 0xf000, 0xf900, 0xe8bd, 0x4010, 0x4770), false, 0},
		// push {r4, lr}; bl (elsewhere); ldr.w lr, [sp, #4]; add sp, #8; bx lr
		{"restored by ldr", halfwords(0xb510, 0xf000, 0xf900, 0xf8dd, 0xe004, 0xb002, 0x4770), false, 0},
		// libgcc's ARMv6-M 64-bit division shape: push {r0, r1}; mov r0, sp;
		// push {r0, lr}; bl (elsewhere); ldr r3, [sp, #4]; mov lr, r3;
		// add sp, #8; pop {r2, r3}; bx lr: LR back from the stack by r3
		{"restored through a register", halfwords(0xb403, 0x4668, 0xb501, 0xf000, 0xf900, 0x9b01, 0x469e, 0xb002, 0xbc0c, 0x4770), false, 0},
		// mov r1, lr; lsrs r1, r1, #1; lsls r1, r1, #1; mov lr, r1; bx lr:
		// a copy of LR, changed, is not the return address
		{"a changed copy", halfwords(0x4671, 0x0849, 0x0049, 0x468e, 0x4770), true, base + 8},
		// push {r4, lr}; bl (elsewhere); pop {r4}; add sp, #4; bx lr: LR is the callee's
		{"not restored after a call", halfwords(0xb510, 0xf000, 0xf900, 0xbc10, 0xb001, 0x4770), true, base + 10},
	} {
		f := Analyze(Input{Addr: base, Code: c.code, Decoder: thumb.Decoder{}, StackAlign: 8})
		if f.ReturnsElsewhere != c.want || c.want && f.ReturnsElsewhereAt() != c.at {
			t.Errorf("%s: ReturnsElsewhere %v at %#x, want %v at %#x (%+v)", c.name, f.ReturnsElsewhere, f.ReturnsElsewhereAt(), c.want, c.at, f)
		}
		if f.Kind != Static {
			t.Errorf("%s: %v (%s)", c.name, f.Kind, f.Reason)
		}
	}
}

// TestThumbCaseTableUQI: the dispatch of a 7-case switch (GCC -Os, Cortex-M0):
// the table is data, the cases are walked with the SP at the call, the
// call to the helper stays a call.
func TestThumbCaseTableUQI(t *testing.T) {
	const helper = 0x9000
	// push {r4, lr}; cmp r0, #6; bhi.n 1f; bl helper;
	// .byte 4, 8, 11, 14, 17, 20, 23, 0;
	// bl c0 (at +0x12); 1: movs r2, #3; pop {r4, pc};
	// then six cases: bl cN; b.n 1b
	code := halfwords(0xb510, 0x2806, 0xd807, 0xf000, 0xf800)
	bl := func(at, to uint64) []byte {
		off := int64(to) - int64(at+4)
		s := uint16(0)
		if off < 0 {
			s = 1
		}
		imm := uint32(off >> 1)
		j1 := ^(uint16(imm>>22)&1 ^ s) & 1
		j2 := ^(uint16(imm>>21)&1 ^ s) & 1
		return halfwords(0xf000|s<<10|uint16(imm>>11)&0x3ff, 0xd000|j1<<13|j2<<11|uint16(imm)&0x7ff)
	}
	code = append(code[:6], bl(base+6, helper)...)
	code = append(code, 4, 8, 11, 14, 17, 20, 23, 0)
	code = append(code, bl(base+0x12, 0xa000)...)     // case 0
	code = append(code, halfwords(0x2203, 0xbd10)...) // 0x16: movs r2, #3; pop {r4, pc}
	for i := uint64(0); i < 6; i++ {                  // 0x1a + 6i
		at := base + 0x1a + 6*i
		code = append(code, bl(at, 0xa100+0x100*i)...)
		code = append(code, halfwords(0xe000|uint16((int64(base+0x16)-int64(at+8))>>1)&0x7ff)...)
	}
	f := Analyze(Input{Addr: base, Code: code, Decoder: thumb.Decoder{}, StackAlign: 8,
		CaseHelpers: map[uint64]CaseHelper{helper: CaseUQI}})
	if f.Kind != Static || f.Size != 8 {
		t.Fatalf("frame %v %d (%s), want static 8", f.Kind, f.Size, f.Reason)
	}
	if len(f.CaseTables) != 1 || f.JumpTables != 1 {
		t.Fatalf("case tables %+v, jump tables %d", f.CaseTables, f.JumpTables)
	}
	tb := f.CaseTables[0]
	if tb.Call != base+6 || tb.Entries != 7 || tb.Data != (Range{base + 10, base + 0x12}) || len(tb.Targets) != 7 {
		t.Errorf("table %+v", tb)
	}
	callees := map[uint64]bool{}
	for _, cs := range f.Calls {
		callees[cs.Target] = true
		if cs.Depth != 8 || cs.Dispatch != (cs.Target == helper) {
			t.Errorf("call %+v", cs)
		}
	}
	for _, want := range []uint64{helper, 0xa000, 0xa100, 0xa200, 0xa300, 0xa400, 0xa500, 0xa600} {
		if !callees[want] {
			t.Errorf("no call to %#x: %+v", want, f.Calls)
		}
	}
	// Without the helper's name the call is ordinary and the walk runs
	// into the table: the cases after case 0 are never reached.
	f = Analyze(Input{Addr: base, Code: code, Decoder: thumb.Decoder{}, StackAlign: 8})
	if len(f.CaseTables) != 0 {
		t.Errorf("without the helper: case tables %+v", f.CaseTables)
	}
}
