package cfi

import (
	"debug/elf"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestUnwindAt: on Thumb code built at test time, each function's CFA at
// its entry is SP+0 with the return address still in LR; its largest CFA
// offset is the frame GCC's -fstack-usage gives; and where a function
// that calls has its full frame, the return address is saved at CFA-4
// (push {..., lr} puts LR highest), which is what the emulator's
// backtraces read.
func TestUnwindAt(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			src, _ := filepath.Abs(filepath.Join("testdata", "unwind.c"))
			out := filepath.Join(dir, "unwind.elf")
			testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", opt, "-g", "-fstack-usage", "-nostdlib", "-ffreestanding",
				"-Wl,-e,_start", "-Wl,-Ttext=0x1000", "-o", out, src)
			f, err := elf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tab, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			syms, _ := f.Symbols()
			su := map[string]int64{}
			for _, l := range testutil.ParseSU(t, dir) {
				su[l.Function] = l.Bytes
			}
			for _, name := range []string{"leaf", "caller", "big"} {
				var sym elf.Symbol
				for _, s := range syms {
					if s.Name == name {
						sym = s
					}
				}
				if sym.Size == 0 {
					t.Fatalf("no symbol %s", name)
				}
				start := sym.Value &^ 1
				u, ok := tab.UnwindAt(start)
				if !ok || u.CFAOffset != 0 || u.RASaved {
					t.Errorf("%s at entry: %+v ok %v, want CFA SP+0 and LR in its register", name, u, ok)
				}
				var deepest Unwind
				for pc := start; pc < start+sym.Size; pc += 2 {
					// At -O0 the CFA moves to r7 once it is set up: the frame is
					// then the CFA's offset from r7, which -O0 sets to SP.
					if u, ok := tab.UnwindAt(pc); ok && u.CFAOffset > deepest.CFAOffset {
						deepest = u
					}
				}
				if deepest.CFAOffset != su[name] {
					t.Errorf("%s: largest CFA offset %d, .su frame %d", name, deepest.CFAOffset, su[name])
				}
				if name != "leaf" && (!deepest.RASaved || deepest.RAOffset != -4) {
					t.Errorf("%s: return address at %+v, want saved at CFA-4", name, deepest)
				}
			}
		})
	}
}
