package main

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestReportRISCVFirmware: the page of the rv32 FreeRTOS firmware (the
// emu package's rtos app) has the memory map and the stack placement's
// verdict with --layout auto, and report's exit status is layout's (the
// image gives no memory map, so the placement is not proved: exit 1 with
// the layout finding on standard error, as for Cortex-M); the checks
// RISC-V layout does not make are said under the map. With --run, a
// record `stackscope run --format json -o FILE` wrote of it, the page
// (in Chromium) has one row per stack of the record (main, the trap
// handler's own stack, each task) whose measured peak, size and static
// bound are the record's as run writes them.
func TestReportRISCVFirmware(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-riscv32")
	testutil.RequireTool(t, "chromium")
	dir := t.TempDir()
	app, _ := filepath.Abs("../../internal/emu/testdata/rtos/app.c")
	fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "rv32", App: []string{app},
		Defines: []string{"INCLUDE_xTaskGetIdleTaskHandle=1", "configRECORD_STACK_HIGH_ADDRESS=1"}})

	// The layout's own verdict and exit status, to compare with report's.
	layoutCode, layoutOut, _ := capture(t, "layout", "--format", "json", fw)
	var lay struct {
		Kind, Verdict string
		NotChecked    []string `json:"not_checked"`
	}
	if err := json.Unmarshal([]byte(layoutOut), &lay); err != nil || lay.Verdict == "" || len(lay.NotChecked) == 0 {
		t.Fatalf("layout --format json: %v, verdict %q, not checked %v", err, lay.Verdict, lay.NotChecked)
	}
	plain := filepath.Join(dir, "plain.html")
	code, _, errOut := capture(t, "report", "-o", plain, fw)
	if code != layoutCode {
		t.Errorf("report: exit %d, layout's is %d\n%s", code, layoutCode, errOut)
	}
	if code == exitFinding && !strings.Contains(errOut, "stack placement") && !strings.Contains(errOut, strings.ToUpper(lay.Verdict)) {
		t.Errorf("report: exit 1 without the layout's finding on stderr:\n%s", errOut)
	}
	raw, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	if !strings.Contains(page, `<section id="layout">`) || !strings.Contains(page, "Stack placement: <b>"+strings.ToUpper(lay.Verdict)+"</b>") {
		t.Errorf("the page lacks the memory map or the placement verdict %s", strings.ToUpper(lay.Verdict))
	}
	if !strings.Contains(page, "Not checked: fault handlers") {
		t.Errorf("the memory map does not say that the fault handlers were not checked")
	}
	if code, _, errOut := capture(t, "report", "--layout", "no", "-o", plain, fw); code != exitOK {
		t.Errorf("report --layout no: exit %d, want 0 (the analysis bounds every entry)\n%s", code, errOut)
	}
	if raw, _ := os.ReadFile(plain); strings.Contains(string(raw), `<section id="layout">`) {
		t.Errorf("report --layout no: the page has the memory map")
	}

	js := filepath.Join(dir, "run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", js, fw); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rec emu.Result
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fw.html")
	if code, _, errOut := capture(t, "report", "--run", js, "-o", out, fw); code != layoutCode || strings.Contains(errOut, "warning") {
		t.Fatalf("report --run: exit %d, want layout's %d\n%s", code, layoutCode, errOut)
	}
	raw, _ = os.ReadFile(out)
	if !strings.Contains(string(raw), html.EscapeString(rec.Verdict())) {
		t.Errorf("the page lacks the run's verdict %q", rec.Verdict())
	}
	dom := reportDOM(t, "file://"+out)
	if !strings.Contains(dom, `<section id="layout">`) {
		t.Errorf("the page with --run lacks the memory map")
	}
	got := tableRows(between(t, dom, `<div id="fw-stacks">`, `<section id="functions-section">`))
	if len(got) != len(rec.Stacks)+1 {
		t.Fatalf("%d rows for %d stacks: %v", len(got)-1, len(rec.Stacks), got)
	}
	kinds := map[string]int{}
	for i, s := range rec.Stacks {
		row := got[i+1]
		kinds[s.Kind]++
		if s.Peak == nil {
			t.Errorf("%s: not measured (%s): the fixture's stacks are all measured", s.Name, s.NotMeasured)
			continue
		}
		peak := size.Format(*s.Peak)
		if s.Overflowed {
			peak = "≥ " + size.FormatCapacity(s.Size)
		}
		bound := "not bounded"
		if s.StaticBound != nil {
			bound = size.Format(*s.StaticBound)
		} else if s.StaticAtLeast > 0 {
			bound = "≥ " + size.Format(s.StaticAtLeast)
		}
		if len(row) != 7 || row[0] != s.Name || row[1] != s.Kind || row[2] != peak || row[3] != size.FormatCapacity(s.Size) || row[5] != bound {
			t.Errorf("stack %s: row %q, want name %q kind %q peak %q size %q bound %q", s.Name, row, s.Name, s.Kind, peak, size.FormatCapacity(s.Size), bound)
		}
	}
	if kinds["main"] != 1 || kinds["trap"] != 1 || kinds["task"] < 4 {
		t.Errorf("stack kinds %v: the fixture has the main stack, the trap handler's own stack and its tasks", kinds)
	}
}

// TestReportRISCVLinuxProgram: a RISC-V Linux program is not firmware
// to report: no memory map with --layout auto (exit 0), and a firmware
// run record given for it is refused in one line (exit 2).
func TestReportRISCVLinuxProgram(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-linux-gnu-gcc")
	testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
	prog := filepath.Join(dir, "p")
	testutil.Run(t, dir, cc, "-O1", "-o", prog, src)
	page := filepath.Join(dir, "p.html")
	code, _, errOut := capture(t, "report", "-o", page, prog)
	if code > exitFinding {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	raw, _ := os.ReadFile(page)
	if strings.Contains(string(raw), `<section id="layout">`) || strings.Contains(string(raw), "Stack placement:") {
		t.Errorf("a RISC-V Linux program's page has the firmware memory map")
	}
	if strings.Contains(errOut, "stack placement") || strings.Contains(errOut, "layout") {
		t.Errorf("report of a Linux program names a layout finding:\n%s", errOut)
	}
	// A firmware run record (Cortex-M, the quickest to make) for it.
	fw := buildEmuFirmware(t, dir, "0x20000000")
	fwJSON := filepath.Join(dir, "fw-run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", fwJSON, fw); code != 0 {
		t.Fatalf("run %s: exit %d\n%s", fw, code, errOut)
	}
	os.Remove(page)
	code, _, errOut = capture(t, "report", "-o", page, "--run", fwJSON, prog)
	want := "a record of firmware run in the emulator, and " + prog + " is not firmware"
	if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
		t.Errorf("report --run FIRMWARE-RUN %s: exit %d, want 2 and one line with %q:\n%s", prog, code, want, errOut)
	}
	if _, err := os.Stat(page); err == nil {
		t.Errorf("a page was written")
	}
}
