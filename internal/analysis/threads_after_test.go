package analysis

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// afterEntryConfig declares worst cases for the libc functions on a
// pthread's path that today's libc model does not bound (pthread_once's
// callbacks under __libc_thread_freeres, _dl_debug_vdprintf under
// __nptl_free_tcb and exit, calloc's lazy paths under pthread_setspecific),
// so that the verdicts below are numbers and the test is about the
// arithmetic of start_thread's post-routine work. Without them the same
// threads are judged "unknown" (checked too).
const afterEntryConfig = `
[[frame]]
function = "pthread_setspecific"
bytes = 1024
[[frame]]
function = "__libc_thread_freeres"
bytes = 4096
[[frame]]
function = "__nptl_free_tcb"
bytes = 4096
[[frame]]
function = "exit"
bytes = 8192
`

// TestThreadTSDDestructor: a thread on a 32 KiB stack whose start routine
// only calls pthread_setspecific, for a key whose destructor has a 30 KiB
// frame. glibc's start_thread calls the destructor after the routine
// returns, on the thread's stack: the thread overflows, by its need (the
// context and the destructor's chain from the routine's CFA) less the
// stack. The run of the program shows it: the destructor's frame is inside
// the thread's stack and its SP below the stack's low end, at most the
// need below the top. Without the destructor (-DNO_DTOR) the thread is ok.
func TestThreadTSDDestructor(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, "tsd_dtor.c", opt)
			su := suFrames(testutil.ParseSU(t, dir))
			cfg := parseConfig(t, afterEntryConfig)
			res, err := Run(bin, Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			th := threadFor(t, res, "worker")
			if th.StackSize == nil || *th.StackSize != 32768 {
				t.Fatalf("stack %v from %q, want 32768", show(th.StackSize), th.SizeSource)
			}
			a := th.AfterEntry
			if a == nil || !a.Counted || a.Bound == nil {
				t.Fatalf("after_entry %+v: want start_thread's calls counted and bounded", a)
			}
			// The routine alone fits with room to spare.
			if th.Bound == nil || *th.Bound+th.Context > 32768/2 {
				t.Fatalf("worker bound %v + context %d: the fixture wants the routine far below the stack", show(th.Bound), th.Context)
			}
			if *a.Bound < su["big_destructor"] || !strings.Contains(strings.Join(a.Path, " "), "big_destructor") {
				t.Errorf("after_entry bound %d path %v: want big_destructor's .su frame %d on it", *a.Bound, a.Path, su["big_destructor"])
			}
			need := th.Context + *a.Bound
			if th.Status != "overflow" || th.Need != need || th.Over != need-32768 || th.NeedAtLeast {
				t.Errorf("status %q %q need %d over %d: want an overflow by context %d + after_entry %d - 32768",
					th.Status, th.Verdict, th.Need, th.Over, th.Context, *a.Bound)
			}
			// The run: the destructor is on the thread's stack, and its SP
			// goes below it, no deeper than the need says.
			out := testutil.Run(t, dir, bin)
			var lo, hi, frame, sp uint64
			if _, err := fmt.Sscanf(out, "stack %v %v dtor %v sp %v", &lo, &hi, &frame, &sp); err != nil {
				t.Fatalf("program output %q: %v", out, err)
			}
			if frame < lo || frame >= hi {
				t.Errorf("destructor frame %#x outside the thread's stack [%#x, %#x)", frame, lo, hi)
			}
			used := int64(hi - sp)
			if used <= 32768 || used > th.Need {
				t.Errorf("the destructor's SP is %d B below the stack's top: want beyond the 32768 B stack and at most the need %d", used, th.Need)
			}
			t.Logf("need %d, measured %d (context %d, after_entry %d, worker %d)", th.Need, used, th.Context, *a.Bound, *th.Bound)

			// Without the declarations, what start_thread runs is not
			// bounded: never ok, and the reason names start_thread.
			raw, err := Run(bin, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rt := threadFor(t, raw, "worker")
			if rt.Status == "ok" || rt.AfterEntry == nil || rt.AfterEntry.Bound != nil || !strings.Contains(rt.Reason, "start_thread") {
				t.Errorf("without the declarations: %q %q", rt.Status, rt.Reason)
			}

			// The control: the same thread, its key without a destructor.
			cbin := filepath.Join(dir, "tsd_control")
			testutil.Run(t, dir, "gcc", "-pthread", "-Wl,-z,now", "-DNO_DTOR", opt, "-o", cbin, filepath.Join(testdataAbs(t), "threads", "tsd_dtor.c"))
			cres, err := Run(cbin, Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			ct := threadFor(t, cres, "worker")
			if ct.Status != "ok" || ct.AfterEntry == nil || ct.AfterEntry.Bound == nil || ct.Need > 32768 {
				t.Errorf("control: %q %q need %d after_entry %+v", ct.Status, ct.Verdict, ct.Need, ct.AfterEntry)
			}
		})
	}
}

func testdataAbs(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// boundedNeed is a thread's need from its parts: the context and the
// larger of the entry's bound and what start_thread runs after it, both
// bounded; it checks the verdict's need is that.
func boundedNeed(t *testing.T, th Thread) int64 {
	t.Helper()
	if th.Bound == nil || th.AfterEntry == nil || !th.AfterEntry.Counted || th.AfterEntry.Bound == nil {
		t.Fatalf("%s: bound %v after_entry %+v, want both bounded", th.Entry, show(th.Bound), th.AfterEntry)
	}
	need := th.Context + max(*th.Bound, *th.AfterEntry.Bound)
	if th.Need != need || th.NeedAtLeast {
		t.Errorf("%s: need %d (at least %v), want context %d + max(bound %d, after_entry %d)", th.Entry, th.Need, th.NeedAtLeast, th.Context, *th.Bound, *th.AfterEntry.Bound)
	}
	return need
}

// needCountingAfter is boundedNeed where start_thread was read. Where it
// was not, the post-routine work is an unknown: the need is at least the
// context and the entry's certain depth, and the verdict's reason says
// what was not counted. It returns the need and whether it is exact.
func needCountingAfter(t *testing.T, th Thread) (int64, bool) {
	t.Helper()
	if th.AfterEntry != nil && !th.AfterEntry.Counted {
		if th.Bound == nil || !th.NeedAtLeast || len(th.Reasons) == 0 || !strings.Contains(th.Reasons[0].Detail, "not counted: what glibc's start_thread runs after the start routine returns") {
			t.Fatalf("%s: bound %v, need at least %v, reasons %+v: want the entry's bound, a need that is a lower bound, and first the reason that start_thread's post-routine work is not counted", th.Entry, show(th.Bound), th.NeedAtLeast, th.Reasons)
		}
		return th.Context + th.AtLeast, false
	}
	return boundedNeed(t, th), true
}

// TestThreadC11: thrd_create's thread is found with its entry and the
// default stack, and judged as a pthread is: the context and the larger of
// the entry's bound and what start_thread runs after it.
func TestThreadC11(t *testing.T) {
	dir := t.TempDir()
	bin := buildThreads(t, dir, "c11.c", "-O2")
	testutil.Run(t, dir, bin)
	su := suFrames(testutil.ParseSU(t, dir))
	res, err := Run(bin, Options{Config: parseConfig(t, afterEntryConfig)})
	if err != nil {
		t.Fatal(err)
	}
	th := threadFor(t, res, "worker")
	if th.Creator != "thrd_create" || th.CreatedBy != "main" || th.StackSize == nil || !th.DefaultSize {
		t.Fatalf("worker: created by %s in %s, stack %v (default %v) from %q", th.Creator, th.CreatedBy, show(th.StackSize), th.DefaultSize, th.SizeSource)
	}
	if th.Bound == nil || *th.Bound < su["worker"] {
		t.Fatalf("worker bound %v below its .su frame %d", show(th.Bound), su["worker"])
	}
	if need := boundedNeed(t, th); th.Status != "ok" || need > *th.StackSize {
		t.Errorf("worker: %q %q need %d", th.Status, th.Verdict, need)
	}
}
