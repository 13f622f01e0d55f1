package thumb

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestMSRStackRegisters assembles msr to every special register that is or
// is near a stack pointer (arm-none-eabi-as, ARMv8-M Mainline, which has
// them all) and checks what the decoder says: MSP, PSP and CONTROL are SP
// writes of unknown effect with the register and its source; the stack
// limits MSPLIM/PSPLIM and the other special registers do not touch SP.
func TestMSRStackRegisters(t *testing.T) {
	as := testutil.RequireTool(t, "arm-none-eabi-as")
	cases := []struct {
		asm string
		sys isa.SysReg
		src int8
	}{
		{"msr msp, r0", isa.SysMSP, 0},
		{"msr psp, r3", isa.SysPSP, 3},
		{"msr control, r1", isa.SysControl, 1},
		{"msr msplim, r2", isa.SysNone, 0},
		{"msr psplim, r4", isa.SysNone, 0},
		{"msr basepri, r0", isa.SysNone, 0},
		{"msr primask, r5", isa.SysNone, 0},
	}
	dir := t.TempDir()
	src := ".syntax unified\n.thumb\n.text\n"
	for _, c := range cases {
		src += c.asm + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "msr.s"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "msr.o")
	testutil.Run(t, dir, as, "-mcpu=cortex-m33", "-o", obj, "msr.s")
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, err := f.Section(".text").Data()
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 4*len(cases) {
		t.Fatalf(".text is %d bytes, want %d (one 32-bit msr per case)", len(code), 4*len(cases))
	}
	var d Decoder
	for i, c := range cases {
		e, err := d.Decode(code[4*i:], uint64(4*i))
		if err != nil {
			t.Fatalf("%s: %v", c.asm, err)
		}
		if e.SysReg != c.sys {
			t.Errorf("%s: SysReg %v, want %v", c.asm, e.SysReg, c.sys)
		}
		wantSP := isa.SPNone
		if c.sys != isa.SysNone {
			wantSP = isa.SPUnknown
			if e.SysSrc != c.src {
				t.Errorf("%s: source r%d, want r%d", c.asm, e.SysSrc, c.src)
			}
		}
		if e.SP != wantSP {
			t.Errorf("%s: SP effect %v, want %v", c.asm, e.SP, wantSP)
		}
	}
}
