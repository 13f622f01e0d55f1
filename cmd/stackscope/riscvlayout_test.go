package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildRISCVLayoutImage links internal/layout/testdata/riscv's app.c and
// start.S with one of its linker scripts (rv32, bare metal).
func buildRISCVLayoutImage(t *testing.T, script string, ldArgs ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	td, _ := filepath.Abs("../../internal/layout/testdata/riscv")
	dir := t.TempDir()
	out := filepath.Join(dir, "fw.elf")
	args := []string{"-O2", "-march=rv32imac", "-mabi=ilp32", "-nostdlib", "-nostartfiles", "-ffreestanding",
		"-T", filepath.Join(td, script), "-o", out, filepath.Join(td, "start.S"), filepath.Join(td, "app.c")}
	for _, a := range ldArgs {
		args = append(args, "-Wl,"+a)
	}
	testutil.Run(t, dir, cc, args...)
	return out
}

// TestLayoutRISCVExitCodes: RISC-V firmware gets a verdict. The stack
// first in RAM (stack_first.ld, with its MEMORY as --ld) is SAFE, exit 0,
// with the reset path's bound inside the 4 KiB; the same image with a
// 256-byte stack (--defsym) against work's 512-byte buffer is a finding,
// exit 1, that says the stack WILL overflow; the stack right above .bss
// (bss_below.ld) is UNSAFE, exit 1, naming the .bss object; the JSON has
// its kind, the stack and the Cortex-M checks that were not made.
func TestLayoutRISCVExitCodes(t *testing.T) {
	td, _ := filepath.Abs("../../internal/layout/testdata/riscv")
	first := filepath.Join(td, "stack_first.ld")
	fw := buildRISCVLayoutImage(t, "stack_first.ld")
	if code, out, errOut := capture(t, "layout", "--ld", first, fw); code != exitOK || !strings.Contains(out, ": SAFE: ") ||
		!strings.Contains(out, "HEADROOM") || !strings.Contains(out, "NOT CHECKED") {
		t.Errorf("stack first in RAM: exit %d, want 0, SAFE, the headroom and NOT CHECKED:\n%s%s", code, out, errOut)
	}
	small := buildRISCVLayoutImage(t, "stack_first.ld", "--defsym=STACK_SIZE=256")
	if code, out, _ := capture(t, "layout", "--ld", first, small); code != exitFinding || !strings.Contains(out, ": SAFE: ") ||
		!strings.Contains(out, "WILL overflow") {
		t.Errorf("256-byte stack: exit %d, want 1, SAFE placement and a stack that WILL overflow:\n%s", code, out)
	}
	below := buildRISCVLayoutImage(t, "bss_below.ld")
	code, out, _ := capture(t, "layout", "--ld", filepath.Join(td, "bss_below.ld"), below)
	if code != exitFinding || !strings.Contains(out, ": UNSAFE: ") || !strings.Contains(out, "log_buf") || strings.Contains(out, "HardFault") {
		t.Errorf("stack above .bss: exit %d, want 1, UNSAFE naming log_buf, no Cortex-M fix:\n%s", code, out)
	}
	_, js, _ := capture(t, "layout", "--format", "json", below)
	var doc struct {
		Kind       string
		Stack      *struct{ Top, Limit, Size uint64 }
		NotChecked []string `json:"not_checked"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind == "" || doc.Stack == nil || doc.Stack.Size != 0x1000 || doc.Stack.Top-doc.Stack.Limit != 0x1000 || len(doc.NotChecked) == 0 {
		t.Errorf("json: %+v", doc)
	}
}
