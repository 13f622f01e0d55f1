package analysis

import (
	"encoding/binary"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/riscv"
)

// FuzzScanTrapCode feeds arbitrary code to the trap scan (RV32 and RV64):
// it never panics; a write of mstatus it reports is inside the code and is
// a CSR instruction on mstatus; a write whose value is not followed is
// never proved harmless (mayWriteMIE without constants says yes whenever
// it says yes with them); a csrsi mstatus with bit 3 as the first
// instruction is always found.
func FuzzScanTrapCode(f *testing.F) {
	le := func(ws ...uint32) []byte {
		var b []byte
		for _, w := range ws {
			b = binary.LittleEndian.AppendUint32(b, w)
		}
		return b
	}
	f.Add(le(0x30046073), false)                               // csrsi mstatus, 8
	f.Add(append([]byte{0xa1, 0x47}, le(0x3007a073)...), true) // li a5,8; csrs mstatus,a5
	f.Add(le(0x00000297, 0x05928293, 0x30529073), true)        // auipc t0; addi t0,t0,89; csrw mtvec,t0
	f.Add(le(0x00050463, 0x30072073, 0x30200073), false)       // beqz a0,+8; csrs mstatus,a4; mret
	f.Add(le(0x30047073, 0x30200073), true)                    // csrci mstatus, 8; mret
	f.Fuzz(func(t *testing.T, code []byte, rv32 bool) {
		dec := riscv.New(64)
		if rv32 {
			dec = riscv.New(32)
		}
		const addr = 0x10000000
		s := scanTrapCode(dec, code, addr)
		if s.mstatusAt != 0 {
			off := int(s.mstatusAt - addr)
			if off < 0 || off+4 > len(code) {
				t.Fatalf("mstatus write at %#x outside the code", s.mstatusAt)
			}
			x := binary.LittleEndian.Uint32(code[off:])
			if x&0x7F != 0x73 || x>>20 != csrMstatus {
				t.Fatalf("mstatus write at %#x is %#08x", s.mstatusAt, x)
			}
		}
		if len(code) >= 4 {
			x := binary.LittleEndian.Uint32(code)
			consts := map[int8]int64{int8(x >> 15 & 31): int64(x)}
			if mayWriteMIE(x, consts) && !mayWriteMIE(x, nil) {
				t.Fatalf("%#08x: a known value may set MIE, an unknown one not", x)
			}
			if x&^(0x1F<<7) == 0x30046073 && s.mstatusAt != addr {
				t.Fatalf("csrsi mstatus, 8 first (%#08x), not found (%#x)", x, s.mstatusAt)
			}
		}
	})
}
