package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLayoutExitCodes: 1 for an unsafe layout (the README's example
// firmware), 0 for a stack first in RAM, 2 for a bad file or flag.
func TestLayoutExitCodes(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "map.svg")
	if code := runMain([]string{"layout", "--svg", svg, "../../examples/firmware/firmware.elf"}); code != exitFinding {
		t.Errorf("example firmware: exit %d, want 1 (stack at the top of RAM above .bss)", code)
	}
	if st, err := os.Stat(svg); err != nil || st.Size() < 1000 {
		t.Errorf("--svg wrote nothing: %v", err)
	}
	if code := runMain([]string{"layout", "--format", "json", "../../examples/firmware/firmware.elf"}); code != exitFinding {
		t.Errorf("json: exit %d", code)
	}
	if code := runMain([]string{"layout", filepath.Join(dir, "missing.elf")}); code != exitUsage {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code := runMain([]string{"layout", "--format", "xml", "../../examples/firmware/firmware.elf"}); code != exitUsage {
		t.Errorf("bad format: exit %d, want 2", code)
	}

	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("../../internal/layout/testdata")
	fw := filepath.Join(dir, "safe.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-ffreestanding", "-nostdlib",
		"-T", filepath.Join(td, "start.ld"), "-o", fw, filepath.Join(td, "startup.c"), filepath.Join(td, "support.c"),
		filepath.Join(td, "hardfault_c.c"), filepath.Join(td, "app.c"), "-lgcc")
	if code := runMain([]string{"layout", fw}); code != exitOK {
		t.Errorf("stack first in RAM: exit %d, want 0", code)
	}
}
