//go:build linux && amd64

package trace

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildGo builds testdata/gostacks with the machine's Go, without cgo (the
// runtime then starts its threads with its own clone() on g0 stacks it
// allocates), in a module of its own that needs nothing from a proxy.
func buildGo(t *testing.T) (prog, goroot string) {
	t.Helper()
	gotool := testutil.RequireTool(t, "go")
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "gostacks", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gostacks\n\ngo 1.21\n"), 0o644)
	prog = filepath.Join(dir, "gostacks")
	cmd := exec.Command(gotool, "build", "-o", prog, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(gotool, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return prog, strings.TrimSpace(string(out))
}

// goRuntimeSizes reads, from the Go runtime's own source, the g0 stack the
// runtime gives each thread it starts (proc.go, allocm: malg(16384 *
// sys.StackGuardMultiplier)) and the part of the kernel's stack it gives the
// first thread (asm_amd64.s, rt0_go: LEAQ (-64*1024)(SP), BX).
func goRuntimeSizes(t *testing.T, goroot string) (g0, m0 uint64) {
	t.Helper()
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(goroot, "src", rel))
		if err != nil {
			return ""
		}
		return string(b)
	}
	m := regexp.MustCompile(`mp\.g0 = malg\((\d+) \* sys\.StackGuardMultiplier\)`).FindStringSubmatch(read("runtime/proc.go"))
	if m == nil {
		t.Fatalf("runtime/proc.go no longer says malg(N * sys.StackGuardMultiplier) for g0: read the runtime again")
	}
	base, _ := strconv.ParseUint(m[1], 10, 64)
	consts := read("internal/runtime/sys/consts.go") + read("runtime/internal/sys/consts.go")
	mm := regexp.MustCompile(`StackGuardMultiplier = (.*)`).FindStringSubmatch(consts)
	if mm == nil {
		t.Fatalf("StackGuardMultiplier not found in the runtime's source")
	}
	mult := uint64(0)
	for _, term := range strings.Split(mm[1], "+") {
		switch term = strings.TrimSpace(term); {
		case term == "1":
			mult++
		case term == "isRace": // the test builds without -race
		case strings.HasPrefix(term, "goos.Is"):
			if strings.EqualFold(strings.TrimPrefix(term, "goos.Is"), runtime.GOOS) {
				mult++
			}
		default:
			t.Fatalf("StackGuardMultiplier = %s: term %q not understood", mm[1], term)
		}
	}
	a := regexp.MustCompile(`MOVQ\s+\$runtime·g0\(SB\), DI\s+LEAQ\s+\(-(\d+)\*1024\)\(SP\), BX`).FindStringSubmatch(read("runtime/asm_amd64.s"))
	if a == nil {
		t.Fatalf("runtime/asm_amd64.s no longer sets g0's stack to N*1024 below SP in rt0_go")
	}
	k, _ := strconv.ParseUint(a[1], 10, 64)
	return base * mult, k * 1024
}

// TestGoRuntimeStacks: a Go program's threads are described by the stacks
// the runtime gave them, not by the heap arena that holds a g0 stack (a
// "pthread" of several MiB with a guard of tens of MiB before).
func TestGoRuntimeStacks(t *testing.T) {
	prog, goroot := buildGo(t)
	g0, m0 := goRuntimeSizes(t, goroot)
	o := run(t, prog)
	if o.res.ExitStatus != 0 || o.res.Crash != nil {
		t.Fatalf("status %d crash %+v", o.res.ExitStatus, o.res.Crash)
	}
	if string(o.stdout) != "workers done\n" || bytes.Count(o.stderr, []byte("worker ")) != 8 {
		t.Errorf("output did not pass through: stdout %q stderr %q", o.stdout, o.stderr)
	}
	goThreads, measured := 0, 0
	for _, th := range o.res.Threads {
		switch th.Kind {
		case KindMain:
			// m0's g0: the runtime's 64 KiB below the SP it started with,
			// which is the SP at exec (StartUse below the top) less rt0_go's
			// 40 bytes and 16-byte alignment.
			if th.StackSize == nil {
				t.Fatalf("main thread: no stack size")
			}
			extra := int64(*th.StackSize) - int64(m0) - int64(th.StartUse)
			if extra < 40 || extra > 40+15 {
				t.Errorf("main thread: stack %d = %d (runtime) + %d (start use) + %d, want the runtime's %d below the start SP",
					*th.StackSize, m0, th.StartUse, extra, m0)
			}
		case KindGoThread:
			goThreads++
			if th.StackSize == nil || *th.StackSize != g0 || th.StackTop-th.StackBottom != g0 {
				t.Errorf("thread %d: stack %v (%#x-%#x), want the runtime's g0 of %d bytes", th.TID, th.StackSize, th.StackBottom, th.StackTop, g0)
			}
			if th.GuardSize != 0 {
				t.Errorf("thread %d: guard %d: a g0 stack in the Go heap has none", th.TID, th.GuardSize)
			}
			// A thread the group exit ends while it runs may be gone
			// before its exit stop: its peak is then reported as not
			// measured, never as a number. A measured one must fit.
			if th.PeakMeasured {
				measured++
				if th.Peak == 0 || th.Peak > g0 {
					t.Errorf("thread %d: peak %d of a %d-byte g0", th.TID, th.Peak, g0)
				}
			}
		default:
			t.Errorf("thread %d: kind %s in a Go program without cgo", th.TID, th.Kind)
		}
	}
	if measured == 0 {
		t.Errorf("no go-thread's peak was measured")
	}
	// GOMAXPROCS(4) and 8 busy goroutines, plus sysmon: several Ms.
	if goThreads < 2 {
		t.Errorf("%d Go runtime threads, want at least 2", goThreads)
	}
	if g := o.res.Go; g == nil || g.Goroutines < 9 || g.Deepest == nil || g.Deepest.StackSize == 0 {
		t.Errorf("goroutines from runtime.allgs: %+v", o.res.Go)
	}
}

// TestGoroutineStackOverflow: a goroutine recursing past the runtime's
// stack limit (1 MiB, debug.SetMaxStack) ends the program with "fatal
// error: stack overflow" and exit status 2, and no signal: a stack overflow
// of that goroutine, on the thread that ran it, with its Go backtrace.
func TestGoroutineStackOverflow(t *testing.T) {
	prog, _ := buildGo(t)
	o := run(t, prog, "overflow")
	if o.res.ExitStatus != 2 {
		t.Errorf("exit status %d, want the runtime's 2", o.res.ExitStatus)
	}
	c := wantCrash(t, o.res, ClassStackOverflow, "main.dive")
	// What the runtime printed, passed through to the program's stderr.
	m := regexp.MustCompile(`(?m)^fatal error: stack overflow\n(?:.*\n)*?goroutine (\d+) .*\[running\]:\nmain\.dive\(`).FindSubmatch(o.stderr)
	if m == nil || !bytes.Contains(o.stderr, []byte("runtime: goroutine stack exceeds 1048576-byte limit\n")) {
		t.Fatalf("the runtime's message did not pass through stderr:\n%.2000s", o.stderr)
	}
	if bytes.Count(o.stderr, []byte("worker ")) != 8 || string(o.stdout) != "workers done\n" {
		t.Errorf("output did not pass through: stdout %q", o.stdout)
	}
	if want, _ := strconv.Atoi(string(m[1])); c.Goroutine != want {
		t.Errorf("goroutine %d, the runtime said %d", c.Goroutine, want)
	}
	if !strings.Contains(c.Detail, "goroutine stack limit of 1.0 MiB") || c.CycleName != "main.dive" {
		t.Errorf("detail %q cycle %q", c.Detail, c.CycleName)
	}
	th := threadOf(o.res, c.TID)
	if th.Kind != KindGoThread && th.Kind != KindMain {
		t.Errorf("overflow on thread %d of kind %s", c.TID, th.Kind)
	}
	if len(c.Frames) == 0 || c.Frames[0].File == "" || !strings.HasSuffix(c.Frames[0].File, "main.go") {
		t.Errorf("frames %+v: want the Go traceback's file:line", c.Frames)
	}
}

// TestHandlerCaughtOverflow: a thread overflows into its guard page, a
// SIGSEGV handler on an alternate signal stack reports it and aborts: the
// thread dies of SIGABRT, but the crash is its stack overflow. When the
// handler jumps back instead and the thread aborts later on its own stack,
// that abort is not a stack overflow.
func TestHandlerCaughtOverflow(t *testing.T) {
	prog := build(t, "altstack_abort", "-O0", "-g", "-pthread")
	o := run(t, prog)
	c := wantCrash(t, o.res, ClassStackOverflow, "dive")
	if o.res.ExitStatus != 134 {
		t.Errorf("exit status %d, want 134 (SIGABRT)", o.res.ExitStatus)
	}
	th := threadOf(o.res, c.TID)
	if th.Kind != KindPthread || th.Signal != "SIGABRT" || c.Signal != "SIGSEGV" {
		t.Errorf("thread %+v, crash signal %s: want the pthread, killed by SIGABRT, its SIGSEGV analysed", th, c.Signal)
	}
	if c.Addr >= th.StackBottom || c.Addr < th.StackBottom-th.GuardSize {
		t.Errorf("fault address %#x not in the guard below %#x", c.Addr, th.StackBottom)
	}
	if !strings.Contains(c.Detail, "alternate signal stack") {
		t.Errorf("detail %q", c.Detail)
	}
	if string(o.stdout) != "start\n" || string(o.stderr) != "altstack_abort: SIGSEGV caught on the alternate stack, aborting\n" {
		t.Errorf("stdout %q stderr %q", o.stdout, o.stderr)
	}

	o = run(t, prog, "recover")
	if o.res.ExitStatus != 134 || string(o.stdout) != "start\nrecovered\n" {
		t.Errorf("recover: status %d stdout %q", o.res.ExitStatus, o.stdout)
	}
	if c := o.res.Crash; c == nil || c.Class != ClassOther || c.Signal != "SIGABRT" {
		t.Errorf("recover: crash %+v, want the later abort, class other", c)
	}
}

// TestRustThreadOverflow: Rust's own handler catches a thread's guard-page
// SIGSEGV, prints "thread 'deep' has overflowed its stack" and aborts.
func TestRustThreadOverflow(t *testing.T) {
	rustc, err := exec.LookPath("rustc")
	if err != nil {
		t.Skip("SKIPPED: rustc is not installed")
	}
	src, _ := filepath.Abs(filepath.Join("testdata", "rust_overflow.rs"))
	prog := filepath.Join(t.TempDir(), "rust_overflow")
	testutil.Run(t, filepath.Dir(prog), rustc, "-C", "opt-level=0", "-g", "-o", prog, src)
	o := run(t, prog)
	c := wantCrash(t, o.res, ClassStackOverflow, "rust_overflow::dive")
	if o.res.ExitStatus != 134 {
		t.Errorf("exit status %d, want 134", o.res.ExitStatus)
	}
	m := regexp.MustCompile(`thread 'deep'(?: \((\d+)\))? has overflowed its stack`).FindSubmatch(o.stderr)
	if m == nil {
		t.Fatalf("Rust's message did not pass through: %q", o.stderr)
	}
	if len(m[1]) > 0 {
		if tid, _ := strconv.Atoi(string(m[1])); tid != c.TID {
			t.Errorf("crash in thread %d, Rust says %d", c.TID, tid)
		}
	}
	if th := threadOf(o.res, c.TID); th.Kind != KindPthread || th.StackSize == nil || *th.StackSize > 256*1024 {
		t.Errorf("thread %+v: want the 256 KiB pthread", th)
	}
	if !strings.Contains(c.Detail, "thread 'deep' has overflowed its stack") {
		t.Errorf("detail %q", c.Detail)
	}
}
