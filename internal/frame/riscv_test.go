package frame

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa/riscv"
)

// riscvCode turns 32-bit RISC-V instructions written as objdump prints
// them (riscv64-unknown-elf-as -march=rv32imac, .option norvc) into bytes.
func riscvCode(t *testing.T, words string) []byte {
	t.Helper()
	var out []byte
	for _, w := range strings.Fields(words) {
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	}
	return out
}

func analyzeRISCV(t *testing.T, addr uint64, words string) Frame {
	t.Helper()
	return Analyze(Input{Addr: addr, Code: riscvCode(t, words), Decoder: riscv.New(32), StackAlign: 16})
}

// TestRISCVSPCopy: SP restored from the register a VLA's code saved it
// in (mv t3,sp ... sub sp,sp,a2 ... mv sp,t3) comes back to the depth of
// the copy: the frame is dynamic (the VLA), not unknown. When another
// path joins with the register written (mv t3,a1), the restore is not a
// proof and the frame is unknown.
func TestRISCVSPCopy(t *testing.T) {
	// addi sp,sp,-16; mv t3,sp; beqz a0,1f; mv a1,a2;
	// 1: sub sp,sp,a2; mv sp,t3; addi sp,sp,16; ret
	f := analyzeRISCV(t, 0x20, "ff010113 00010e13 00050463 00060593 40c10133 000e0113 01010113 00008067")
	if f.Kind != Dynamic || f.Size != 16 {
		t.Errorf("one copy: %v %d (%s), want dynamic 16", f.Kind, f.Size, f.Reason)
	}
	// ... beqz a0,1f; mv t3,a1; 1: ...: t3 is not SP's copy on one path.
	f = analyzeRISCV(t, 0, "ff010113 00010e13 00050463 00058e13 40c10133 000e0113 01010113 00008067")
	if f.Kind != Unknown {
		t.Errorf("copy overwritten on one path: %v %d, want unknown", f.Kind, f.Size)
	}
}

// TestRISCVReturnAfterOwnCall: GCC puts a block that returns right after
// a call that never returns (luaG_runerror); walked on, its ret finds ra
// written by that call, which goes back after the call in this function,
// not to somewhere unknown: the frame stays static and the function
// returns to its caller.
func TestRISCVReturnAfterOwnCall(t *testing.T) {
	// addi sp,sp,-32; sw ra,28(sp); beqz a0,1f; lw ra,28(sp);
	// addi sp,sp,32; ret; 1: jal 0x64; mv a0,a1; ret
	f := analyzeRISCV(t, 0x40, "fe010113 00112e23 00050863 01c12083 02010113 00008067 00c000ef 00058513 00008067")
	if f.Kind != Static || f.Size != 32 || f.ReturnsElsewhere {
		t.Errorf("%v %d (%s), returns elsewhere %v: want static 32, returning to its caller", f.Kind, f.Size, f.Reason, f.ReturnsElsewhere)
	}
	if len(f.Calls) != 1 || f.Calls[0].Target != 0x64 || f.Calls[0].Depth != 32 {
		t.Errorf("calls %+v, want one to 0x64 at depth 32", f.Calls)
	}
}

// TestRISCVMillicode: libgcc's RV32 __riscv_save_4 (addi sp,sp,-64;
// li t1,-32; stores; sub sp,sp,t1; jr t0) leaves SP 32 bytes down after
// reaching 64; __riscv_restore_4 only raises SP and returns through ra.
func TestRISCVMillicode(t *testing.T) {
	dec := riscv.New(32)
	code := map[uint64][]byte{
		// __riscv_save_4 at 0x100 (.option norvc).
		0x100: riscvCode(t, "fc010113 fe000313 03612023 02112e23 40610133 00028067"),
		// __riscv_restore_4 at 0x200: lw s6,0(sp); lw ra,12(sp); addi sp,sp,16; ret
		0x200: riscvCode(t, "00012b03 00c12083 01010113 00008067"),
	}
	at := func(addr uint64) []byte {
		for base, c := range code {
			if addr >= base && addr < base+uint64(len(c)) {
				return c[addr-base:]
			}
		}
		return nil
	}
	m, ok := AnalyzeMillicode(dec, at, 0x100, 5)
	if !ok || m.Restore || m.Peak != 64 || m.Drop != 32 {
		t.Errorf("save: %+v %v, want peak 64, drop 32", m, ok)
	}
	m, ok = AnalyzeMillicode(dec, at, 0x200, 5)
	if !ok || !m.Restore || m.Drop != -16 {
		t.Errorf("restore: %+v %v, want a restore raising SP by 16", m, ok)
	}
	// A routine that calls something is not millicode.
	code[0x300] = riscvCode(t, "fc010113 ffdff0ef 00028067") // addi; jal ra,.-4; jr t0
	if m, ok := AnalyzeMillicode(dec, at, 0x300, 5); ok {
		t.Errorf("a routine with a call: %+v, want not millicode", m)
	}

	// A function calling it: jal t0,0x100 (at 0x400); addi sp,sp,-16;
	// addi sp,sp,16; j 0x200.
	in := Input{Addr: 0x400, Code: riscvCode(t, "d01ff2ef ff010113 01010113 df5ff06f"), Decoder: dec, StackAlign: 16,
		Millicode: func(target uint64) (Millicode, bool) { return AnalyzeMillicode(dec, at, target, 5) }}
	f := Analyze(in)
	if f.Kind != Static || f.Size != 64 || len(f.Calls) != 0 {
		t.Errorf("caller: %v %d (%s), calls %+v: want static 64 (32 saved + 16, peak 64 inside the routine), no calls", f.Kind, f.Size, f.Reason, f.Calls)
	}
	in.Millicode = nil
	if f := Analyze(in); f.Kind != Unknown {
		t.Errorf("without Millicode: %v, want unknown", f.Kind)
	}
}

// TestRISCVSPFromFPPlusRegister: a frame over 2 KiB restored from the
// frame pointer plus a register (lui t0,-1; addi t0,t0,1040; add
// sp,s0,t0: glibc's RV64 epilogues) is static when the register's value
// is a proved constant, and unknown, with the address, when it is not
// (ld t0,0(a0)).
func TestRISCVSPFromFPPlusRegister(t *testing.T) {
	// addi sp,sp,-2032; sd ra,2024(sp); sd s0,2016(sp); addi s0,sp,2032;
	// li t0,-1024; add sp,sp,t0; lui t0,0xfffff; addi t0,t0,1040;
	// add sp,s0,t0; addi sp,sp,1024; ld ra,2024(sp); ld s0,2016(sp);
	// addi sp,sp,2032; ret
	prologue := "81010113 7e113423 7e813023 7f010413 c0000293 00510133 "
	epilogue := "40010113 7e813083 7e013403 7f010113 00008067"
	in := Input{Addr: 0x100, Code: riscvCode(t, prologue+"fffff2b7 41028293 00540133 "+epilogue), Decoder: riscv.New(64), StackAlign: 16}
	if f := Analyze(in); f.Kind != Static || f.Size != 3056 {
		t.Errorf("t0 a constant: %v %d (%s), want static 3056", f.Kind, f.Size, f.Reason)
	}
	// ld t0,0(a0); add sp,s0,t0: the amount is read from memory.
	in.Code = riscvCode(t, prologue+"00053283 00540133 "+epilogue)
	if f := Analyze(in); f.Kind != Unknown || !strings.Contains(f.Reason, "0x11c") {
		t.Errorf("t0 loaded: %v %d (%s), want unknown at 0x11c", f.Kind, f.Size, f.Reason)
	}
	// sub sp,s0,t0 with t0 = 3056 (li t0,... built as lui t0,1; addi t0,t0,-1040).
	in.Code = riscvCode(t, prologue+"000012b7 bf028293 40540133 "+epilogue)
	if f := Analyze(in); f.Kind != Static || f.Size != 3056 {
		t.Errorf("sub sp,s0,t0: %v %d (%s), want static 3056", f.Kind, f.Size, f.Reason)
	}
}
