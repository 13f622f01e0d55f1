package emu

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// rtosPorts are the FreeRTOS ports the task tests run, by board.
var rtosPorts = map[string]string{"mps2-an385": "cm3", "mps2-an386": "cm4f"}

// appTasks are the tasks testdata/rtos/app.c creates (and the kernel's).
var appTasks = []string{"producer", "consumer", "worker", "report", "IDLE", "Tmr Svc"}

// buildRTOS builds testdata/rtos/app.c with the shared FreeRTOS kernel for
// board's port, with -D defines.
func buildRTOS(t *testing.T, dir, board string, defines ...string) string {
	t.Helper()
	app, _ := filepath.Abs(filepath.Join("testdata", "rtos", "app.c"))
	sub := filepath.Join(dir, board+strings.NewReplacer("=", "", "_", "").Replace(strings.Join(defines, "")))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	return testutil.BuildFreeRTOS(t, sub, testutil.FreeRTOSApp{Port: rtosPorts[board], App: []string{app},
		Defines: append([]string{"INCLUDE_xTaskGetIdleTaskHandle=1"}, defines...)})
}

var hwmLine = regexp.MustCompile(`HWM((?: [^=]+=\d+)+)`)
var hwmItem = regexp.MustCompile(` ([^=]+)=(\d+)`)

// freertosHWM reads the app's "HWM name=words ..." line: what
// uxTaskGetStackHighWaterMark said of each task at the end.
func freertosHWM(t *testing.T, out string) map[string]int64 {
	t.Helper()
	m := hwmLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no HWM line in the firmware's output %q", out)
	}
	hwm := map[string]int64{}
	for _, it := range hwmItem.FindAllStringSubmatch(m[1], -1) {
		n, _ := strconv.ParseInt(it[2], 10, 64)
		hwm[it[1]] = n
	}
	return hwm
}

func stackNamed(res *Result, name string) *StackResult {
	for i := range res.Stacks {
		if res.Stacks[i].Name == name {
			return &res.Stacks[i]
		}
	}
	return nil
}

func backtraceHas(d *Deepest, fn string) bool {
	for _, f := range d.Backtrace {
		if strings.TrimSuffix(f.Function, ".constprop.0") == fn {
			return true
		}
	}
	return false
}

// deepestThrough: the stack's deepest path (or, when the ratchet's run
// reached another depth, the path its note gives) goes through fns.
func deepestThrough(s *StackResult, fns ...string) bool {
	for _, fn := range fns {
		if d := s.Deepest; d != nil {
			if d.Depth != *s.Peak || !backtraceHas(d, fn) {
				return false
			}
		} else if !strings.Contains(s.DeepestNote, fn) {
			return false
		}
	}
	return true
}

// TestTasksAgreeWithFreeRTOS: on both ports, every task is found by name
// with its size from pxEndOfStack, its peak and its static bound; each
// peak agrees to the word with what uxTaskGetStackHighWaterMark says from
// inside the firmware (headroom = free words x 4); measured <= bound for
// every bounded task; the ratchet names the deepest write of the main
// stack and of the worker, whose path is its call chain; and a second run
// measures the same peaks.
func TestTasksAgreeWithFreeRTOS(t *testing.T) {
	for board := range rtosPorts {
		t.Run(board, func(t *testing.T) {
			fw := buildRTOS(t, t.TempDir(), board, "configRECORD_STACK_HIGH_ADDRESS=1")
			var peaks [2]map[string]int64
			for run1 := 0; run1 < 2; run1++ {
				res, err := run(t, fw, Options{Machine: board, ICount: DefaultICount})
				if err != nil {
					t.Fatal(err)
				}
				if res.Stop.Kind != StopExit || res.ExitStatus() != 0 {
					t.Fatalf("stop %+v exit %d, want a clean exit; output %q", res.Stop, res.ExitStatus(), res.Output)
				}
				hwm := freertosHWM(t, res.Output)
				peaks[run1] = map[string]int64{}
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
					if *s.Headroom != 4*words || *s.Peak+*s.Headroom != s.Size {
						t.Errorf("%s: peak %d headroom %d of %d; FreeRTOS says %d words (%d B) never written", name, *s.Peak, *s.Headroom, s.Size, words, 4*words)
					}
					if !strings.HasPrefix(s.SizeSource, "pxEndOfStack") || s.Top != s.Limit+uint64(s.Size) {
						t.Errorf("%s: size %d from %q", name, s.Size, s.SizeSource)
					}
					if s.BoundExceeded() {
						t.Errorf("%s: measured %d > static bound %d", name, *s.Peak, *s.StaticBound)
					}
					peaks[run1][name] = *s.Peak
				}
				for _, name := range []string{"producer", "consumer", "worker", "report"} {
					if s := stackNamed(res, name); !s.Bounded {
						t.Errorf("%s: no static bound (%+v)", name, s)
					}
				}
				main := res.Stacks[0]
				if main.Deepest == nil || main.Deepest.Depth != *main.Peak || len(main.Deepest.Backtrace) < 2 {
					t.Errorf("main stack: deepest %+v, peak %d", main.Deepest, *main.Peak)
				}
				w := stackNamed(res, "worker")
				if !deepestThrough(w, "worker_task", "outer") {
					t.Errorf("worker: deepest %+v (%s), peak %d: want its path through outer", w.Deepest, w.DeepestNote, *w.Peak)
				}
				peaks[run1]["main"] = *main.Peak
			}
			for name, p := range peaks[0] {
				if peaks[1][name] != p {
					t.Errorf("%s: two runs measured %d and %d", name, p, peaks[1][name])
				}
			}
		})
	}
}

// TestTaskSizesWithoutEndOfStack: without configRECORD_STACK_HIGH_ADDRESS
// the sizes come from the static thread model (depth x 4), and the peaks
// still agree with uxTaskGetStackHighWaterMark.
func TestTaskSizesWithoutEndOfStack(t *testing.T) {
	fw := buildRTOS(t, t.TempDir(), "mps2-an385")
	res, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	hwm := freertosHWM(t, res.Output)
	want := map[string]int64{"producer": 160 * 4, "consumer": 180 * 4, "worker": 300 * 4, "report": 256 * 4, "IDLE": 128 * 4, "Tmr Svc": 256 * 4}
	for name, size := range want {
		s := stackNamed(res, name)
		if s == nil || s.Peak == nil {
			t.Fatalf("%s: %+v", name, s)
		}
		if s.Size != size || !strings.HasPrefix(s.SizeSource, "the static thread model") {
			t.Errorf("%s: size %d from %q, want %d from the thread model", name, s.Size, s.SizeSource, size)
		}
		if *s.Headroom != 4*hwm[name] {
			t.Errorf("%s: headroom %d, FreeRTOS says %d words", name, *s.Headroom, hwm[name])
		}
	}
}

// TestTaskSizeFromHeap: a task whose depth no analysis can tell (read
// from a volatile), in a kernel that does not record pxEndOfStack, gets
// its size from heap_4's block header (160 words: 640 B, already a
// multiple of 8), and its peak still agrees with the kernel's.
func TestTaskSizeFromHeap(t *testing.T) {
	fw := buildRTOS(t, t.TempDir(), "mps2-an385", "RUNTIME_DEPTH")
	res, err := run(t, fw, Options{ICount: DefaultICount, NoRatchet: true})
	if err != nil {
		t.Fatal(err)
	}
	hwm := freertosHWM(t, res.Output)
	s := stackNamed(res, "producer")
	if s == nil || s.Peak == nil {
		t.Fatalf("producer: %+v", s)
	}
	if s.Size != 640 || !strings.HasPrefix(s.SizeSource, "the heap_4 block header") {
		t.Errorf("producer: size %d from %q, want 640 from the heap block header", s.Size, s.SizeSource)
	}
	if *s.Headroom != 4*hwm["producer"] {
		t.Errorf("producer: headroom %d, FreeRTOS says %d words", *s.Headroom, hwm["producer"])
	}
}

// TestTaskOverflow: a worker given 100 words under a 600-byte chain is
// reported as an overflow of that task, with the path that did it, and
// the run's status is 1.
func TestTaskOverflow(t *testing.T) {
	fw := buildRTOS(t, t.TempDir(), "mps2-an385", "configRECORD_STACK_HIGH_ADDRESS=1", "WORKER_WORDS=100")
	res, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	w := stackNamed(res, "worker")
	var text strings.Builder
	res.WriteText(&text)
	t.Log(text.String())
	if w == nil || !w.Overflowed || w.Peak == nil || *w.Peak < w.Size {
		t.Fatalf("worker %+v: want an overflow; stop %+v", w, res.Stop)
	}
	if !deepestThrough(w, "worker_task", "outer") {
		t.Errorf("worker: deepest %+v (%s): want the path through outer", w.Deepest, w.DeepestNote)
	}
	if res.ExitStatus() != 1 || !strings.Contains(res.Verdict(), "STACK OVERFLOW: the worker stack") {
		t.Errorf("exit %d, verdict %q", res.ExitStatus(), res.Verdict())
	}
}

// TestRatchetChangesNothing: the measured run is the firmware's own: the
// same output and peaks as a run without the ratchet's second run, which
// only adds the deepest paths.
func TestRatchetChangesNothing(t *testing.T) {
	fw := buildRTOS(t, t.TempDir(), "mps2-an385", "configRECORD_STACK_HIGH_ADDRESS=1")
	with, err := run(t, fw, Options{ICount: DefaultICount})
	if err != nil {
		t.Fatal(err)
	}
	without, err := run(t, fw, Options{ICount: DefaultICount, NoRatchet: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(with.Stacks) != len(without.Stacks) || with.Output != without.Output {
		t.Fatalf("%d and %d stacks, outputs %q and %q", len(with.Stacks), len(without.Stacks), with.Output, without.Output)
	}
	for i := range with.Stacks {
		a, b := with.Stacks[i], without.Stacks[i]
		if a.Peak == nil || b.Peak == nil || *a.Peak != *b.Peak {
			t.Errorf("%s: peak %v with the ratchet, %v without", a.Name, a.Peak, b.Peak)
		}
		if b.Deepest != nil {
			t.Errorf("%s: a deepest path without the ratchet", b.Name)
		}
		if a.Deepest == nil && a.DeepestNote == "" {
			t.Errorf("%s: neither a deepest path nor why", a.Name)
		}
	}
}
