package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLayoutRISCV feeds corrupted RISC-V firmware images to the layout:
// no input may panic (AnalyzeFile turns a panic into an "internal error"
// warning, which the target treats as a crash). Seeds: the hand-written
// images of riscv_test.go, built at test time (the stack found from the
// reset code and from symbols, and with no stack symbol).
func FuzzLayoutRISCV(f *testing.F) {
	for _, b := range [][2]string{{"start.S", "bss_below.ld"}, {"start_const.S", "nosyms.ld"}, {"start.S", "stack_first.ld"}} {
		data, err := os.ReadFile(buildBareRISCV(f, b[0], b[1]))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "input.elf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Skip(err)
		}
		r, err := Analyze(path, Options{NoHeadroom: true})
		if err != nil {
			return
		}
		for _, w := range r.Warnings {
			if strings.HasPrefix(w, "internal error") {
				t.Fatal(w)
			}
		}
	})
}
