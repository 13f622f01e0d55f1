package emu

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// virtPorts are the RISC-V FreeRTOS ports by board, with StackType_t's
// size.
var virtPorts = map[string]struct {
	port string
	word int64
}{"riscv32-virt": {"rv32", 4}, "riscv64-virt": {"rv64", 8}}

// runVirt is run for a RISC-V board: its emulator is required, and no
// QEMU may survive.
func runVirt(t *testing.T, fw, board string, opts Options) (*Result, error) {
	t.Helper()
	requireVirtQEMU(t, board)
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

// requireVirtQEMU requires the emulator of a RISC-V board.
func requireVirtQEMU(t *testing.T, board string) {
	t.Helper()
	if board == "riscv32-virt" {
		testutil.RequireTool(t, "qemu-system-riscv32")
	} else {
		testutil.RequireTool(t, "qemu-system-riscv64")
	}
}

// buildRTOSVirt builds testdata/rtos/app.c for a RISC-V board's port
// (start_riscv.S, board_riscv.ld: QEMU virt's RAM at 0x80000000).
func buildRTOSVirt(t *testing.T, dir, board string, defines ...string) string {
	t.Helper()
	app, _ := filepath.Abs(filepath.Join("testdata", "rtos", "app.c"))
	sub := filepath.Join(dir, board+strings.NewReplacer("=", "", "_", "").Replace(strings.Join(defines, "")))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	defines = append([]string{"INCLUDE_xTaskGetIdleTaskHandle=1"}, defines...)
	return testutil.BuildFreeRTOS(t, sub, testutil.FreeRTOSApp{Port: virtPorts[board].port, App: []string{app}, Defines: defines})
}

// TestRISCVTasksAgreeWithFreeRTOS is TestTasksAgreeWithFreeRTOS on QEMU
// virt, RV32 and RV64 at -O2, the board picked from the ELF: the run ends
// by the firmware's semihosting exit; every task is found by name, with
// its entry, its size from pxEndOfStack and a peak whose headroom is what
// uxTaskGetStackHighWaterMark says from inside the firmware, in words of
// 4 or 8 bytes; every bounded peak (tasks: the analysis's bound with the
// trap context) holds; the main stack is measured within its static
// total; the trap handler's own stack (xISRStack, 256 words) is measured
// within the analysis's need on it.
func TestRISCVTasksAgreeWithFreeRTOS(t *testing.T) {
	for board, p := range virtPorts {
		t.Run(board, func(t *testing.T) {
			fw := buildRTOSVirt(t, t.TempDir(), board, "configRECORD_STACK_HIGH_ADDRESS=1")
			res, err := runVirt(t, fw, board, Options{ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			res.WriteText(&text)
			t.Log(text.String())
			if res.Machine != board {
				t.Errorf("ran on %s, want %s", res.Machine, board)
			}
			if res.Stop.Kind != StopExit || res.ExitStatus() != 0 {
				t.Fatalf("stop %+v exit %d, want a clean exit; output %q", res.Stop, res.ExitStatus(), res.Output)
			}
			hwm := freertosHWM(t, res.Output)
			for _, name := range appTasks {
				s := stackNamed(res, name)
				if s == nil {
					t.Fatalf("task %q not found; stacks %+v", name, res.Stacks)
				}
				if s.Kind != "task" || s.Peak == nil || s.Headroom == nil || s.Entry == "" {
					t.Fatalf("%s: kind %s peak %v entry %q (%s)", name, s.Kind, s.Peak, s.Entry, s.NotMeasured)
				}
				words, ok := hwm[name]
				if !ok {
					t.Fatalf("%s: not in the firmware's HWM line", name)
				}
				if *s.Headroom != p.word*words || *s.Peak+*s.Headroom != s.Size {
					t.Errorf("%s: peak %d headroom %d of %d; FreeRTOS says %d words (%d B) never written", name, *s.Peak, *s.Headroom, s.Size, words, p.word*words)
				}
				if !strings.HasPrefix(s.SizeSource, "pxEndOfStack") || s.Top != s.Limit+uint64(s.Size) {
					t.Errorf("%s: size %d from %q", name, s.Size, s.SizeSource)
				}
				if s.BoundExceeded() {
					t.Errorf("%s: measured %d > static bound %d", name, *s.Peak, *s.StaticBound)
				}
				if s.Overflowed {
					t.Errorf("%s: overflowed", name)
				}
			}
			for _, name := range []string{"producer", "consumer", "worker", "report"} {
				if s := stackNamed(res, name); !s.Bounded || s.StaticContext != 31*p.word {
					t.Errorf("%s: bounded %v, context %d: want a bound with the %d B trap context", name, s.Bounded, s.StaticContext, 31*p.word)
				}
			}
			// The trap handler's own stack: the tick ran on it.
			isr := stackNamed(res, "xISRStack")
			if isr == nil || isr.Kind != "trap" || isr.Peak == nil || *isr.Peak <= 0 || isr.StaticBound == nil || isr.BoundExceeded() || isr.Overflowed || isr.Size != 256*p.word {
				t.Errorf("xISRStack: %+v", isr)
			}
			main := res.Stacks[0]
			if main.Kind != "main" || main.Peak == nil || *main.Peak == 0 || main.StaticBound == nil || main.BoundExceeded() {
				t.Errorf("main stack: %+v", main)
			}
			// The main stack is layout's (the reset code's la sp, the
			// board's __stack_bottom), and only the reset path runs on it
			// (the trap handler switches to xISRStack; traps are off until
			// the scheduler starts): its peak is within the reset path's bound.
			syms := map[string]uint64{}
			ef, err := elf.Open(fw)
			if err != nil {
				t.Fatal(err)
			}
			all, _ := ef.Symbols()
			ef.Close()
			for _, s := range all {
				syms[s.Name] = s.Value
			}
			if main.Top != syms["_stack_top"] || main.Limit != syms["__stack_bottom"] ||
				main.ResetBound == nil || main.Peak != nil && *main.Peak > *main.ResetBound {
				t.Errorf("main stack %#x-%#x, peak %v, reset bound %v: want __stack_bottom %#x to _stack_top %#x, the peak within the reset path's bound",
					main.Limit, main.Top, main.Peak, main.ResetBound, syms["__stack_bottom"], syms["_stack_top"])
			}
		})
	}
}

// TestRISCVTaskOverflow: the worker given fewer bytes than its 600-byte
// chain is reported as that task's overflow, and the run's status is 1.
func TestRISCVTaskOverflow(t *testing.T) {
	for board, p := range virtPorts {
		t.Run(board, func(t *testing.T) {
			words := 400 / p.word
			fw := buildRTOSVirt(t, t.TempDir(), board, "configRECORD_STACK_HIGH_ADDRESS=1", "WORKER_WORDS="+strconv.FormatInt(words, 10))
			res, err := runVirt(t, fw, board, Options{ICount: DefaultICount, Timeout: 15 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			res.WriteText(&text)
			t.Log(text.String())
			w := stackNamed(res, "worker")
			if w == nil || !w.Overflowed || w.Peak == nil || *w.Peak < w.Size || w.Size > 400 {
				t.Fatalf("worker %+v: want an overflow of its %d B; stop %+v", w, 400, res.Stop)
			}
			if res.ExitStatus() != 1 || !strings.Contains(res.Verdict(), "STACK OVERFLOW: the worker stack") {
				t.Errorf("exit %d, verdict %q", res.ExitStatus(), res.Verdict())
			}
		})
	}
}

// buildStuck builds testdata/virt/stuck.S for a RISC-V board, its code at
// text, with -D defines.
func buildStuck(t *testing.T, board, text string, defines ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	src, _ := filepath.Abs(filepath.Join("testdata", "virt", "stuck.S"))
	dir := t.TempDir()
	out := filepath.Join(dir, "stuck.elf")
	args := []string{"-march=rv32imac", "-mabi=ilp32"}
	if board == "riscv64-virt" {
		args = []string{"-march=rv64imac", "-mabi=lp64", "-mcmodel=medany"}
	}
	args = append(args, "-nostdlib", "-nostartfiles", "-Wl,-N", "-Wl,-Ttext="+text, "-o", out, src)
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	testutil.Run(t, dir, cc, args...)
	return out
}

// TestVirtEndlessLoopAndLockup: a program that sits on "j ." is reported
// as an endless loop there, and one whose trap has no handler (mtvec 0)
// as a lockup at the address virt has no memory at, within seconds, not
// at the timeout; QEMU is gone after each.
func TestVirtEndlessLoopAndLockup(t *testing.T) {
	for board := range virtPorts {
		t.Run(board, func(t *testing.T) {
			start := time.Now()
			res, err := runVirt(t, buildStuck(t, board, "0x80000000"), board, Options{ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop.Kind != StopLoop || !strings.HasPrefix(res.Stop.Where, "_start+") {
				t.Errorf("loop: stop %+v: want an endless loop in _start", res.Stop)
			}
			res, err = runVirt(t, buildStuck(t, board, "0x80000000", "TRAP"), board, Options{ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop.Kind != StopLockup || res.Stop.PC != 0 || !strings.Contains(res.Stop.Detail, "no memory") || res.ExitStatus() != 1 || len(res.Stop.X) != 32 {
				t.Errorf("trap: stop %+v, exit %d: want a lockup at 0 with the registers", res.Stop, res.ExitStatus())
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestVirtBadInput: what no RISC-V board runs is one line naming the
// file: a RISC-V Linux program (dynamic: its interpreter; static: its
// segments where virt has no RAM), an image linked at 0x40000000, an
// RV64 image forced onto the RV32 board; inject refuses RISC-V firmware.
// No QEMU is started for any of them.
func TestVirtBadInput(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-linux-gnu-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644)
	dyn, static := filepath.Join(dir, "dyn"), filepath.Join(dir, "static")
	testutil.Run(t, dir, cc, "-o", dyn, src)
	testutil.Run(t, dir, cc, "-static", "-o", static, src)
	low := buildStuck(t, "riscv32-virt", "0x40000000")
	rv64 := buildStuck(t, "riscv64-virt", "0x80000000")
	for _, c := range []struct {
		name, fw, machine, want string
	}{
		{"dynamic Linux", dyn, "", "a RISC-V program with a program interpreter (a Linux executable), not bare-metal firmware"},
		{"static Linux", static, "", "fits no board stackscope knows"},
		{"no RAM", low, "", "riscv32-virt: segment loaded at 0x40000000"},
		{"wrong XLEN", rv64, "riscv32-virt", "an RV64 image, the board runs RV32"},
	} {
		started := false
		_, err := RunFirmware(context.Background(), c.fw, Options{Machine: c.machine, Started: func(*Machine) { started = true }})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), c.fw+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming the file with %q", c.name, err, c.want)
		}
		if started {
			t.Errorf("%s: QEMU was started", c.name)
		}
	}
	_, err := Inject(context.Background(), rv64, InjectOptions{Stack: 1024})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "inject runs Cortex-M firmware only") {
		t.Errorf("inject: %v", err)
	}
}

// cortexBoards are the Cortex-M boards (the tests built on startup.c and
// Thumb code run on these).
func cortexBoards() []Board {
	var out []Board
	for _, b := range Boards {
		if !b.RISCV() {
			out = append(out, b)
		}
	}
	return out
}

// TestVirtMemories: the RAM the virt boards list is there, through the
// stub: both ends written and read back.
func TestVirtMemories(t *testing.T) {
	for board := range virtPorts {
		t.Run(board, func(t *testing.T) {
			requireVirtQEMU(t, board)
			b, err := BoardByName(board)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Start(Config{Firmware: buildStuck(t, board, "0x80000000"), Board: b, ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			pid, dir := m.PID(), m.Dir()
			defer func() {
				m.Close()
				assertGone(t, pid, dir)
			}()
			for _, r := range b.RAM {
				for _, a := range []uint64{r.Start, r.End - 4} {
					want := []byte{0x5a, 0xa5, byte(a), byte(a >> 8)}
					if err := m.WriteMemory(a, want); err != nil {
						t.Errorf("RAM %#x-%#x: %v", r.Start, r.End, err)
						continue
					}
					if got, err := m.ReadMemory(a, 4); err != nil || string(got) != string(want) {
						t.Errorf("RAM at %#x: wrote %x, read %x (%v)", a, want, got, err)
					}
				}
			}
			regs, err := m.Registers()
			if err != nil || !regs.RISCV || regs.PC() != 0x1000 {
				t.Errorf("registers at reset %+v (%v): want pc in virt's reset ROM, 0x1000", regs, err)
			}
		})
	}
}

// TestRISCVTaskSizesWithoutEndOfStack: without
// configRECORD_STACK_HIGH_ADDRESS the sizes come from the static thread
// model (depth x 4 or 8), and the headrooms still agree with
// uxTaskGetStackHighWaterMark.
func TestRISCVTaskSizesWithoutEndOfStack(t *testing.T) {
	for board, p := range virtPorts {
		t.Run(board, func(t *testing.T) {
			fw := buildRTOSVirt(t, t.TempDir(), board)
			res, err := runVirt(t, fw, board, Options{ICount: DefaultICount})
			if err != nil {
				t.Fatal(err)
			}
			hwm := freertosHWM(t, res.Output)
			want := map[string]int64{"producer": 160, "consumer": 180, "worker": 300, "report": 256, "IDLE": 128, "Tmr Svc": 256}
			for name, words := range want {
				s := stackNamed(res, name)
				if s == nil || s.Peak == nil {
					t.Fatalf("%s: %+v", name, s)
				}
				if s.Size != words*p.word || !strings.HasPrefix(s.SizeSource, "the static thread model") {
					t.Errorf("%s: size %d from %q, want %d from the thread model", name, s.Size, s.SizeSource, words*p.word)
				}
				if *s.Headroom != p.word*hwm[name] {
					t.Errorf("%s: headroom %d, FreeRTOS says %d words", name, *s.Headroom, hwm[name])
				}
			}
		})
	}
}
