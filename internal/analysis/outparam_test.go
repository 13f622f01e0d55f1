package analysis

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// Out-parameters (issue 12, item 6): a stack size that comes back through
// a pointer the creating function passes to a callee. The value stored in
// the local before the call must never be kept; a callee that stores a
// constant on every path gives it back; anything else is unknown, with
// the call's line, and never an overflow.

// assertUnknownAfter checks a thread whose size is lost in the call of
// callee: no size, unknown with a reason that names the callee and the
// call's line, and the creation site's line.
func assertUnknownAfter(t *testing.T, th Thread, callee, file string) {
	t.Helper()
	if th.StackSize != nil {
		t.Errorf("%s: stack %d (%s); the size comes back from %s and is not a constant", th.Entry, *th.StackSize, th.SizeSource, callee)
	}
	if th.Status != "unknown" {
		t.Errorf("%s: status %q (%s), want unknown", th.Entry, th.Status, th.Verdict)
	}
	if !strings.Contains(th.Reason, callee) || !strings.Contains(th.Reason, "the call at ") || !strings.Contains(th.Reason, file+":") {
		t.Errorf("%s: reason %q does not name %s and the call's line in %s", th.Entry, th.Reason, callee, file)
	}
	if th.File == "" || th.Line == 0 {
		t.Errorf("%s: no source line for the creation site", th.Entry)
	}
}

// TestThreadOutParamThumb: testdata/threads/outparam.c, where main sets a
// local depth to 0, passes its address to a function, then creates a task
// with it.
func TestThreadOutParamThumb(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	const depthWords = 300
	for _, cpu := range thumbCPUs[:2] { // m0 (16-bit stores only) and m3
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			cpu, opt := cpu, opt
			t.Run(cpu.name+opt, func(t *testing.T) {
				dir := t.TempDir()
				td, _ := filepath.Abs("testdata")
				fw := filepath.Join(dir, "outparam.elf")
				testutil.Run(t, dir, cc, append([]string{"-mthumb", "-g", "-fstack-usage", "--specs=nosys.specs", "-nostartfiles",
					"-T", filepath.Join(td, "thumb", "link.ld"), fmt.Sprintf("-DDEPTH_WORDS=%d", depthWords),
					"-o", fw, filepath.Join(td, "threads", "outparam.c"), opt}, cpu.flags...)...)
				res, err := Run(fw, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Threads) != 4 {
					t.Fatalf("%d tasks, want 4: %+v", len(res.Threads), res.Threads)
				}
				c := threadFor(t, res, "const_task")
				if c.StackSize == nil || *c.StackSize != depthWords*4 || c.SizeSource != fmt.Sprintf("stack depth %d words x 4 B", depthWords) {
					t.Errorf("const_task: stack %v from %q, want %d words from get_depth", show(c.StackSize), c.SizeSource, depthWords)
				}
				if c.Status == "overflow" {
					t.Errorf("const_task: %s", c.Verdict)
				}
				assertUnknownAfter(t, threadFor(t, res, "runtime_task"), "get_depth_runtime", "outparam.c")
				assertUnknownAfter(t, threadFor(t, res, "sometimes_task"), "get_depth_sometimes", "outparam.c")
				assertUnknownAfter(t, threadFor(t, res, "later_task"), "later", "outparam.c")
			})
		}
	}
}

// TestThreadOutParamX86: the same on x86-64 with pthreads
// (testdata/threads/outparam_pthread.c): the size given to
// pthread_attr_setstacksize comes back through a pointer.
func TestThreadOutParamX86(t *testing.T) {
	const size = 65536
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, "outparam_pthread.c", opt, "-g", fmt.Sprintf("-DSIZE=%d", size))
			res, err := Run(bin, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Threads) != 3 {
				t.Fatalf("%d threads, want 3: %+v", len(res.Threads), res.Threads)
			}
			c := threadFor(t, res, "const_worker")
			if c.StackSize == nil || *c.StackSize != size || c.SizeSource != fmt.Sprintf("pthread_attr_setstacksize(%d)", size) {
				t.Errorf("const_worker: stack %v from %q, want %d from get_size", show(c.StackSize), c.SizeSource, size)
			}
			// A size that is not a constant: never the 0 stored before
			// the call (what the site is then judged against is
			// pthreadSize's policy, checked by TestThreadPthread).
			for _, name := range []string{"runtime_worker", "later_worker"} {
				th := threadFor(t, res, name)
				if th.StackSize != nil && *th.StackSize == 0 || strings.Contains(th.SizeSource, "(0)") || th.Status == "overflow" {
					t.Errorf("%s: stack %v from %q, %s: the 0 stored before the call was kept", name, show(th.StackSize), th.SizeSource, th.Verdict)
				}
				if !strings.Contains(th.SizeSource, "not a constant") {
					t.Errorf("%s: size source %q does not say the size is not a constant", name, th.SizeSource)
				}
			}
		})
	}
}

// symbolSize returns the size of a data symbol of the ELF file.
func symbolSize(t *testing.T, path, name string) int64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return int64(s.Size)
		}
	}
	t.Fatalf("no symbol %s in %s", name, path)
	return 0
}

// TestFreeRTOSStaticHooks: an application with
// configSUPPORT_STATIC_ALLOCATION=1 built against the real kernel
// (testdata/freertos/hooks_app.c). The kernel gets the idle and timer
// tasks' stacks back from vApplicationGetIdleTaskMemory and
// vApplicationGetTimerTaskMemory through out-parameters: their buffers
// and sizes are found; hooks that choose at run time give unknown; a
// static task smaller than its own frame is still an overflow.
func TestFreeRTOSStaticHooks(t *testing.T) {
	const idleWords, timerWords, tinyWords = 600, 700, 64
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		opt := opt
		t.Run("cm3"+opt, func(t *testing.T) {
			dir := t.TempDir()
			app, _ := filepath.Abs(filepath.Join("testdata", "freertos", "hooks_app.c"))
			fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "cm3", Opt: opt, App: []string{app},
				Defines: []string{fmt.Sprintf("IDLE_WORDS=%d", idleWords), fmt.Sprintf("TIMER_WORDS=%d", timerWords),
					fmt.Sprintf("TINY_WORDS=%d", tinyWords)}})
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			su := suFrames(testutil.ParseSU(t, dir))
			// prvCreateIdleTasks is inlined into vTaskStartScheduler above -O0.
			for _, w := range []struct {
				entry, creators, buffer string
				words                   int64
			}{
				{"prvIdleTask", "prvCreateIdleTasks vTaskStartScheduler", "idle_stack", idleWords},
				{"prvTimerTask", "xTimerCreateTimerTask", "timer_stack", timerWords},
			} {
				th := threadFor(t, res, w.entry)
				bytes := symbolSize(t, fw, w.buffer)
				if bytes != w.words*4 {
					t.Fatalf("%s is %d bytes in the ELF, the fixture declares %d words", w.buffer, bytes, w.words)
				}
				if th.Creator != "xTaskCreateStatic" || !strings.Contains(" "+w.creators+" ", " "+th.CreatedBy+" ") {
					t.Errorf("%s: created by %s in %s", w.entry, th.Creator, th.CreatedBy)
				}
				want := fmt.Sprintf("stack depth %d words x 4 B in %s (%s)", w.words, w.buffer, size.Format(bytes))
				if th.StackSize == nil || *th.StackSize != bytes || th.SizeSource != want {
					t.Errorf("%s: stack %v from %q, want %d from %q", w.entry, show(th.StackSize), th.SizeSource, bytes, want)
				}
			}
			for _, th := range res.Threads {
				if th.Entry != "tiny_task" && th.Status == "overflow" {
					t.Errorf("%s: %s with a %v B stack (%s)", th.Entry, th.Verdict, show(th.StackSize), th.SizeSource)
				}
			}
			// The judging still works: tiny_task's own frame (the
			// compiler's .su) and the saved context exceed its stack.
			tiny := threadFor(t, res, "tiny_task")
			if su["tiny_task"]+tiny.Context <= tinyWords*4 {
				t.Fatalf("tiny_task's .su frame %d + context %d fits %d bytes: the fixture must overflow", su["tiny_task"], tiny.Context, tinyWords*4)
			}
			need := tiny.AtLeast
			if tiny.Bound != nil {
				need = *tiny.Bound
			}
			if tiny.StackSize == nil || *tiny.StackSize != tinyWords*4 || tiny.Status != "overflow" || tiny.Over != need+tiny.Context-tinyWords*4 {
				t.Errorf("tiny_task: stack %v, %s (over %d), needs %d + %d", show(tiny.StackSize), tiny.Verdict, tiny.Over, need, tiny.Context)
			}
		})
		t.Run("cm3"+opt+"-runtime", func(t *testing.T) {
			dir := t.TempDir()
			app, _ := filepath.Abs(filepath.Join("testdata", "freertos", "hooks_app.c"))
			fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "cm3", Opt: opt, App: []string{app},
				Defines: []string{"RUNTIME_HOOKS=1"}})
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			assertUnknownAfter(t, threadFor(t, res, "prvIdleTask"), "vApplicationGetIdleTaskMemory", "tasks.c")
			assertUnknownAfter(t, threadFor(t, res, "prvTimerTask"), "vApplicationGetTimerTaskMemory", "timers.c")
		})
	}
}
