package frame

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// script is a fake instruction set: each instruction is 4 bytes whose first
// byte indexes a table of effects, so the walker's logic can be tested on
// control flow that a compiler would rarely produce on demand.
type script []isa.Effect

func (s script) Decode(code []byte, pc uint64) (isa.Effect, error) {
	if len(code) < 4 || int(code[0]) >= len(s) {
		return isa.Effect{}, &isa.DecodeError{PC: pc, Reason: "bad"}
	}
	e := s[code[0]]
	e.Len = 4
	return e, nil
}
func (script) ReturnAddressSize() int64 { return 8 }
func (script) Name() string             { return "script" }

const base = 0x1000

func prog(ops ...int) []byte {
	b := make([]byte, 4*len(ops))
	for i, op := range ops {
		b[4*i] = byte(op)
	}
	return b
}

func analyze(s script, ops ...int) Frame {
	return Analyze(Input{Addr: base, Code: prog(ops...), Decoder: s, StackAlign: 16})
}

func TestStraightLine(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -8},                        // 0 push
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -32},                       // 1 sub sp,32
		{Flow: isa.FlowCall, Target: 0x9000, HasTarget: true},                   // 2 call
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: 40},                        // 3 add sp,40
		{Flow: isa.FlowReturn},                                                  // 4 ret
		{Flow: isa.FlowNext, Access: isa.BaseSP, AccessOff: -24, AccessSize: 8}, // 5 red zone store
	}
	f := analyze(s, 0, 1, 2, 3, 4)
	if f.Kind != Static || f.Size != 48 || len(f.Calls) != 1 || f.Calls[0].Depth != 48 {
		t.Fatalf("got %+v", f)
	}
	f = analyze(s, 5, 4)
	if f.Size != 8 || f.RedZone != 24 {
		t.Fatalf("red zone: got size %d redzone %d", f.Size, f.RedZone)
	}
}

func TestBranchesTakeTheDeepestPath(t *testing.T) {
	s := script{
		{Flow: isa.FlowCondJump, Target: base + 12, HasTarget: true}, // 0: if -> 3
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -100},           // 1
		{Flow: isa.FlowReturn},                                       // 2 (unbalanced, fine for test)
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -200},           // 3
		{Flow: isa.FlowReturn},                                       // 4
	}
	f := analyze(s, 0, 1, 2, 3, 4)
	if f.Size != 208 {
		t.Fatalf("got %d, want 208", f.Size)
	}
}

func TestDynamicAndUnknown(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SP: isa.SPDynamic},
		{Flow: isa.FlowNext, SP: isa.SPUnknown},
		{Flow: isa.FlowReturn},
		{Flow: isa.FlowNext, SP: isa.SPFromFP}, // no FP set
	}
	if f := analyze(s, 0, 2); f.Kind != Dynamic || f.ReasonAddr != base {
		t.Fatalf("dynamic: %+v", f)
	}
	if f := analyze(s, 0, 1, 2); f.Kind != Unknown {
		t.Fatalf("unknown must win over dynamic: %+v", f)
	}
	if f := analyze(s, 3, 2); f.Kind != Unknown {
		t.Fatalf("SP from an unset FP: %+v", f)
	}
	if f := Analyze(Input{Addr: base, Code: []byte{9, 9, 9}, Decoder: s}); f.Kind != Unknown {
		t.Fatalf("undecodable: %+v", f)
	}
}

func TestFramePointer(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -8, ClobbersFP: false},      // 0 push rbp
		{Flow: isa.FlowNext, SetsFP: true},                                       // 1 mov rbp,rsp
		{Flow: isa.FlowNext, SP: isa.SPDynamic},                                  // 2 sub rsp,rax
		{Flow: isa.FlowNext, SP: isa.SPFromFP, SPDelta: 8, ClobbersFP: true},     // 3 leave
		{Flow: isa.FlowReturn},                                                   // 4
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -64},                        // 5 sub rsp,64
		{Flow: isa.FlowNext, Access: isa.BaseFP, AccessOff: -100, AccessSize: 4}, // 6
	}
	f := analyze(s, 0, 1, 5, 3, 4)
	if f.Kind != Static || f.Size != 80 {
		t.Fatalf("got %+v", f)
	}
	// A leaf at -O0 keeps locals below rbp without moving rsp: red zone.
	f = analyze(s, 0, 1, 6, 3, 4)
	if f.Size != 16 || f.RedZone != 100+16-16 {
		t.Fatalf("rbp red zone: size %d redzone %d", f.Size, f.RedZone)
	}
}

func TestStackClashLoop(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SavesSPLimit: true, SPLimitOffset: -0x10000}, // 0 lea r11,[rsp-0x10000]
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -0x1000},             // 1 loop: sub rsp,4096
		{Flow: isa.FlowNext, Access: isa.BaseSP},                          // 2 or [rsp],0
		{Flow: isa.FlowCondJump, Target: base + 4, HasTarget: true},       // 3 cmp; jne loop
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -0x20},               // 4 sub rsp,32
		{Flow: isa.FlowReturn},                                            // 5
		{Flow: isa.FlowNext},                                              // 6 nop
	}
	f := analyze(s, 0, 1, 2, 3, 4, 5)
	if f.Kind != Static || f.Size != 8+0x10000+0x20 {
		t.Fatalf("got kind %v size %#x, want static %#x", f.Kind, f.Size, 8+0x10000+0x20)
	}
	// The same loop without a known limit is a frame of run-time size.
	f = analyze(s, 6, 1, 2, 3, 4, 5)
	if f.Kind != Dynamic {
		t.Fatalf("loop without limit: %+v", f)
	}
}

func TestJumpTableAndIndirectTailCall(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -16}, // 0
		{Flow: isa.FlowIndirectJump},                      // 1 jmp *table
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -48}, // 2 only reached through the table
		{Flow: isa.FlowReturn},                            // 3
		{Flow: isa.FlowStop},                              // 4 int3
	}
	f := analyze(s, 0, 1, 2, 3)
	if f.Size != 72 || f.JumpTables != 1 || len(f.Calls) != 0 {
		t.Fatalf("jump table: %+v", f)
	}
	f = analyze(s, 0, 1, 4)
	if len(f.Calls) != 1 || f.Calls[0].Kind != IndirectTailCall {
		t.Fatalf("indirect tail call: %+v", f)
	}
}

func TestTailCallAndRealign(t *testing.T) {
	s := script{
		{Flow: isa.FlowJump, Target: 0x5000, HasTarget: true},  // 0
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -16},      // 1
		{Flow: isa.FlowNext, SP: isa.SPAlign, SPAlignment: 64}, // 2
		{Flow: isa.FlowReturn},                                 // 3
		{Flow: isa.FlowJump, Target: base, HasTarget: true},    // 4 jump to own entry
	}
	f := analyze(s, 0)
	if len(f.Calls) != 1 || f.Calls[0].Kind != TailCall || f.Calls[0].Target != 0x5000 {
		t.Fatalf("tail call: %+v", f)
	}
	// depth 24 -> rounded to 32 (ABI 16) -> + 64-16 worst case = 80.
	if f := analyze(s, 1, 2, 3); f.Size != 80 {
		t.Fatalf("realign: got %d want 80", f.Size)
	}
	if f := analyze(s, 4); len(f.Calls) != 0 || f.Kind != Static || f.Size != 8 {
		t.Fatalf("a jump to the own entry is a loop, not recursion: %+v", f)
	}
}
