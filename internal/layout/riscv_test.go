package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestRISCVFirmwareNoVerdict: layout does not check RISC-V firmware yet,
// and says so: no verdict, and none of the hosted program's claims (a
// kernel guarding the stack), which would look safe and are not.
func TestRISCVFirmwareNoVerdict(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	elf := filepath.Join(dir, "fw.elf")
	testutil.Run(t, dir, cc, "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs", "-o", elf, src)
	r, err := Analyze(elf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "" || !strings.Contains(r.VerdictReason, "RISC-V firmware") || r.Kernel != "" {
		t.Errorf("verdict %q (%s), kernel %q: want no verdict naming RISC-V firmware, no kernel", r.Verdict, r.VerdictReason, r.Kernel)
	}
}
