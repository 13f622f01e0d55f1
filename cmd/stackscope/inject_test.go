package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildInjectFixture builds the emu package's injection firmware
// (testdata/inject: startup.c, app.c, hardfault_<handler>.c, <ld>.ld) for
// mps2-an385 and returns the ELF and the linker script.
func buildInjectFixture(t *testing.T, ld, handler string) (string, string) {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("../../internal/emu/testdata/inject")
	dir := t.TempDir()
	out := filepath.Join(dir, ld+"-"+handler+".elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-g", "-ffreestanding", "-nostdlib", "-nostartfiles",
		"-T", filepath.Join(td, ld+".ld"), "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "app.c"), filepath.Join(td, "hardfault_"+handler+".c"))
	return out, filepath.Join(td, ld+".ld")
}

// TestInjectCommand: the verdict first on stderr and the exit status (0
// for CONTAINED, 1 for SILENT CORRUPTION), the JSON contract with -o, and
// no QEMU left behind.
func TestInjectCommand(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	fw, ld := buildInjectFixture(t, "start", "naked")
	code, _, errOut := capture(t, "inject", "--at", "work", "--ld", ld, fw)
	if code != 0 || !strings.HasPrefix(errOut, "stackscope: CONTAINED: the overflow was detected (HardFault)") {
		t.Errorf("start-naked: exit %d\n%s", code, errOut)
	}
	fw2, ld2 := buildInjectFixture(t, "after_bss", "c")
	js := filepath.Join(t.TempDir(), "inject.json")
	code, _, errOut = capture(t, "inject", "--stack", "32", "--ld", ld2, "--format", "json", "-o", js, fw2)
	if code != 1 {
		t.Errorf("after_bss-c: exit %d, want 1\n%s", code, errOut)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "version", "firmware", "machine", "fired", "fired_sp", "stack_limit", "stack_size", "guard", "writes", "corrupted", "fault", "handler", "verdict", "predicted"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if doc["kind"] != "firmware-injection" || doc["verdict"] != "SILENT CORRUPTION" || doc["fired"] != "stack" {
		t.Errorf("kind %v verdict %v fired %v", doc["kind"], doc["verdict"], doc["fired"])
	}
	if q := qemuChildren(os.Getpid()); len(q) != 0 {
		t.Errorf("QEMU left: %v", q)
	}
}

// TestInjectBadInputCommand: one line and exit 2, and no QEMU left.
func TestInjectBadInputCommand(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	fw, ld := buildInjectFixture(t, "after_bss", "naked")
	for _, c := range []struct {
		want string
		args []string
	}{
		{"larger than the RAM", []string{"--stack", "64M"}},
		{`no function named "nope" (--at)`, []string{"--at", "nope"}},
		{"--at HardFault_Handler: the function was never reached", []string{"--at", "HardFault_Handler"}},
		{"give one of --stack BYTES or --at FUNCTION", nil},
		{"give one of --stack BYTES or --at FUNCTION", []string{"--stack", "64", "--at", "work"}},
	} {
		args := append(append([]string{"inject", "--ld", ld}, c.args...), fw)
		code, _, errOut := capture(t, args...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
	if q := qemuChildren(os.Getpid()); len(q) != 0 {
		t.Errorf("QEMU left: %v", q)
	}
}

// TestMinstackFirmwareCommand: `minstack FIRMWARE.elf` takes the firmware
// path (not ptrace): the answer first on stdout, exit 0, the JSON kind,
// no QEMU left; a flag after the file is one line and exit 2.
func TestMinstackFirmwareCommand(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	fw := buildEmuFirmware(t, t.TempDir(), "0x20000000")
	code, out, errOut := capture(t, "minstack", fw)
	if code != 0 || !strings.HasPrefix(out, "stackscope: minimum main stack ") || !strings.Contains(out, "static total") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	js := filepath.Join(t.TempDir(), "m.json")
	if code, _, errOut := capture(t, "minstack", "--format", "json", "-o", js, fw); code != 0 {
		t.Fatalf("json: exit %d\n%s", code, errOut)
	}
	data, _ := os.ReadFile(js)
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] != "firmware-minstack" || doc["minimum"] == nil || doc["reproducible"] != true {
		t.Errorf("JSON %v", doc)
	}
	code, _, errOut = capture(t, "minstack", fw, "--machine", "mps2-an385")
	if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "put flags before the file") {
		t.Errorf("flag after the file: exit %d, %q", code, errOut)
	}
	if q := qemuChildren(os.Getpid()); len(q) != 0 {
		t.Errorf("QEMU left: %v", q)
	}
}
