package analysis

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildThreads compiles testdata/threads/src for x86-64 with -fstack-usage.
func buildThreads(t *testing.T, dir, src string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "gcc")
	abs, _ := filepath.Abs(filepath.Join("testdata", "threads", src))
	out := filepath.Join(dir, strings.TrimSuffix(src, ".c"))
	// -z now: no lazy binding, whose resolver's frame depends on the CPU
	// (TestX86LazyBinding); the thread bounds can then be numbers.
	testutil.Run(t, dir, cc, append([]string{"-fstack-usage", "-pthread", "-Wl,-z,now", "-o", out, abs}, flags...)...)
	return out
}

func threadFor(t *testing.T, res *Result, entry string) Thread {
	t.Helper()
	for _, th := range res.Threads {
		if th.Entry == entry {
			return th
		}
	}
	t.Fatalf("no thread with entry %s in %+v", entry, res.Threads)
	return Thread{}
}

// TestThreadCloneOverflow: clone(child_run, malloc(8192) + 8192, ...) where
// child_run recurses and calls printf. Its bound is unknown (recursion),
// but a chain of calls the code names, through printf's internals, already
// needs more than 8 KiB: a definite overflow.
func TestThreadCloneOverflow(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, "clone.c", opt)
			res, err := Run(bin, Options{})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := suFrames(testutil.ParseSU(t, dir))
			th := threadFor(t, res, "child_run")
			if !strings.Contains(th.Creator, "clone") || th.CreatedBy != "main" {
				t.Errorf("creator %q in %q, want clone in main", th.Creator, th.CreatedBy)
			}
			if th.StackSize == nil || *th.StackSize != 8192 || !strings.Contains(th.SizeSource, "malloc(8192) + 8192") {
				t.Fatalf("stack %v from %q, want 8192 from malloc(8192) + 8192", show(th.StackSize), th.SizeSource)
			}
			if th.Bound != nil {
				t.Errorf("bound %d: child_run recurses, it has none", *th.Bound)
			}
			if th.Status != "overflow" || th.Over != th.AtLeast-8192 || !strings.Contains(th.Verdict, "at least") {
				t.Fatalf("status %q verdict %q over %d at_least %d; want a definite overflow by at least at_least-8192",
					th.Status, th.Verdict, th.Over, th.AtLeast)
			}
			// The overflow is not child_run's own frame: it takes printf.
			own := su["child_run"]
			if own == 0 || own >= 8192 {
				t.Fatalf("child_run's .su frame is %d; the fixture needs it below 8192", own)
			}
			if len(th.Path) < 3 || th.Path[0] != "child_run" || !strings.HasPrefix(th.Path[1], "printf") {
				t.Fatalf("path %v: want child_run -> printf -> printf's internals", th.Path)
			}
			if th.AtLeast <= own {
				t.Errorf("at_least %d not beyond child_run's frame %d", th.AtLeast, own)
			}
		})
	}
}

// TestThreadPthread: pthread_attr_setstacksize(16384) for a start routine
// that needs more is an overflow; a size that is not a constant proves
// only glibc's minimum, and says so.
func TestThreadPthread(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, "pthread.c", opt)
			// afterEntryConfig bounds what start_thread runs after the
			// routine (TestThreadTSDDestructor)
			res, err := Run(bin, Options{Config: parseConfig(t, afterEntryConfig)})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := suFrames(testutil.ParseSU(t, dir))
			if len(res.Threads) != 2 {
				t.Fatalf("%d threads, want 2: %+v", len(res.Threads), res.Threads)
			}
			big := threadFor(t, res, "big_worker")
			if big.StackSize == nil || *big.StackSize != 16384 || big.SizeSource != "pthread_attr_setstacksize(16384)" {
				t.Fatalf("big_worker stack %v from %q", show(big.StackSize), big.SizeSource)
			}
			if big.Bound == nil || *big.Bound < su["big_worker"]+su["fill"] {
				t.Fatalf("big_worker bound %v, want at least the .su frames %d + %d", show(big.Bound), su["big_worker"], su["fill"])
			}
			// The need counts glibc's descriptor and TLS at the top of the stack.
			if big.Status != "overflow" || big.Over != boundedNeed(t, big)-16384 || big.Verdict != "overflow by "+size.Format(big.Over) {
				t.Errorf("big_worker: %q %q over %d", big.Status, big.Verdict, big.Over)
			}
			small := threadFor(t, res, "small_worker")
			// Its size comes from argv at run time: only glibc's minimum
			// is proved, which its small frame fits.
			if small.StackSize == nil || *small.StackSize != 16384 || !small.SizeAtLeast || small.DefaultSize ||
				!strings.Contains(small.SizeSource, "PTHREAD_STACK_MIN") || !strings.Contains(small.SizeSource, "not a constant") {
				t.Errorf("small_worker stack %v from %q at least %v default %v", show(small.StackSize), small.SizeSource, small.SizeAtLeast, small.DefaultSize)
			}
			if small.Status != "ok" {
				t.Errorf("small_worker: %q %q", small.Status, small.Reason)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestThreadFreeRTOS: a FreeRTOS-style firmware gets one line per task with
// its size: xTaskCreate depth x 4 bytes, xTaskCreateStatic's buffer.
func TestThreadFreeRTOS(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	for _, cpu := range thumbCPUs {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			cpu, opt := cpu, opt
			t.Run(cpu.name+opt, func(t *testing.T) {
				dir := t.TempDir()
				td, _ := filepath.Abs("testdata")
				fw := filepath.Join(dir, "rtos.elf")
				testutil.Run(t, dir, cc, append([]string{"-mthumb", "-fstack-usage", "--specs=nosys.specs", "-nostartfiles",
					"-T", filepath.Join(td, "thumb", "link.ld"), "-o", fw, filepath.Join(td, "threads", "rtos.c"), opt}, cpu.flags...)...)
				res, err := Run(fw, Options{})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				su := suFrames(testutil.ParseSU(t, dir))
				if len(res.Threads) != 3 {
					t.Fatalf("%d tasks, want 3: %+v", len(res.Threads), res.Threads)
				}
				want := map[string]struct {
					creator string
					size    int64
				}{
					"sensor_task": {"xTaskCreate", 128 * 4},
					"logger_task": {"xTaskCreate", 256 * 4},
					"comm_task":   {"xTaskCreateStatic", 200 * 4},
				}
				for name, w := range want {
					th := threadFor(t, res, name)
					if th.Creator != w.creator || th.CreatedBy != "main" {
						t.Errorf("%s: created by %s in %s", name, th.Creator, th.CreatedBy)
					}
					if th.StackSize == nil || *th.StackSize != w.size {
						t.Errorf("%s: stack %v (%s), want %d", name, show(th.StackSize), th.SizeSource, w.size)
					}
					// 32 B frame + 4 B alignment + r4-r11 and EXC_RETURN;
					// with the FPU, the extended frame's 72 B and the
					// port's S16-S31 (64 B): what the CM4F port's
					// PendSV_Handler pushes for a task that used the FPU.
					// ARMv8-M's ports save PSPLIM too (measured on the
					// an505: internal/emu's TestTasksAgreeWithFreeRTOS).
					wantContext := int64(72)
					if strings.HasPrefix(cpu.name, "m4f") {
						wantContext += 72 + 64
					}
					if strings.HasPrefix(cpu.name, "m33") {
						wantContext += 4
					}
					if th.Context != wantContext {
						t.Errorf("%s: context %d, want %d", name, th.Context, wantContext)
					}
					if th.Bound == nil {
						continue // ARMv6-M frames over 508 bytes are dynamic
					}
					need := *th.Bound + th.Context
					if *th.Bound < su[name]+su["work"] {
						t.Errorf("%s: bound %d below the .su frames %d + %d", name, *th.Bound, su[name], su["work"])
					}
					wantStatus := "ok"
					if need > w.size {
						wantStatus = "overflow"
					}
					if th.Status != wantStatus {
						t.Errorf("%s: status %q (%s), want %q: needs %d of %d", name, th.Status, th.Verdict, wantStatus, need, w.size)
					}
				}
				if !strings.Contains(threadFor(t, res, "comm_task").SizeSource, "comm_stack (800 B)") {
					t.Errorf("comm_task size source %q does not name its buffer", threadFor(t, res, "comm_task").SizeSource)
				}
				// The sensor task's 600-byte buffer cannot fit 512 bytes.
				if s := threadFor(t, res, "sensor_task"); s.Bound != nil && s.Status != "overflow" {
					t.Errorf("sensor_task: %q", s.Verdict)
				}
			})
		}
	}
}
