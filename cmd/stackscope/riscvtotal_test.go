package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestAnalyzeRISCVMainStackTotal: on RISC-V firmware (the analysis
// package's nest.c) the text starts with the main-stack total; undeclared
// nesting is NOT BOUNDED and the handler that sets MIE again is named with
// the function that writes mstatus and the fix; with a stackscope.toml
// beside the image that groups the re-enabling handlers, the total is
// bounded and the text's figure is the JSON's.
func TestAnalyzeRISCVMainStackTotal(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("../../internal/analysis/testdata/riscv/nest.c")
	elf := filepath.Join(dir, "nest.elf")
	testutil.Run(t, dir, cc, "-march=rv32imac", "-mabi=ilp32", "-O2", "-g", "--specs=picolibc.specs", "-nostartfiles", "-o", elf, src)

	_, out, _ := capture(t, "analyze", elf)
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[2], "MAIN STACK TOTAL: NOT BOUNDED") {
		t.Fatalf("want the NOT BOUNDED total first, got:\n%s", out)
	}
	for _, want := range []string{
		"ext_isr sets MIE again: mstatus written in enable_nesting at 0x",
		"called ext_isr -> enable_nesting",
		`fix: [interrupts] groups = [["ext_isr", ...]]`,
		"soft_isr sets MIE again: mstatus written in soft_isr at 0x",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "timer_isr sets MIE") || strings.Contains(out, "exc_isr sets MIE") {
		t.Errorf("a handler that leaves MIE clear is named:\n%s", out)
	}

	os.WriteFile(filepath.Join(dir, "stackscope.toml"), []byte("[interrupts]\ngroups = [[\"ext_isr\", \"soft_isr\"]]\n"), 0o644)
	_, out, _ = capture(t, "analyze", elf)
	_, js, _ := capture(t, "analyze", "--format", "json", elf)
	var doc struct {
		Interrupts struct {
			Total    *int64 `json:"total"`
			Handlers []struct {
				Name      string          `json:"name"`
				Reenables json.RawMessage `json:"reenables_interrupts"`
			} `json:"handlers"`
		} `json:"interrupts"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Interrupts.Total == nil {
		t.Fatalf("grouped: JSON total null:\n%s", out)
	}
	if want := "MAIN STACK TOTAL: " + size.Format(*doc.Interrupts.Total); !strings.Contains(out, want+"\n") {
		t.Errorf("grouped: text lacks %q:\n%s", want, out)
	}
	var named []string
	for _, h := range doc.Interrupts.Handlers {
		if len(h.Reenables) > 0 {
			named = append(named, h.Name)
		}
	}
	if strings.Join(named, " ") != "ext_isr soft_isr" {
		t.Errorf("JSON names %v as re-enabling, want ext_isr and soft_isr", named)
	}
}
