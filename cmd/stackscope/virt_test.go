package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestRunRISCVFirmware: `run FIRMWARE.elf` on a RISC-V FreeRTOS image
// (the emu package's rtos app for rv32) picks QEMU virt, ends by the
// firmware's semihosting exit with status 0, says the verdict first, and
// its JSON names the board and every task; no QEMU is left behind.
func TestRunRISCVFirmware(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-riscv32")
	dir := t.TempDir()
	app, _ := filepath.Abs("../../internal/emu/testdata/rtos/app.c")
	fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "rv32", App: []string{app},
		Defines: []string{"INCLUDE_xTaskGetIdleTaskHandle=1", "configRECORD_STACK_HIGH_ADDRESS=1"}})
	js := filepath.Join(dir, "run.json")
	code, out, errOut := capture(t, "run", "--format", "json", "-o", js, fw)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "HWM producer=") {
		t.Errorf("stdout (semihosting) %q, want the firmware's HWM line", out)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind, Machine string
		Stop          struct{ Kind string }
		Stacks        []struct {
			Name, Kind string
			Peak       *int64
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != "firmware-run" || doc.Machine != "riscv32-virt" || doc.Stop.Kind != "exit" {
		t.Errorf("kind %q machine %q stop %q", doc.Kind, doc.Machine, doc.Stop.Kind)
	}
	measured := map[string]bool{}
	for _, s := range doc.Stacks {
		measured[s.Name] = s.Peak != nil
	}
	for _, name := range []string{"main", "producer", "consumer", "worker", "report", "IDLE", "Tmr Svc"} {
		if !measured[name] {
			t.Errorf("%s: not measured (%v)", name, measured)
		}
	}
	if pids := qemuChildren(os.Getpid()); len(pids) > 0 {
		t.Errorf("QEMU left: %v", pids)
	}
}

// TestRunRISCVBadInput: one line and exit 2 for a RISC-V Linux program
// (on a machine that is not RISC-V), a RISC-V image linked where virt has
// no RAM, and inject given RISC-V firmware.
func TestRunRISCVBadInput(t *testing.T) {
	dir := t.TempDir()
	oneLine := func(name string, want string, args ...string) {
		t.Helper()
		code, _, errOut := capture(t, args...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line with %q", name, code, errOut, want)
		}
	}
	if runtime.GOARCH != "riscv64" {
		cc := testutil.RequireTool(t, "riscv64-linux-gnu-gcc")
		src := filepath.Join(dir, "p.c")
		os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
		prog := filepath.Join(dir, "p")
		testutil.Run(t, dir, cc, "-o", prog, src)
		oneLine("linux program", "a RISC-V Linux program", "run", prog)
		oneLine("linux program, --machine", "not bare-metal firmware", "run", "--machine", "riscv64-virt", prog)
	}
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	src, _ := filepath.Abs("../../internal/emu/testdata/virt/stuck.S")
	for _, c := range []struct{ name, text, want string }{
		{"no RAM", "0x40000000", "fits no board stackscope knows"},
		{"inject", "0x80000000", "inject runs Cortex-M firmware only"},
	} {
		fw := filepath.Join(dir, c.name+".elf")
		testutil.Run(t, dir, cc, "-march=rv32imac", "-mabi=ilp32", "-nostdlib", "-nostartfiles", "-Wl,-N", "-Wl,-Ttext="+c.text, "-o", fw, src)
		if c.name == "inject" {
			oneLine(c.name, c.want, "inject", "--stack", "1K", fw)
		} else {
			oneLine(c.name, c.want, "run", fw)
		}
	}
}
