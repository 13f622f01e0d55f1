package frame

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/thumb"
)

// Code assembled by arm-none-eabi-as -mcpu=cortex-m3 (objdump's hex
// column, little-endian halfwords written as the bytes in memory).
func thumbCode(t *testing.T, halfwords string) []byte {
	t.Helper()
	var out []byte
	for _, h := range strings.Fields(halfwords) {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) - 2; i >= 0; i -= 2 { // one halfword or a word: low halfword first
			out = append(out, b[i+1], b[i])
		}
		if len(b) == 4 { // a 32-bit instruction: first halfword first
			n := len(out)
			out[n-4], out[n-3], out[n-2], out[n-1] = out[n-2], out[n-1], out[n-4], out[n-3]
		}
	}
	return out
}

func analyzeThumb(t *testing.T, addr uint64, code, tail string) Frame {
	t.Helper()
	in := Input{Addr: addr, Code: thumbCode(t, code), Decoder: thumb.Decoder{}, StackAlign: 8}
	for _, w := range strings.Fields(tail) { // data words
		b, err := hex.DecodeString(w)
		if err != nil || len(b) != 4 {
			t.Fatalf("bad word %q", w)
		}
		in.Tail = append(in.Tail, b[3], b[2], b[1], b[0])
	}
	return Analyze(in)
}

// TestThumbMovwMovtRef: an address built with movw/movt is a reference.
func TestThumbMovwMovtRef(t *testing.T) {
	// movw r3, #0x1235; movt r3, #0x800; str r3, [r0]; bx lr
	f := analyzeThumb(t, 0, "f2412335 f6c00300 6003 4770", "")
	if len(f.Refs) != 1 || f.Refs[0] != 0x08001234 {
		t.Errorf("refs %#x, want [0x8001234]", f.Refs)
	}
}

// TestThumbLiteralPastTheEnd: a literal past the function's end (Tail) is
// read, and the walk does not run into it.
func TestThumbLiteralPastTheEnd(t *testing.T) {
	// ldr r0, [pc, #4]; ldr r0, [r0]; bx lr; nop | .word 0xe000ed08
	f := analyzeThumb(t, 0xc, "4801 6800 4770 bf00", "")
	if len(f.Refs) != 0 || f.Kind != Static {
		t.Fatalf("without the tail: refs %#x, kind %v", f.Refs, f.Kind)
	}
	f = analyzeThumb(t, 0xc, "4801 6800 4770 bf00", "e000ed08")
	if len(f.Refs) != 1 || f.Refs[0] != 0xe000ed08 || f.Kind != Static || f.Instructions != 3 {
		t.Errorf("with the tail: refs %#x, kind %v, %d instructions", f.Refs, f.Kind, f.Instructions)
	}
	if len(f.LiteralReads()) != 1 || f.LiteralReads()[0] != (LiteralRead{Addr: 0x14, Size: 4}) {
		t.Errorf("literal reads %+v", f.LiteralReads())
	}
}

// TestThumbBranchLiteral: ldr r3, =f; bx r3 reads its literal only to
// branch: not a reference, a branch literal.
func TestThumbBranchLiteral(t *testing.T) {
	// ldr r3, [pc, #0]; bx r3 | .word 0x08000101
	f := analyzeThumb(t, 0x18, "4b00 4718", "08000101")
	if len(f.Refs) != 0 {
		t.Errorf("refs %#x, want none", f.Refs)
	}
	if len(f.LiteralReads()) != 1 || f.LiteralReads()[0] != (LiteralRead{Addr: 0x1c, Size: 4, Branch: true, Reg: 3}) {
		t.Errorf("literal reads %+v, want the branch's at 0x1c", f.LiteralReads())
	}
	if len(f.Calls) != 1 || f.Calls[0].From == nil || f.Calls[0].From.Off != 0x08000101 {
		t.Errorf("calls %+v, from %+v", f.Calls, f.Calls[0].From)
	}
	// With a blx the address may outlive the call: a reference.
	// ldr r3, [pc, #0]; blx r3; bx lr | .word
	f = analyzeThumb(t, 0x18, "4b01 4798 4770 bf00", "08000101")
	if len(f.Refs) != 1 || f.LiteralReads()[0].Branch {
		t.Errorf("blx: refs %#x, reads %+v", f.Refs, f.LiteralReads())
	}
}

// TestThumbExcReturnShapes: the jump through the word restored below the
// new PSP is a context exception return; one through the word at the new
// PSP is not; one through 0xFFFFFFFD is a constant one.
func TestThumbExcReturnShapes(t *testing.T) {
	// ldr r2, =X; ldr r1, [r2]; ldr r0, [r1]; ldmia r0!, {r2};
	// adds r0, #32; msr psp, r0; bx r2 | .word
	f := analyzeThumb(t, 0x20, "4a03 6811 6808 c804 3020 f3808809 4710", "20000000")
	if len(f.Calls) != 1 || f.Calls[0].ExcReturn != ExcReturnContext {
		t.Fatalf("context: calls %+v", f.Calls)
	}
	// ... ldmia r0!, {r2}; msr psp, r0; ldr r2, [r0]; bx r2: the word
	// at the new PSP, above the context.
	f = analyzeThumb(t, 0x20, "4a03 6811 6808 c804 f3808809 6802 4710 bf00", "20000000")
	if len(f.Calls) != 1 || f.Calls[0].ExcReturn != NoExcReturn {
		t.Errorf("above the context: calls %+v", f.Calls)
	}
	// mvn r0, #2; bx r0
	f = analyzeThumb(t, 0, "f06f0002 4700", "")
	if len(f.Calls) != 1 || f.Calls[0].ExcReturn != ExcReturnConstant {
		t.Errorf("constant: calls %+v", f.Calls)
	}
}

// TestThumbSPByRegister: add sp, r7 after ldr r7, =-1024 moves SP by the
// constant; a branch found later that joins at the add (another value of
// r7 can arrive) makes the frame not static.
func TestThumbSPByRegister(t *testing.T) {
	// push {r7, lr}; ldr r7, [pc, #8]; add sp, r7; cmp r0, #0; nop;
	// pop {r7, pc} | .word 0xfffffc00
	f := analyzeThumb(t, 0, "b580 4f02 44bd 2800 bf00 bd80", "fffffc00")
	if f.Kind != Static || f.Size != 8+1024 {
		t.Errorf("straight line: %v %d (%s), want static 1032", f.Kind, f.Size, f.Reason)
	}
	// ... cmp r0, #0; bne (back to the add); pop {r7, pc}
	f = analyzeThumb(t, 0, "b580 4f02 44bd 2800 d1fc bd80", "fffffc00")
	if f.Kind == Static {
		t.Errorf("with a path joining at the add: static %d", f.Size)
	}
}
