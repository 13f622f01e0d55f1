package emu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/ldscript"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildInjectFirmware compiles testdata/inject's startup.c, app.c and
// hardfault_<handler>.c for mps2-an385 with the linker script <ld>.ld.
func buildInjectFirmware(t *testing.T, dir, ld, handler string, extra ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "inject"))
	out := filepath.Join(dir, ld+"-"+handler+".elf")
	cpu := "-mcpu=cortex-m3"
	if len(extra) > 0 {
		cpu, extra = extra[0], extra[1:]
	}
	args := append([]string{cpu, "-mthumb", "-O2", "-g", "-ffreestanding", "-nostdlib", "-nostartfiles",
		"-T", filepath.Join(td, ld+".ld"), "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "app.c"), filepath.Join(td, "hardfault_"+handler+".c")}, extra...)
	testutil.Run(t, dir, cc, args...)
	return out
}

func injectMemory(t *testing.T, ld string) *layout.MemoryMap {
	t.Helper()
	regions, err := ldscript.ParseFile(filepath.Join("testdata", "inject", ld+".ld"))
	if err != nil {
		t.Fatal(err)
	}
	return &layout.MemoryMap{From: ld + ".ld", Regions: regions}
}

// nearestBelow is the data object that arm-none-eabi-nm lists nearest
// below addr (the one an overflow reaches first).
func nearestBelow(t *testing.T, elfPath string, addr uint64) string {
	t.Helper()
	nm := testutil.RequireTool(t, "arm-none-eabi-nm")
	out := testutil.Run(t, filepath.Dir(elfPath), nm, "-S", "--defined-only", elfPath)
	type obj struct {
		name string
		end  uint64
	}
	var objs []obj
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || !strings.ContainsAny(f[2], "bBdD") {
			continue
		}
		a, _ := strconv.ParseUint(f[0], 16, 64)
		s, _ := strconv.ParseUint(f[1], 16, 64)
		if a+s <= addr {
			objs = append(objs, obj{f[3], a + s})
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].end > objs[j].end })
	if len(objs) == 0 {
		return ""
	}
	return objs[0].name
}

func inject(t *testing.T, fw string, opts InjectOptions) (*Injection, error) {
	t.Helper()
	testutil.RequireTool(t, "qemu-system-arm")
	var pid int
	var dir string
	opts.Started = func(m *Machine) { pid, dir = m.PID(), m.Dir() }
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	// QEMU 7.2 aborts ("Raised interrupt while not in I/O function")
	// when a watchpoint hits under -icount.
	opts.ICount = -1
	r, err := Inject(context.Background(), fw, opts)
	if pid != 0 {
		assertGone(t, pid, dir)
	}
	return r, err
}

// TestInjectPlacements: the three placements of the main stack times the
// three HardFault handlers, with the overflow fired at work's entry (SP
// moved 8 bytes above the limit: work's 64-byte frame goes below it).
// Below RAM's start the MPU guard faults (DACCVIOL on work's store,
// MSTKERR on the exception frame, escalated: FORCED); the C handler's
// push then faults inside HardFault (lockup), the naked one resets SP and
// exits through semihosting (contained), the loop hangs. Above .bss
// nothing faults: the gap is written silently (undetected), the stack
// right after .bss corrupts its last object, whatever the handler.
func TestInjectPlacements(t *testing.T) {
	cases := []struct {
		ld, handler string
		verdict     string
		guard       string
		fault       bool
	}{
		{"start", "c", VerdictLockup, GuardMPU, true},
		{"start", "naked", VerdictContained, GuardMPU, true},
		{"start", "loop", VerdictHang, GuardMPU, true},
		{"gap", "c", VerdictUndetected, GuardMPU, false},
		{"gap", "naked", VerdictUndetected, GuardMPU, false},
		{"gap", "loop", VerdictUndetected, GuardMPU, false},
		{"after_bss", "c", VerdictSilent, GuardMPU, false},
		{"after_bss", "naked", VerdictSilent, GuardMPU, false},
		{"after_bss", "loop", VerdictSilent, GuardMPU, false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.ld+"-"+c.handler, func(t *testing.T) {
			fw := buildInjectFirmware(t, dir, c.ld, c.handler)
			r, err := inject(t, fw, InjectOptions{At: "work", Machine: "mps2-an385", Memory: injectMemory(t, c.ld)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != c.verdict {
				t.Errorf("verdict %s (handler %s: %s), want %s", r.Verdict, r.Handler, r.HandlerDetail, c.verdict)
			}
			if r.Guard.Mechanism != c.guard {
				t.Errorf("guard %s, want %s", r.Guard.Mechanism, c.guard)
			}
			if r.Disagree != "" {
				t.Errorf("run and layout disagree: %s", r.Disagree)
			}
			if !c.fault {
				if r.Fault != nil {
					t.Errorf("fault %+v, want none", r.Fault)
				}
				// The program ran on to its own exit, with SP put back
				// when work returned.
				if r.Handler != "exit" || !r.Restored {
					t.Errorf("handler %s (%s), restored %v: want the firmware's own exit after work returned", r.Handler, r.HandlerDetail, r.Restored)
				}
				if len(r.Writes) == 0 {
					t.Fatal("no write below the limit recorded")
				}
				first := r.Writes[0]
				if first.Addr >= r.StackLimit || first.SP > r.StackLimit+AtSlack || !strings.HasPrefix(first.Where, "work") {
					t.Errorf("first write %+v: want work's store below the limit %#x", first, r.StackLimit)
				}
				// The backtrace crosses the moved SP back into main's
				// frame (from .debug_frame), up to the reset handler.
				bt := strings.Join(first.Backtrace, "\n")
				if !strings.Contains(bt, "called from main+") || !strings.Contains(bt, "called from Reset_Handler+") {
					t.Errorf("first write's backtrace:\n%s", bt)
				}
				if c.ld == "after_bss" {
					// The first named object (alignment padding below the
					// limit may come first, named by its section).
					want, got := nearestBelow(t, fw, r.StackLimit), ""
					for _, c := range r.Corrupted {
						if !strings.HasPrefix(c, "(") {
							got = c
							break
						}
					}
					if got != want {
						t.Errorf("first corrupted object %q, want %q (nearest below the limit by nm); all %v", got, want, r.Corrupted)
					}
				} else if r.Corrupted[0] != "(unused RAM)" {
					t.Errorf("first corrupted %q, want (unused RAM)", r.Corrupted[0])
				}
				return
			}
			if r.Fault == nil {
				t.Fatalf("no fault taken (handler %s: %s)", r.Handler, r.HandlerDetail)
			}
			fs := r.Fault.Status
			want := []string{"DACCVIOL", "MSTKERR", "MMARVALID", "FORCED"}
			for _, b := range want {
				if !strings.Contains(" "+strings.Join(fs.Bits, " ")+" ", " "+b+" ") {
					t.Errorf("fault status %s lacks %s", fs, b)
				}
			}
			// work fills its 64-byte frame from the top down from SP
			// limit+8-64: buf[13], at limit-4, is its first store below.
			if wantFar := uint32(r.StackLimit - 4); fs.MMFAR != wantFar {
				t.Errorf("MMFAR %#x, want %#x (work's first store)", fs.MMFAR, wantFar)
			}
			if len(r.Writes) != 0 {
				t.Errorf("writes below the guarded limit: %+v", r.Writes)
			}
			if c.handler == "c" && !strings.Contains(r.LockupInstr, "push") {
				t.Errorf("lockup instruction %q, want the handler's push", r.LockupInstr)
			}
		})
	}
}

// TestInjectBadInput: one line each, and no QEMU left.
func TestInjectBadInput(t *testing.T) {
	dir := t.TempDir()
	fw := buildInjectFirmware(t, dir, "after_bss", "naked")
	for _, c := range []struct {
		opts InjectOptions
		want string
	}{
		{InjectOptions{Stack: 64 << 20}, "larger than the RAM"},
		{InjectOptions{At: "no_such_function"}, `no function named "no_such_function"`},
		{InjectOptions{At: "HardFault_Handler"}, "never reached"},
		{InjectOptions{}, "give one of"},
	} {
		_, err := inject(t, fw, c.opts)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %v, want one line with %q", c.opts, err, c.want)
		}
	}
}

// TestInjectStackSize: --stack lowers the initial SP. At the image's own
// size nothing is written below the limit (the program needs far less);
// at 32 bytes the deepest call (work's 64-byte frame) overflows: off the
// start of RAM it faults and the naked handler contains it; above .bss
// it corrupts the object nearest below the limit and the program runs on.
func TestInjectStackSize(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		ld, handler string
		stack       int64
		verdict     string
	}{
		{"start", "naked", 1024, VerdictNoOverflow},
		{"start", "naked", 32, VerdictContained},
		{"after_bss", "c", 32, VerdictSilent},
	} {
		t.Run(c.ld+"-"+c.handler+"-"+strconv.FormatInt(c.stack, 10), func(t *testing.T) {
			fw := buildInjectFirmware(t, dir, c.ld, c.handler)
			r, err := inject(t, fw, InjectOptions{Stack: c.stack, Machine: "mps2-an385", Memory: injectMemory(t, c.ld)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != c.verdict {
				t.Fatalf("verdict %s (%s: %s), want %s", r.Verdict, r.Handler, r.HandlerDetail, c.verdict)
			}
			if r.FiredSP != r.StackLimit+uint64(c.stack) {
				t.Errorf("initial SP %#x, want limit %#x + %d", r.FiredSP, r.StackLimit, c.stack)
			}
			switch c.verdict {
			case VerdictNoOverflow:
				if r.Handler != "exit" || len(r.Writes) != 0 || r.Fault != nil {
					t.Errorf("full-size run: %s (%s), %d writes, fault %v", r.Handler, r.HandlerDetail, len(r.Writes), r.Fault)
				}
			case VerdictContained:
				if r.Fault == nil || !strings.Contains(r.Fault.Status.String(), "MSTKERR") {
					t.Errorf("fault %+v, want a stacking MemManage escalated to HardFault", r.Fault)
				}
			case VerdictSilent:
				if want := nearestBelow(t, fw, r.StackLimit); r.named()[0] != want {
					t.Errorf("first named object %q, want %q; all %v", r.named()[0], want, r.Corrupted)
				}
			}
		})
	}
}

// TestInjectMSPLIM: on mps2-an505 (Cortex-M33) with the startup code
// setting MSPLIM to the limit, the overflow at work's entry is caught by
// the core's own check: a UsageFault STKOF (escalated to HardFault, as
// UsageFault is not enabled) on work's SP decrement, before any store
// below the limit. stackscope adds no guard of its own. The exception
// entry that follows violates the limit too, and the core leaves SP at
// the limit (ARMv8-M: stacking stops there), so the naked handler's
// "SP below the limit?" check, written for ARMv7-M, says no: it calls C
// on the exhausted stack and the core locks up. layout, which sees an SP
// check before any stack use, predicted CONTAINED: the run says where.
func TestInjectMSPLIM(t *testing.T) {
	dir := t.TempDir()
	fw := buildInjectFirmware(t, dir, "an505", "naked", "-mcpu=cortex-m33", "-mfloat-abi=soft", "-DSET_MSPLIM")
	r, err := inject(t, fw, InjectOptions{At: "work", Machine: "mps2-an505", Memory: injectMemory(t, "an505")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Guard.Mechanism != GuardMSPLIM {
		t.Errorf("guard %s, want msplim", r.Guard.Mechanism)
	}
	if r.Fault == nil {
		t.Fatalf("no fault taken (%s: %s), writes %+v", r.Handler, r.HandlerDetail, r.Writes)
	}
	bits := " " + strings.Join(r.Fault.Status.Bits, " ") + " "
	if !strings.Contains(bits, " STKOF ") || !strings.Contains(bits, " FORCED ") {
		t.Errorf("fault status %s, want STKOF escalated (FORCED)", r.Fault.Status)
	}
	if len(r.Writes) != 0 {
		t.Errorf("writes below the limit before the fault: %+v", r.Writes)
	}
	if r.Fault.SP != r.StackLimit {
		t.Errorf("SP at the handler %#x, want the limit %#x", r.Fault.SP, r.StackLimit)
	}
	if r.Verdict != VerdictLockup || !strings.Contains(r.HandlerDetail, "report_overflow") {
		t.Errorf("verdict %s (%s: %s), want LOCKUP in report_overflow", r.Verdict, r.Handler, r.HandlerDetail)
	}
	if r.Predicted != VerdictContained || r.Disagree == "" {
		t.Errorf("prediction %s, disagreement %q: want CONTAINED, and the disagreement said", r.Predicted, r.Disagree)
	}
}

// TestInjectEndings: a handler that requests a system reset through
// AIRCR without touching the stack is contained (the core restarts at the
// reset handler); --safe names a function whose entry is a safe end; and
// startup code that loads SP itself is refused for --stack (every size
// would look enough) with one line.
func TestInjectEndings(t *testing.T) {
	dir := t.TempDir()
	fw := buildInjectFirmware(t, dir, "start", "reset")
	r, err := inject(t, fw, InjectOptions{At: "work", Machine: "mps2-an385", Memory: injectMemory(t, "start")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictContained || !strings.Contains(r.HandlerDetail, "system reset") || r.Fault == nil {
		t.Errorf("reset handler: %s (%s: %s), fault %v", r.Verdict, r.Handler, r.HandlerDetail, r.Fault)
	}
	if r.Predicted != VerdictContained {
		t.Errorf("layout's prediction %s, want CONTAINED", r.Predicted)
	}

	naked := buildInjectFirmware(t, dir, "start", "naked")
	r, err = inject(t, naked, InjectOptions{At: "work", Safe: "report_overflow", Machine: "mps2-an385", Memory: injectMemory(t, "start")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictContained || r.HandlerDetail != "report_overflow reached (--safe)" {
		t.Errorf("--safe: %s (%s: %s)", r.Verdict, r.Handler, r.HandlerDetail)
	}

	reload := filepath.Join(t.TempDir(), "reload")
	os.MkdirAll(reload, 0o755)
	fw = buildInjectFirmware(t, reload, "start", "naked", "-mcpu=cortex-m3", "-DRELOAD_SP")
	for _, armAtReset := range []bool{false, true} {
		_, err = inject(t, fw, InjectOptions{Stack: 64, ArmAtReset: armAtReset, Machine: "mps2-an385", Memory: injectMemory(t, "start")})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the startup code loads SP itself") {
			t.Errorf("reloading startup, arm at reset %v: %v", armAtReset, err)
		}
	}
}
