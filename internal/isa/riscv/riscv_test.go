package riscv

import (
	"encoding/hex"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// hexBytes decodes instruction bytes written as objdump prints them: each
// field one instruction (4 hex digits for 16 bits, 8 for 32), most
// significant digit first.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	field := ""
	flush := func() {
		if field == "" {
			return
		}
		b, err := hex.DecodeString(field)
		if err != nil {
			t.Fatalf("bad hex %q", field)
		}
		for i := len(b) - 1; i >= 0; i-- {
			out = append(out, b[i])
		}
		field = ""
	}
	for _, r := range s {
		if r == ' ' {
			flush()
			continue
		}
		field += string(r)
	}
	flush()
	return out
}

// unitCases are encodings assembled by riscv64-unknown-elf-as (objdump's
// hex column), for the cases the objdump comparison meets rarely or
// never: RV32-only compressed encodings, RV64-only instructions on RV32,
// the call and tail pairs, the SP and frame-pointer forms.
var unitCases = []struct {
	name string
	xlen int
	hex  string
	want isa.Effect
	err  bool
}{
	{"c.jal (RV32)", 32, "2011", isa.Effect{Len: 2, Flow: isa.FlowCall, HasTarget: true, Target: 0x1004, DefKind: isa.DefOther, DefReg: 1}, false},
	{"c.addiw x0 (RV64, reserved; the bits of c.jal +4 on RV32)", 64, "2011", isa.Effect{}, true},
	{"c.addiw a0,1 (RV64)", 64, "2505", isa.Effect{Len: 2, DefKind: isa.DefAddImm, DefReg: 10, DefSrc: 10, DefValue: 1}, false},
	{"c.flw fa0,4(s0) (RV32)", 32, "6048", isa.Effect{Len: 2, Access: isa.BaseFP, AccessOff: 4, AccessSize: 4, UsesFP: true}, false},
	{"c.flwsp fa0,12(sp) (RV32)", 32, "6532", isa.Effect{Len: 2, Access: isa.BaseSP, AccessOff: 12, AccessSize: 4}, false},
	{"c.fswsp fa0,12(sp) (RV32)", 32, "e62a", isa.Effect{Len: 2, Access: isa.BaseSP, AccessOff: 12, AccessSize: 4}, false},
	{"c.ldsp a0,8(sp) (RV64)", 64, "6522", isa.Effect{Len: 2, Access: isa.BaseSP, AccessOff: 8, AccessSize: 8, DefKind: isa.DefLoad, DefReg: 10, HasMem: true, MemBase: 2, MemIndex: -1, MemDisp: 8}, false},
	{"ld on RV32", 32, "00053503", isa.Effect{}, true},
	{"addiw on RV32", 32, "0015051b", isa.Effect{}, true},
	{"c.addi16sp sp,-64", 64, "7139", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -64, DefKind: isa.DefAddImm, DefReg: 2, DefSrc: 2, DefValue: -64}, false},
	{"c.addi4spn a0,sp,16 does not move sp", 32, "0808", isa.Effect{Len: 2, DefKind: isa.DefAddImm, DefReg: 10, DefSrc: 2, DefValue: 16}, false},
	{"addi s0,sp,32", 32, "02010413", isa.Effect{Len: 4, SetsFP: true, FPOffset: 32, UsesFP: true, DefKind: isa.DefAddImm, DefReg: 8, DefSrc: 2, DefValue: 32}, false},
	{"addi sp,s0,-32", 32, "fe040113", isa.Effect{Len: 4, SP: isa.SPFromFP, SPDelta: -32, UsesFP: true, DefKind: isa.DefAddImm, DefReg: 2, DefSrc: 8, DefValue: -32}, false},
	{"sub sp,sp,t0", 32, "40510133", isa.Effect{Len: 4, SP: isa.SPDynamic, SPReg: 5, HasSPReg: true, SPRegSub: true, DefKind: isa.DefOther, DefReg: 2}, false},
	// The epilogue of a frame over 2 KiB: SP from s0 plus a register the
	// frame walk resolves (lui t0,-1; addi t0,t0,N before it).
	{"add sp,s0,t0", 64, "00540133", isa.Effect{Len: 4, SP: isa.SPFromFP, SPReg: 5, HasSPReg: true, UsesFP: true, DefKind: isa.DefAddIndex, DefReg: 2, DefSrc: 8, DefIndex: 5}, false},
	{"sub sp,s0,t1", 64, "40640133", isa.Effect{Len: 4, SP: isa.SPFromFP, SPReg: 6, HasSPReg: true, SPRegSub: true, UsesFP: true, DefKind: isa.DefOther, DefReg: 2}, false},
	{"andi sp,sp,-16", 64, "ff017113", isa.Effect{Len: 4, SP: isa.SPAlign, SPAlignment: 16, DefKind: isa.DefOther, DefReg: 2}, false},
	{"lw sp,0(a0)", 32, "00052103", isa.Effect{Len: 4, SP: isa.SPUnknown, DefKind: isa.DefLoad, DefReg: 2, HasMem: true, MemBase: 10, MemIndex: -1}, false},
	{"lw sp,sym: auipc sp,0; lw sp,1038(sp) (RV32)", 32, "00000117 40e12103", isa.Effect{Len: 8, SP: isa.SPUnknown, DefKind: isa.DefLoad, DefReg: 2, HasMem: true, MemBase: -1, MemIndex: -1, MemDisp: 0x140e}, false},
	{"ld sp,sym: auipc sp,1; ld sp,-8(sp) (RV64)", 64, "00001117 ff813103", isa.Effect{Len: 8, SP: isa.SPUnknown, DefKind: isa.DefLoad, DefReg: 2, HasMem: true, MemBase: -1, MemIndex: -1, MemDisp: 0x1ff8}, false},
	{"call: auipc ra,0; jalr ra,16(ra)", 32, "00000097 010080e7", isa.Effect{Len: 8, Flow: isa.FlowCall, HasTarget: true, Target: 0x1010, DefKind: isa.DefOther, DefReg: 1}, false},
	{"tail: auipc t1,1; jr -8(t1)", 64, "00001317 ff830067", isa.Effect{Len: 8, Flow: isa.FlowJump, HasTarget: true, Target: 0x1ff8, DefKind: isa.DefAddr, DefReg: 6, DefValue: 0x2000}, false},
	{"jal t0 (millicode)", 32, "004002ef", isa.Effect{Len: 4, Flow: isa.FlowCall, HasTarget: true, Target: 0x1004, AltLink: true, DefKind: isa.DefOther, DefReg: 5}, false},
	{"ret", 64, "8082", isa.Effect{Len: 2, Flow: isa.FlowReturn, CallReg: 1, HasCallReg: true}, false},
	{"jr a5", 64, "8782", isa.Effect{Len: 2, Flow: isa.FlowIndirectJump, CallReg: 15, HasCallReg: true}, false},
	{"c.j -4", 32, "bff5", isa.Effect{Len: 2, Flow: isa.FlowJump, HasTarget: true, Target: 0xffc}, false},
	{"mret", 32, "30200073", isa.Effect{Len: 4, Flow: isa.FlowReturn}, false},
	{"wfi", 32, "10500073", isa.Effect{Len: 4}, false},
	{"unimp (zero halfword)", 32, "0000", isa.Effect{Len: 2, Flow: isa.FlowStop}, false},
	{"c.slli64 zero (a HINT)", 64, "0002", isa.Effect{Len: 2, Nop: true}, false},
	{"lui a5,0x80000 (RV32: zero-extended)", 32, "800007b7", isa.Effect{Len: 4, DefKind: isa.DefConst, DefReg: 15, DefValue: 0x80000000}, false},
	{"lui a5,0x80000 (RV64: sign-extended)", 64, "800007b7", isa.Effect{Len: 4, DefKind: isa.DefConst, DefReg: 15, DefValue: -0x80000000}, false},
	{"a 48-bit encoding", 64, "0000001f", isa.Effect{}, true},
}

func TestDecodeUnits(t *testing.T) {
	for _, c := range unitCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := New(c.xlen).Decode(hexBytes(t, c.hex), 0x1000)
			if c.err {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
