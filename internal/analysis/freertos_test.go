package analysis

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildFreeRTOSApp builds testdata/freertos/app.c against the FreeRTOS
// kernel for one port (testutil.BuildFreeRTOS) into dir.
func buildFreeRTOSApp(t *testing.T, dir, port, opt string, defines ...string) string {
	t.Helper()
	app, _ := filepath.Abs(filepath.Join("testdata", "freertos", "app.c"))
	return testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: port, Opt: opt, App: []string{app}, Defines: defines})
}

// TestFreeRTOSBuilds checks that the shared FreeRTOS test firmware builds
// for every port and that the analysis finds its vector table and tasks.
func TestFreeRTOSBuilds(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f", "cm33"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fw := buildFreeRTOSApp(t, dir, port, "-O2")
			if keep := os.Getenv("STACKSCOPE_KEEP_FIRMWARE"); keep != "" {
				data, _ := os.ReadFile(fw)
				os.WriteFile(filepath.Join(keep, filepath.Base(fw)), data, 0o644)
			}
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Interrupts == nil {
				t.Fatal("no vector table found")
			}
			if len(res.Threads) < 3 {
				t.Fatalf("%d tasks found, want at least the app's 3", len(res.Threads))
			}
		})
	}
}

// freertosBoard is a QEMU machine a measured run uses for a port: its
// memory map (linker script in testutil's testdata/freertos, "" for
// board.ld: code at 0, 4 MiB of RAM at 0x20000000) and what the
// application needs changed to fit it.
type freertosBoard struct {
	machine string
	linker  string
	defines []string
}

var freertosBoards = map[string]freertosBoard{
	"cm3":  {machine: "mps2-an385"},
	"cm4f": {machine: "mps2-an386"},
	// 16 KiB of RAM: a smaller FreeRTOS heap leaves newlib's sbrk heap
	// (stdout's buffer) room below the main stack.
	"cm0": {machine: "microbit", linker: "board_microbit.ld", defines: []string{"configTOTAL_HEAP_SIZE=4608"}},
}

// measureInQEMU runs a firmware built with -DMEASURE=1 in QEMU and returns
// the peaks it prints (measure.c): "main" and one per task name.
func measureInQEMU(t *testing.T, fw, machine string) map[string]int64 {
	t.Helper()
	qemu := testutil.RequireTool(t, "qemu-system-arm")
	// About 15 s alone; the nine variants run in parallel beside the rest
	// of the suite, and at a load of 8-10 one of them passed 60 s (session
	// 13): the limit is there to end a hung QEMU, not to time the run.
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
		"-semihosting-config", "enable=on,target=native", "-kernel", fw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", machine, err, out)
	}
	peaks := map[string]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "MEASURE ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("bad MEASURE field %q", kv)
			}
			peaks[k] = n
		}
	}
	if _, ok := peaks["main"]; !ok {
		t.Fatalf("%s printed no MEASURE line:\n%s", machine, out)
	}
	return peaks
}

// TestFreeRTOSMeasuredInQEMU runs the FreeRTOS application in QEMU with
// painted stacks and checks that no measured peak exceeds a bound the
// analysis gives: the main-stack total, and each task's bound with its
// context. (Soundness: the analysis may be loose, never low.)
func TestFreeRTOSMeasuredInQEMU(t *testing.T) {
	for port, board := range freertosBoards {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			port, board, opt := port, board, opt
			t.Run(port+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				measure, _ := filepath.Abs(filepath.Join("testdata", "freertos", "measure.c"))
				app, _ := filepath.Abs(filepath.Join("testdata", "freertos", "app.c"))
				fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: port, Opt: opt,
					App: []string{app, measure}, Defines: append([]string{"MEASURE=1"}, board.defines...),
					Linker: testutil.FreeRTOSBoard(t, board.linker)})
				peaks := measureInQEMU(t, fw, board.machine)
				res, err := Run(fw, Options{Config: parseConfig(t, excludeAssert)})
				if err != nil {
					t.Fatal(err)
				}
				in := res.Interrupts
				t.Logf("measured %v; main-stack total %v (at least %d)", peaks, fmtBound(in.Total), in.TotalAtLeast)
				if in.Total == nil {
					t.Fatalf("main-stack total not bounded: %v", in.Unbounded)
				}
				if peaks["main"] > *in.Total {
					t.Errorf("main stack: measured %d B > bound %d B", peaks["main"], *in.Total)
				}
				for _, th := range res.Threads {
					got, ok := peaks[taskName(th.Entry)]
					if !ok {
						continue
					}
					if th.Bound == nil {
						t.Logf("task %s: measured %d B; not bounded (%s)", th.Entry, got, th.Reason)
						continue
					}
					if need := *th.Bound + th.Context; got > need {
						t.Errorf("task %s: measured %d B > bound %d B + context %d B", th.Entry, got, *th.Bound, th.Context)
					}
				}
			})
		}
	}
}

// taskName maps a task's entry function to the name measure.c prints
// (the name given to xTaskCreate: the entry without "_task").
func taskName(entry string) string {
	return strings.TrimSuffix(entry, "_task")
}

func fmtBound(b *int64) string {
	if b == nil {
		return "not bounded"
	}
	return strconv.FormatInt(*b, 10)
}

// TestFreeRTOSBuildsStackless builds the variant with the seed's stackless
// HardFault handler for every port.
func TestFreeRTOSBuildsStackless(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f", "cm33"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			fw := buildFreeRTOSApp(t, t.TempDir(), port, "-Os", "STACKLESS_HARDFAULT=1")
			if _, err := Run(fw, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
