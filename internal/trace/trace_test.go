//go:build linux && amd64

package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// build compiles testdata/NAME.c into a temporary directory.
func build(t *testing.T, name string, flags ...string) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	src, err := filepath.Abs(filepath.Join("testdata", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", out, src)
	testutil.Run(t, dir, gcc, args...)
	return out
}

// runQuiet traces prog with stdout and stderr going to files, and returns
// the result and what the program wrote.
func runQuiet(t *testing.T, prog string, args ...string) runOut {
	t.Helper()
	dir := t.TempDir()
	so, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	se, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Config{
		Path: prog, Args: append([]string{prog}, args...), Env: os.Environ(),
		ScanStderr: true, Stdout: so, Stderr: se,
	})
	so.Close()
	se.Close()
	if err != nil {
		t.Fatalf("Run(%s): %v", prog, err)
	}
	o := runOut{res: res}
	o.stdout, _ = os.ReadFile(so.Name())
	o.stderr, _ = os.ReadFile(se.Name())
	return o
}

type runOut struct {
	res            *Result
	stdout, stderr []byte
}

// run traces prog with stdout and stderr going to files, logs the report
// and checks the JSON contract.
func run(t *testing.T, prog string, args ...string) runOut {
	t.Helper()
	o := runQuiet(t, prog, args...)
	res := o.res
	var rep bytes.Buffer
	res.WriteText(&rep)
	t.Logf("report:\n%s", rep.String())
	// The JSON contract: these keys are always there.
	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"exit_status", "threads", "crash"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	for _, th := range m["threads"].([]any) {
		for _, k := range []string{"tid", "kind", "stack_size", "peak", "ended"} {
			if _, ok := th.(map[string]any)[k]; !ok {
				t.Errorf("JSON thread lacks %q", k)
			}
		}
	}
	return o
}

func threadOf(r *Result, tid int) *Thread {
	for _, t := range r.Threads {
		if t.TID == tid {
			return t
		}
	}
	return nil
}

func wantCrash(t *testing.T, r *Result, class, function string) *Crash {
	t.Helper()
	c := r.Crash
	if c == nil {
		t.Fatalf("no crash recorded; want %s in %s", class, function)
	}
	if c.Class != class {
		t.Errorf("class = %q, want %q (detail: %s)", c.Class, class, c.Detail)
	}
	if c.Function != function {
		t.Errorf("function = %q, want %q (detail: %s)", c.Function, function, c.Detail)
	}
	if ct := threadOf(r, c.TID); ct == nil || ct.Ended != EndedCrash {
		t.Errorf("crashing thread %d not marked ended=crash: %+v", c.TID, ct)
	}
	if len(c.Backtrace) == 0 {
		t.Errorf("empty backtrace")
	}
	return c
}

func TestCloneHeapStackOverflow(t *testing.T) {
	o := run(t, build(t, "clone_heap", "-O0", "-g"))
	c := wantCrash(t, o.res, ClassStackOverflow, "deep_dive")
	if o.res.ExitStatus != 128+11 {
		t.Errorf("exit status %d, want 139", o.res.ExitStatus)
	}
	th := threadOf(o.res, c.TID)
	if th.Kind != KindClone || th.StackSize == nil {
		t.Fatalf("thread %+v: want a clone with a known stack size", th)
	}
	// malloc(8192): the stack is 8 KiB less what glibc's clone() wrapper
	// pushes at its top.
	if *th.StackSize < 8192-64 || *th.StackSize > 8192 {
		t.Errorf("stack size %d, want about 8192", *th.StackSize)
	}
	if !strings.Contains(c.Detail, " B clone() stack of thread") || !strings.Contains(c.Detail, "into the heap") {
		t.Errorf("detail %q", c.Detail)
	}
	if c.CycleName != "deep_dive" {
		t.Errorf("cycle %q, want deep_dive", c.CycleName)
	}
}

func TestPthreadGuardOverflow(t *testing.T) {
	o := run(t, build(t, "pthread_guard", "-O0", "-g", "-pthread"))
	c := wantCrash(t, o.res, ClassStackOverflow, "recurse_forever")
	th := threadOf(o.res, c.TID)
	if th.Kind != KindPthread {
		t.Errorf("kind %s, want pthread", th.Kind)
	}
	if th.GuardSize == 0 || th.StackSize == nil || *th.StackSize > 64*1024 || *th.StackSize < 48*1024 {
		t.Errorf("stack %v guard %d: want a 64 KiB stack with a guard page", th.StackSize, th.GuardSize)
	}
	if c.Addr >= th.StackBottom || c.Addr < th.StackBottom-th.GuardSize {
		t.Errorf("fault address %#x not in the guard page below %#x", c.Addr, th.StackBottom)
	}
	if !th.PeakMeasured || th.Peak+4096 < *th.StackSize {
		t.Errorf("peak %d of %d: the thread used all of its stack", th.Peak, *th.StackSize)
	}
	if o.res.ExitStatus != 139 {
		t.Errorf("exit status %d, want 139", o.res.ExitStatus)
	}
}

func TestMainThreadRecursion(t *testing.T) {
	o := run(t, build(t, "main_recursion", "-O0", "-g"))
	c := wantCrash(t, o.res, ClassStackOverflow, "runaway")
	if c.Kind != KindMain || c.CycleName != "runaway" {
		t.Errorf("kind %s cycle %q", c.Kind, c.CycleName)
	}
	if len(c.Backtrace) > maxShown {
		t.Errorf("backtrace of %d frames is not capped", len(c.Backtrace))
	}
	th := threadOf(o.res, c.TID)
	if th.StackSize != nil && th.Peak+64*1024 < *th.StackSize {
		t.Errorf("peak %d far from the %d limit", th.Peak, *th.StackSize)
	}
}

func TestStackProtector(t *testing.T) {
	o := run(t, build(t, "canary", "-O0", "-g", "-fstack-protector-strong"))
	c := wantCrash(t, o.res, ClassStackOverrun, "smash_samples")
	if c.Signal != "SIGABRT" || o.res.ExitStatus != 134 {
		t.Errorf("signal %s status %d", c.Signal, o.res.ExitStatus)
	}
	if !strings.Contains(strings.Join(c.LocalArrays, ","), "float[10] samples") {
		t.Errorf("local arrays %q lack float[10] samples", c.LocalArrays)
	}
	if !bytes.Contains(o.stderr, []byte("*** stack smashing detected ***")) {
		t.Errorf("glibc's message did not pass through: %q", o.stderr)
	}
}

func TestFortify(t *testing.T) {
	o := run(t, build(t, "fortify", "-O2", "-g", "-D_FORTIFY_SOURCE=2"))
	c := wantCrash(t, o.res, ClassStackOverrun, "copy_name")
	if !strings.Contains(c.Detail, "__strcpy_chk") {
		t.Errorf("detail %q does not name the check", c.Detail)
	}
}

func TestPeaksOfThreads(t *testing.T) {
	o := run(t, build(t, "threads_known", "-O0", "-g", "-pthread"))
	if o.res.ExitStatus != 0 || o.res.Crash != nil {
		t.Fatalf("status %d crash %+v", o.res.ExitStatus, o.res.Crash)
	}
	type truth struct{ tid, bytes int }
	var rows []truth
	for _, line := range strings.Split(string(o.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "TOUCH" {
			tid, _ := strconv.Atoi(f[1])
			n, _ := strconv.Atoi(f[2])
			rows = append(rows, truth{tid, n})
		}
	}
	if len(rows) != 4 {
		t.Fatalf("program output %q", o.stdout)
	}
	// Each thread's peak is its touch plus the same fixed overhead (the
	// frames between the stack top and the thread function, measured by the
	// thread that touches nothing extra): within one page of the truth.
	base := threadOf(o.res, rows[0].tid)
	if base == nil || !base.PeakMeasured {
		t.Fatalf("no peak for the baseline thread %d", rows[0].tid)
	}
	overhead := int(base.Peak) - rows[0].bytes
	if overhead < 0 || overhead > 4096 {
		t.Errorf("baseline thread: peak %d, touched %d", base.Peak, rows[0].bytes)
	}
	for _, r := range rows {
		th := threadOf(o.res, r.tid)
		if th == nil || !th.PeakMeasured || th.Kind != KindPthread || th.Ended != EndedExit {
			t.Fatalf("thread %d: %+v", r.tid, th)
		}
		want := r.bytes + overhead
		if d := int(th.Peak) - want; d < -4096 || d > 4096 {
			t.Errorf("thread %d: peak %d, truth %d (touched %d + %d)", r.tid, th.Peak, want, r.bytes, overhead)
		}
	}
	if o.res.Tunables != os.Getenv("GLIBC_TUNABLES") {
		t.Errorf("glibc_tunables %q, the user's GLIBC_TUNABLES %q", o.res.Tunables, os.Getenv("GLIBC_TUNABLES"))
	}
}

func TestExitStatusAndOutput(t *testing.T) {
	o := run(t, build(t, "exit3", "-O0"))
	if o.res.ExitStatus != 3 || o.res.Crash != nil {
		t.Errorf("status %d crash %+v", o.res.ExitStatus, o.res.Crash)
	}
	if string(o.stdout) != "out\n" || string(o.stderr) != "err\n" {
		t.Errorf("stdout %q stderr %q", o.stdout, o.stderr)
	}
	o = run(t, build(t, "sigterm", "-O0"))
	if o.res.ExitStatus != 143 || o.res.Crash != nil {
		t.Errorf("status %d crash %+v", o.res.ExitStatus, o.res.Crash)
	}
	if m := threadOf(o.res, o.res.Threads[0].TID); m.Ended != EndedKilled || m.Signal != "SIGTERM" {
		t.Errorf("main thread %+v", m)
	}
}

// lcg is the stream binout.c writes.
func lcg(n int, seed uint32) []byte {
	out := make([]byte, n)
	x := seed
	for i := range out {
		x = x*1103515245 + 12345
		out[i] = byte(x >> 16)
	}
	return out
}

func TestBinaryOutputPassesThrough(t *testing.T) {
	const n = 8 << 20
	o := run(t, build(t, "binout", "-O2", "-pthread"), fmt.Sprint(n))
	if o.res.ExitStatus != 0 {
		t.Fatalf("status %d", o.res.ExitStatus)
	}
	if !bytes.Equal(o.stdout, lcg(n, 1)) {
		t.Errorf("stdout differs: %d bytes, want %d", len(o.stdout), n)
	}
	if !bytes.Equal(o.stderr, lcg(n/4, 7)) {
		t.Errorf("stderr differs: %d bytes, want %d", len(o.stderr), n/4)
	}
	kinds := map[string]int{}
	for _, th := range o.res.Threads {
		kinds[th.Kind]++
	}
	if kinds[KindMain] != 1 || kinds[KindPthread] != 1 || kinds[KindProcess] != 1 {
		t.Errorf("thread kinds %v", kinds)
	}
}

func TestForksAndClones(t *testing.T) {
	o := run(t, build(t, "forks", "-O0", "-g"))
	if o.res.ExitStatus != 0 || o.res.Crash != nil || string(o.stdout) != "ok\n" {
		t.Fatalf("status %d crash %+v stdout %q", o.res.ExitStatus, o.res.Crash, o.stdout)
	}
	var clone *Thread
	for _, th := range o.res.Threads {
		if th.Kind == KindClone {
			clone = th
		}
		if th.Ended != EndedExit {
			t.Errorf("thread %d ended %s", th.TID, th.Ended)
		}
	}
	if clone == nil || clone.StackSize == nil || *clone.StackSize > 64*1024 || *clone.StackSize < 64*1024-64 {
		t.Fatalf("clone thread %+v", clone)
	}
	if !clone.PeakMeasured || clone.Peak < 2000 || clone.Peak > 2000+4096 {
		t.Errorf("clone peak %d, want a little over 2000", clone.Peak)
	}
	if len(o.res.Threads) != 4 {
		t.Errorf("%d threads, want main, fork, vfork and clone", len(o.res.Threads))
	}
}

func TestStartErrors(t *testing.T) {
	_, err := Run(Config{Path: "/nonexistent/prog", Args: []string{"prog"}})
	if se, ok := err.(*StartError); !ok || se.Code != 127 {
		t.Errorf("missing program: %v", err)
	}
	f := filepath.Join(t.TempDir(), "noexec")
	os.WriteFile(f, []byte("data"), 0o644)
	_, err = Run(Config{Path: f, Args: []string{f}})
	if se, ok := err.(*StartError); !ok || se.Code != 126 {
		t.Errorf("not executable: %v", err)
	}
}

func TestAddressSanitizer(t *testing.T) {
	prog := build(t, "asan_stack", "-O0", "-g", "-fsanitize=address")
	o := run(t, prog)
	c := wantCrash(t, o.res, ClassStackOverrun, "fill_scores")
	if o.res.ExitStatus != 1 {
		t.Errorf("exit status %d, want ASan's 1", o.res.ExitStatus)
	}
	if !strings.Contains(c.ASan, "stack-buffer-overflow") {
		t.Errorf("summary %q", c.ASan)
	}
	if !bytes.Contains(o.stderr, []byte("ERROR: AddressSanitizer: stack-buffer-overflow")) {
		t.Errorf("ASan's report did not pass through")
	}
}

// TestAddressSanitizerCaughtSignal: ASan's "SEGV" report (an upper-case
// kind: a signal its handler caught) is recorded, and stackscope's own
// analysis of the fault stands: a NULL write is "other" in poke.
func TestAddressSanitizerCaughtSignal(t *testing.T) {
	prog := build(t, "asan_segv", "-O0", "-g", "-fsanitize=address")
	o := run(t, prog)
	c := wantCrash(t, o.res, ClassOther, "poke")
	if !strings.Contains(c.ASan, "SEGV") {
		t.Errorf("ASan summary %q, want its SEGV report", c.ASan)
	}
	if strings.Contains(c.Detail, "not a stack problem") && !strings.Contains(c.Detail, "poke") {
		t.Errorf("detail %q", c.Detail)
	}
	if !bytes.Contains(o.stderr, []byte("ERROR: AddressSanitizer: SEGV")) {
		t.Errorf("ASan's report did not pass through")
	}
}

func TestParseMapsLine(t *testing.T) {
	m, ok := parseMapsLine("7ffd1000-7ffd3000 rw-p 00001000 00:00 0          [stack]")
	if !ok || m.start != 0x7ffd1000 || m.end != 0x7ffd3000 || m.off != 0x1000 || m.path != "[stack]" {
		t.Errorf("%+v", m)
	}
	m, ok = parseMapsLine("55d0-55e0 r-xp 00000000 08:01 123 /tmp/my prog (deleted)")
	if !ok || m.path != "/tmp/my prog (deleted)" || !m.exec() {
		t.Errorf("%+v", m)
	}
	if _, ok := parseMapsLine("garbage"); ok {
		t.Errorf("garbage parsed")
	}
}

// TestOverrunBeforeReturn: an overrun that overwrites a pointer crashes
// before the function returns to check its canary. When the canary was
// reached too, the crash is a stack buffer overrun of victim (the canary is
// checked at the crash); when only the pointer was, the pointer variable
// found (by DWARF) inside a run of the copied bytes is the evidence.
func TestOverrunBeforeReturn(t *testing.T) {
	prog := build(t, "pointer_smash", "-O0", "-g", "-fstack-protector-strong")
	o := run(t, prog, "600")
	c := wantCrash(t, o.res, ClassStackOverrun, "victim")
	if c.Signal != "SIGSEGV" || !strings.Contains(c.Detail, "canary of victim was already overwritten") {
		t.Errorf("signal %s, detail %q", c.Signal, c.Detail)
	}
	if !strings.Contains(strings.Join(c.LocalArrays, ","), "src") {
		t.Errorf("local arrays %q lack src", c.LocalArrays)
	}

	// Only the pointer (not the canary) overwritten: the evidence is on
	// the stack, the pointer variable target inside a run of 'A's.
	o = run(t, prog, "100")
	c = wantCrash(t, o.res, ClassStackOverrun, "victim")
	if !strings.Contains(c.Detail, "0x4141414141414141") || !strings.Contains(c.Detail, `"AAAAAAAA"`) ||
		!strings.Contains(c.Detail, "inferred from the stack") || strings.Contains(c.Detail, "NULL") {
		t.Errorf("detail %q: want the non-canonical address, its bytes and the inference, not a NULL pointer", c.Detail)
	}

	// No overrun at all: a clean exit, no crash.
	if o := run(t, prog, "8"); o.res.Crash != nil || o.res.ExitStatus != 0 {
		t.Errorf("8 bytes: crash %+v, status %d", o.res.Crash, o.res.ExitStatus)
	}
}

// TestHeapOverflowIsNotAStackOverrun: the same bytes on the stack, in the
// array the copy read from, do not make a heap overflow a stack overrun.
func TestHeapOverflowIsNotAStackOverrun(t *testing.T) {
	prog := build(t, "heap_pointer", "-O0", "-g", "-fstack-protector-strong")
	o := run(t, prog, "40")
	c := o.res.Crash
	if c == nil || c.Class != ClassOther {
		t.Fatalf("crash %+v, want class other", c)
	}
	if !strings.Contains(c.Detail, "0x4242424242424242") {
		t.Errorf("detail %q lacks the non-canonical address", c.Detail)
	}
}

// TestAllocaOverrunIntoPointers: an overrun of an alloca'd buffer that
// stops short of the canary overwrites the frame's own pointer variables
// (with zeros: a NULL pointer, or the low half of one) and the program dies
// using one. The pointers fill sets only to addresses in its frame are the
// evidence; a pointer the program itself leaves NULL is not.
func TestAllocaOverrunIntoPointers(t *testing.T) {
	prog := build(t, "alloca_pointer", "-O0", "-g", "-fstack-protector-strong")

	// memmove of zeros: small (set before any branch) now holds 0; the
	// crash is in show, the overrun is fill's.
	c := wantCrash(t, run(t, prog, "copy").res, ClassStackOverrun, "fill")
	if !strings.Contains(c.Detail, "pointer variable small of fill") || !strings.Contains(c.Detail, "holds 0x0") ||
		!strings.Contains(c.Detail, "in show") {
		t.Errorf("copy: detail %q", c.Detail)
	}

	// Element by element: dst (set on one branch, or NULL) loses its low
	// half, and the next write faults through it. Where the damaged
	// pointer lands depends on the stack's random placement: in about 3
	// runs of 1,000 it is mapped memory and the program exits 0 (counted
	// with the program alone), so a run without a crash is retried.
	o := run(t, prog, "loop")
	for try := 0; try < 3 && o.res.Crash == nil; try++ {
		o = run(t, prog, "loop")
	}
	c = wantCrash(t, o.res, ClassStackOverrun, "fill")
	if !strings.Contains(c.Detail, "pointer variable dst of fill") || !strings.Contains(c.Detail, "low bytes overwritten") ||
		!strings.Contains(c.Detail, "or NULL") {
		t.Errorf("loop: detail %q", c.Detail)
	}

	// A NULL the program put there itself is an ordinary crash.
	o = run(t, prog, "null")
	if o.res.Crash == nil || o.res.Crash.Class != ClassOther || o.res.Crash.Function != "show" {
		t.Errorf("null: crash %+v, want class other in show", o.res.Crash)
	}

	if o := run(t, prog, "ok"); o.res.Crash != nil || o.res.ExitStatus != 0 {
		t.Errorf("ok: crash %+v, status %d", o.res.Crash, o.res.ExitStatus)
	}
}
