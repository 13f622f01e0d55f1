package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildEmuFirmware builds the emu package's test firmware (startup.c,
// app.c) for mps2-an385's memory, with -D defines, into dir.
func buildEmuFirmware(t *testing.T, dir string, ram string, defines ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("../../internal/emu/testdata")
	tmpl, err := os.ReadFile(filepath.Join(td, "link.ld.in"))
	if err != nil {
		t.Fatal(err)
	}
	ld := strings.NewReplacer("FLASH_ORIGIN", "0", "FLASH_LENGTH", "4M", "RAM_ORIGIN", ram, "RAM_LENGTH", "64K").Replace(string(tmpl))
	ldPath := filepath.Join(dir, "fw.ld")
	os.WriteFile(ldPath, []byte(ld), 0o644)
	out := filepath.Join(dir, "fw.elf")
	args := []string{"-mcpu=cortex-m3", "-mthumb", "-O2", "-g", "-fno-tree-loop-distribute-patterns", "-ffreestanding", "-nostdlib", "-nostartfiles",
		"-T", ldPath, "-o", out, filepath.Join(td, "startup.c"), filepath.Join(td, "app.c")}
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	testutil.Run(t, dir, cc, args...)
	return out
}

// TestRunFirmwareCommand: `run FIRMWARE.elf` passes the firmware's
// semihosting status through, puts the verdict first on stderr, and
// writes the JSON contract with -o.
func TestRunFirmwareCommand(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	fw := buildEmuFirmware(t, dir, "0x20000000", "EXIT_CODE=7")
	code, out, errOut := capture(t, "run", fw)
	if code != 7 {
		t.Fatalf("exit %d, want the firmware's 7\n%s", code, errOut)
	}
	if !strings.HasPrefix(errOut, "stackscope: firmware exited with status 7; main stack peak ") || !strings.Contains(errOut, "bound holds") {
		t.Errorf("report:\n%s", errOut)
	}
	if out != "" {
		t.Errorf("stdout (the UART) %q, want nothing: the firmware prints nothing", out)
	}
	js := filepath.Join(dir, "run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", js, "--machine", "lm3s6965evb", fw); code != 7 {
		t.Fatalf("json: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "version", "firmware", "machine", "icount", "stop", "stacks", "output"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if doc["kind"] != "firmware-run" || doc["machine"] != "lm3s6965evb" {
		t.Errorf("kind %v machine %v", doc["kind"], doc["machine"])
	}
	stop := doc["stop"].(map[string]any)
	if stop["kind"] != "exit" || stop["exit_status"] != 7.0 {
		t.Errorf("stop %v", stop)
	}
	st := doc["stacks"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "kind", "top", "size", "peak", "static_bound", "bounded", "headroom"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stacks[0] has no %q", k)
		}
	}
	if st["kind"] != "main" || st["size"] != 2048.0 || st["peak"].(float64) <= 0 {
		t.Errorf("stacks[0] %v", st)
	}
}

// TestRunFirmwareBadInput: one line and exit 2 for a Linux program given
// --machine, a firmware that fits no board, an unknown machine, and a
// machine without qemu-system-arm.
func TestRunFirmwareBadInput(t *testing.T) {
	dir := t.TempDir()
	gcc := testutil.RequireTool(t, "gcc")
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
	prog := filepath.Join(dir, "p")
	testutil.Run(t, dir, gcc, "-o", prog, src)
	oneLine := func(name string, want string, args ...string) {
		t.Helper()
		code, _, errOut := capture(t, args...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line with %q", name, code, errOut, want)
		}
	}
	oneLine("linux program", "not ARM firmware", "run", "--machine", "mps2-an385", prog)

	fitsNot := filepath.Join(t.TempDir())
	fw := buildEmuFirmware(t, fitsNot, "0x60000000")
	oneLine("no board", "fits no board stackscope knows", "run", fw)
	oneLine("unknown machine", `unknown machine "vexpress"`, "run", "--machine", "vexpress", fw)

	ok := buildEmuFirmware(t, t.TempDir(), "0x20000000")
	t.Setenv("PATH", t.TempDir())
	oneLine("no qemu", "qemu-system-arm not found: install it (Debian/Ubuntu: apt-get install qemu-system-arm)", "run", ok)
}

// TestRunForeignProgram: a program for another machine is refused with
// one line that says why and what works on it, not the kernel's "exec
// format error", and a foreign ELF file in the current directory is not
// "command not found".
func TestRunForeignProgram(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the foreign machine here is AArch64; this test runs on x86-64")
	}
	cc := testutil.RequireTool(t, "aarch64-linux-gnu-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
	prog := filepath.Join(dir, "p64")
	testutil.Run(t, dir, cc, "-o", prog, src)
	for _, args := range [][]string{{"run", "--", prog}, {"run", prog}} {
		code, _, errOut := capture(t, args...)
		want := "an AArch64 program: run needs a machine that executes it natively (this one is amd64); `stackscope analyze " + prog + "` works on it"
		if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", args, code, errOut, want)
		}
	}
}

// qemuChildren lists the qemu-system-arm processes whose parent is pid.
func qemuChildren(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		s := string(stat)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if strings.HasPrefix(s[i+1:j], "qemu-system-") && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	// A zombie has ended; only its parent's wait is missing.
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// TestRunFirmwareSignals runs the real command on a firmware that spins
// forever: SIGINT ends the run with a report, exit 130 and QEMU gone;
// SIGKILL of stackscope takes QEMU with it (PR_SET_PDEATHSIG).
func TestRunFirmwareSignals(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	fw := buildEmuFirmware(t, dir, "0x20000000", "MODE=2")
	ss := filepath.Join(dir, "stackscope")
	if out, err := exec.Command("go", "build", "-o", ss, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := func() (*exec.Cmd, *strings.Builder, int) {
		t.Helper()
		cmd := exec.Command(ss, "run", "--timeout", "60s", fw)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if q := qemuChildren(cmd.Process.Pid); len(q) == 1 {
				time.Sleep(300 * time.Millisecond) // running, past the paint
				return cmd, &stderr, q[0]
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("no QEMU child within 10 s")
		return nil, nil, 0
	}

	cmd, stderr, qemu := start()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.HasPrefix(stderr.String(), "stackscope: interrupted at main+") {
		t.Errorf("after SIGINT: %v\n%s", err, stderr)
	}
	if alive(qemu) {
		t.Errorf("QEMU %d survives SIGINT", qemu)
		syscall.Kill(qemu, syscall.SIGKILL)
	}

	cmd, _, qemu = start()
	// A killed stackscope cannot remove its private directory (the socket
	// is in it): the test does.
	cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(qemu), "cmdline"))
	for _, a := range strings.Split(string(cmdline), "\x00") {
		if i := strings.Index(a, "path="); i >= 0 && strings.Contains(a, "stackscope-emu-") {
			sock := strings.SplitN(a[i+len("path="):], ",", 2)[0]
			defer os.RemoveAll(filepath.Dir(sock))
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	for i := 0; i < 100 && alive(qemu); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(qemu) {
		t.Errorf("QEMU %d survives SIGKILL of stackscope", qemu)
		syscall.Kill(qemu, syscall.SIGKILL)
	}
}
