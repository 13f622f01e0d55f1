package emu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// cpuFlags are the compiler flags of each board's core.
var cpuFlags = map[string][]string{
	"mps2-an385":    {"-mcpu=cortex-m3"},
	"mps2-an386":    {"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"},
	"mps2-an505":    {"-mcpu=cortex-m33", "-mfloat-abi=soft"},
	"netduinoplus2": {"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"},
	"lm3s6965evb":   {"-mcpu=cortex-m3"},
	"microbit":      {"-mcpu=cortex-m0"},
}

// buildFirmware compiles testdata/startup.c and app.c for a board (its
// first flash and RAM ranges in the linker script, from the board table:
// TestBoardMemories checks those against QEMU) with -D defines, into dir.
func buildFirmware(t *testing.T, dir, board string, defines ...string) string {
	t.Helper()
	b, err := BoardByName(board)
	if err != nil {
		t.Fatal(err)
	}
	return buildFor(t, dir, board, b.Flash[0], b.RAM[0], defines...)
}

func buildFor(t *testing.T, dir, board string, flash, ram Range, defines ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("testdata")
	tmpl, err := os.ReadFile(filepath.Join(td, "link.ld.in"))
	if err != nil {
		t.Fatal(err)
	}
	ld := strings.NewReplacer("FLASH_ORIGIN", fmt.Sprintf("%#x", flash.Start), "FLASH_LENGTH", fmt.Sprintf("%#x", flash.End-flash.Start),
		"RAM_ORIGIN", fmt.Sprintf("%#x", ram.Start), "RAM_LENGTH", fmt.Sprintf("%#x", ram.End-ram.Start)).Replace(string(tmpl))
	name := board + strings.NewReplacer("=", "", ",", "", "-", "").Replace(strings.Join(defines, "_"))
	ldPath := filepath.Join(dir, name+".ld")
	if err := os.WriteFile(ldPath, []byte(ld), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".elf")
	args := append([]string{"-mthumb", "-O2", "-g", "-fno-tree-loop-distribute-patterns", "-ffreestanding", "-nostdlib", "-nostartfiles",
		"-T", ldPath, "-o", out, filepath.Join(td, "startup.c"), filepath.Join(td, "app.c")}, cpuFlags[board]...)
	for _, d := range defines {
		if strings.HasPrefix(d, "-") {
			args = append(args, d)
			continue
		}
		args = append(args, "-D"+d)
	}
	testutil.Run(t, dir, cc, args...)
	return out
}

// run runs fw in QEMU and checks that QEMU and its private directory are
// gone afterwards, whatever the outcome.
func run(t *testing.T, fw string, opts Options) (*Result, error) {
	t.Helper()
	testutil.RequireTool(t, "qemu-system-arm")
	var pid int
	var dir string
	opts.Started = func(m *Machine) { pid, dir = m.PID(), m.Dir() }
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	res, err := RunFirmware(context.Background(), fw, opts)
	if pid != 0 {
		assertGone(t, pid, dir)
	}
	return res, err
}

// assertGone fails when a QEMU this test started survives: the process
// itself, any process whose parent is the test, or any whose command line
// names the run's private directory.
func assertGone(t *testing.T, pid int, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the private directory %s is still there", dir)
	}
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		// stat: pid (comm) state ppid ...
		ppid := ""
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 {
			if f := strings.Fields(string(stat)[i+1:]); len(f) > 1 {
				ppid = f[1]
			}
		}
		isQEMU := strings.Contains(string(cmdline), "qemu-system-")
		if e.Name() == strconv.Itoa(pid) && isQEMU ||
			isQEMU && ppid == self ||
			strings.Contains(string(cmdline), dir) {
			t.Errorf("QEMU survives the run: pid %s (%s)", e.Name(), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}

// TestRunOnBoards: on every board, the deep path runs to its semihosting
// exit; the measured main-stack peak is within the static total, and
// equals the reset path's static bound (the code forces the worst path
// and fills every frame to its deepest word). The total adds the
// HardFault and default handlers' levels with their exception frames,
// which never run here.
func TestRunOnBoards(t *testing.T) {
	for _, b := range cortexBoards() {
		t.Run(b.Name, func(t *testing.T) {
			dir := t.TempDir()
			fw := buildFirmware(t, dir, b.Name)
			res, err := run(t, fw, Options{Machine: b.Name, ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop.Kind != StopExit || res.Stop.ExitStatus == nil || *res.Stop.ExitStatus != 0 {
				t.Fatalf("stop %+v, want a semihosting exit with status 0 (output %q)", res.Stop, res.Output)
			}
			s := res.Stacks[0]
			if s.Peak == nil {
				t.Fatalf("main stack not measured: %s", s.NotMeasured)
			}
			if s.StaticBound == nil || s.ResetBound == nil {
				t.Fatalf("main stack not bounded statically: %+v", s)
			}
			t.Logf("%s: peak %d, reset bound %d, total %d", b.Name, *s.Peak, *s.ResetBound, *s.StaticBound)
			if *s.Peak > *s.StaticBound || s.BoundExceeded() {
				t.Errorf("measured %d B > static total %d B", *s.Peak, *s.StaticBound)
			}
			if *s.Peak != *s.ResetBound {
				t.Errorf("measured %d B, reset path's static bound %d B: the test forces the worst path, they should agree", *s.Peak, *s.ResetBound)
			}
			if s.Overflowed || res.ExitStatus() != 0 {
				t.Errorf("overflowed %v, exit status %d", s.Overflowed, res.ExitStatus())
			}
		})
	}
}

// TestBoardMemories checks the board table against QEMU: the first and
// last word of every flash and RAM range can be read through the stub,
// and RAM's can be written.
func TestBoardMemories(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	for _, b := range cortexBoards() {
		t.Run(b.Name, func(t *testing.T) {
			dir := t.TempDir()
			fw := buildFirmware(t, dir, b.Name)
			m, err := Start(Config{Firmware: fw, Board: &b, ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for _, r := range b.Flash {
				for _, a := range []uint64{r.Start, r.End - 4} {
					if _, err := m.ReadMemory(a, 4); err != nil {
						t.Errorf("flash %#x-%#x: %v", r.Start, r.End, err)
					}
				}
			}
			for _, r := range b.RAM {
				for _, a := range []uint64{r.Start, r.End - 4} {
					want := []byte{0x5a, 0xa5, byte(a), byte(a >> 8)}
					if err := m.WriteMemory(a, want); err != nil {
						t.Errorf("RAM %#x-%#x: %v", r.Start, r.End, err)
						continue
					}
					got, err := m.ReadMemory(a, 4)
					if err != nil || string(got) != string(want) {
						t.Errorf("RAM at %#x: wrote %x, read %x (%v)", a, want, got, err)
					}
				}
			}
		})
	}
}

// TestExitStatusAndRepeatable: the firmware's semihosting status is the
// run's, and two runs measure the same peak.
func TestExitStatusAndRepeatable(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "EXIT_CODE=7")
	var peaks []int64
	for i := 0; i < 2; i++ {
		res, err := run(t, fw, Options{ICount: DefaultICount})
		if err != nil {
			t.Fatal(err)
		}
		if res.Machine != "mps2-an385" {
			t.Errorf("picked %s, want mps2-an385 (the first board that fits)", res.Machine)
		}
		if res.ExitStatus() != 7 {
			t.Fatalf("exit status %d, want the firmware's 7 (stop %+v)", res.ExitStatus(), res.Stop)
		}
		peaks = append(peaks, *res.Stacks[0].Peak)
	}
	if peaks[0] != peaks[1] {
		t.Errorf("two runs measured %d and %d", peaks[0], peaks[1])
	}
}

// TestUntil: --until stops at the function's entry, before its frame:
// the peak is then the depth of its callers, less than the full run's.
func TestUntil(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385")
	full, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, fw, Options{ICount: DefaultICount, Until: "leaf"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop.Kind != "until" || !strings.HasPrefix(res.Stop.Where, "leaf+0x0") {
		t.Fatalf("stop %+v, want until at leaf", res.Stop)
	}
	p, f := res.Stacks[0].Peak, full.Stacks[0].Peak
	if p == nil || *p <= 0 || *p >= *f {
		t.Fatalf("peak at leaf %v, full run %d: want 0 < it < full", p, *f)
	}
	if _, err := run(t, fw, Options{Until: "no_such_function"}); err == nil {
		t.Fatal("--until of a missing function: no error")
	}
}

// TestEndlessLoop: a branch to itself ends the run, and says where.
func TestEndlessLoop(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "MODE=1")
	res, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop.Kind != StopLoop || !strings.HasPrefix(res.Stop.Where, "main+") {
		t.Fatalf("stop %+v, want an endless loop in main", res.Stop)
	}
	if res.Stacks[0].Peak == nil || *res.Stacks[0].Peak != *res.Stacks[0].ResetBound {
		t.Errorf("peak %v after the deep path, want the reset bound %d", res.Stacks[0].Peak, *res.Stacks[0].ResetBound)
	}
}

// TestTimeout: a loop that is not a branch to itself runs until the
// wall-clock limit; the run reports where it was, and no QEMU is left.
func TestTimeout(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "MODE=2")
	start := time.Now()
	res, err := run(t, fw, Options{ICount: DefaultICount, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a 2 s timeout took %v", d)
	}
	if res.Stop.Kind != StopTimeout || !strings.HasPrefix(res.Stop.Where, "main+") {
		t.Fatalf("stop %+v, want a timeout in main", res.Stop)
	}
	if res.Stacks[0].Peak == nil {
		t.Fatal("no peak after a timeout")
	}
}

// TestCancel: the context ending (Ctrl-C) stops the run with a report.
func TestCancel(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "MODE=2")
	ctx, cancel := context.WithCancelCause(context.Background())
	var pid int
	var mdir string
	go func() { time.Sleep(time.Second); cancel(errors.New("interrupt signal")) }()
	res, err := RunFirmware(ctx, fw, Options{ICount: DefaultICount, Timeout: time.Minute, Started: func(m *Machine) { pid, mdir = m.PID(), m.Dir() }})
	if err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid, mdir)
	if res.Stop.Kind != StopCancelled || res.Stacks[0].Peak == nil {
		t.Fatalf("stop %+v, peak %v", res.Stop, res.Stacks[0].Peak)
	}
}

// TestFaultInFirstInstruction: the reset handler's first instruction is
// undefined; the fault escalates to HardFault, whose handler is a branch
// to itself: the run stops there and names the faulting instruction.
func TestFaultInFirstInstruction(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "FAULT_FIRST")
	res, err := run(t, fw, Options{ICount: DefaultICount, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop.Kind != "hardfault" || !strings.Contains(res.Stop.Detail, "(Reset_Handler+0x0)") {
		t.Fatalf("stop %+v, want a HardFault at Reset_Handler+0x0", res.Stop)
	}
	if res.ExitStatus() != 1 {
		t.Errorf("exit status %d after a HardFault, want 1", res.ExitStatus())
	}
}

// TestLockup: a fault in the first instruction, and a HardFault vector
// into unmapped memory: the core locks up;
// QEMU 7.2 ends with "Lockup" and its registers: the run says so, and the
// stack is "not measured", never a number.
func TestLockup(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "FAULT_FIRST", "BAD_HARDFAULT")
	res, err := run(t, fw, Options{ICount: DefaultICount, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop.Kind != StopLockup || !strings.Contains(res.Stop.Detail, "Lockup") {
		t.Fatalf("stop %+v, want a lockup", res.Stop)
	}
	if res.ExitStatus() != 1 {
		t.Errorf("exit status %d after a lockup, want 1", res.ExitStatus())
	}
	if res.Stop.Registers == nil {
		t.Errorf("no registers: want QEMU's dump")
	}
	if s := res.Stacks[0]; s.Peak != nil || s.NotMeasured == "" {
		t.Errorf("peak %v after a lockup, want not measured", s.Peak)
	}
}

// TestNoBoardFits: RAM at 0x60000000 fits no board; the error names every
// board and why.
func TestNoBoardFits(t *testing.T) {
	dir := t.TempDir()
	fw := buildFor(t, dir, "mps2-an385", Range{0, 256 << 10}, Range{0x60000000, 0x60010000})
	_, err := run(t, fw, Options{})
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want an InputError", err)
	}
	for _, b := range Boards {
		if b.RISCV() {
			continue // an Arm image: the RISC-V boards are not tried
		}
		if !strings.Contains(err.Error(), b.Name+": ") {
			t.Errorf("%q does not say why %s does not fit", err, b.Name)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("more than one line: %q", err)
	}
}

// TestPickBoard: the board follows the image's core and memory.
func TestPickBoard(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ built, want string }{
		{"mps2-an386", "mps2-an386"}, // hard float: not the M3
		{"mps2-an505", "mps2-an505"}, // vector table at 0x10000000
		{"netduinoplus2", "netduinoplus2"},
		{"microbit", "mps2-an385"}, // v6-M code fits the first board
	} {
		fw := buildFirmware(t, dir, c.built)
		res, err := run(t, fw, Options{ICount: DefaultICount})
		if err != nil {
			t.Fatal(err)
		}
		if res.Machine != c.want || res.ExitStatus() != 0 {
			t.Errorf("built for %s: ran on %s with exit %d, want %s and 0", c.built, res.Machine, res.ExitStatus(), c.want)
		}
	}
}

// TestNotFirmware: a Linux program is refused in one line.
func TestNotFirmware(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
	prog := filepath.Join(dir, "p")
	testutil.Run(t, dir, cc, "-o", prog, src)
	_, err := RunFirmware(context.Background(), prog, Options{Machine: "mps2-an385"})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "not ARM firmware") {
		t.Fatalf("error %v, want an InputError saying it is not ARM firmware", err)
	}
}

// TestOverflow: a 256-byte stack under a 544-byte path: the word at the
// limit changes, the stack is reported overflowed (never a peak below its
// size), and the run's status is 1.
func TestOverflow(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "-Wl,--defsym=STACK_SIZE=0x100")
	res, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Stacks[0]
	if s.Size != 256 || !s.Overflowed || s.Peak == nil || *s.Peak < s.Size {
		t.Fatalf("size %d overflowed %v peak %v: want 256, true, at least the size", s.Size, s.Overflowed, s.Peak)
	}
	if res.ExitStatus() != 1 || !strings.HasPrefix(res.Verdict(), "STACK OVERFLOW: the main stack") {
		t.Fatalf("exit %d, verdict %q", res.ExitStatus(), res.Verdict())
	}
}

// TestStackInBSS: a main stack that is an array in .bss is zeroed by the
// reset handler after the paint. Without painting it again every word
// would look used (a false overflow); painted again at main, the peak is
// measured from the top as before, within the reset path's bound.
func TestStackInBSS(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, "mps2-an385", "STACK_IN_BSS")
	res, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Stacks[0]
	if s.Peak == nil || s.Overflowed || s.PaintedAt != "main" || res.ExitStatus() != 0 {
		t.Fatalf("stack %+v, exit %d: want measured from main, no overflow", s, res.ExitStatus())
	}
	if *s.Peak <= 0 || *s.Peak > *s.ResetBound {
		t.Fatalf("peak %d, reset bound %d", *s.Peak, *s.ResetBound)
	}
	t.Logf("peak painted from main %d, reset bound %d", *s.Peak, *s.ResetBound)
}
