//go:build linux && amd64

package trace

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEnvironmentPassesThrough: a program that prints its environment
// prints the same bytes under Run as plainly, with no GLIBC_TUNABLES, with
// the user's own GLIBC_TUNABLES (stackscope once appended its stack-cache
// tunable to it) and with an empty one; and the run records the user's
// tunables as they were. An AddressSanitizer build alone gets
// detect_leaks=0 (ProgramEnv), and a user's ASAN_OPTIONS passes unchanged
// to a program without ASan.
func TestEnvironmentPassesThrough(t *testing.T) {
	prog := build(t, "environ", "-O0")
	var base []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GLIBC_TUNABLES=") && !strings.HasPrefix(e, "ASAN_OPTIONS=") {
			base = append(base, e)
		}
	}
	cases := map[string][]string{
		"none":  base,
		"users": append(slices.Clone(base), "GLIBC_TUNABLES=glibc.pthread.stack_cache_size=1048576:glibc.malloc.arena_max=2", "ASAN_OPTIONS=verbosity=0"),
		"empty": append([]string{"GLIBC_TUNABLES="}, base...),
	}
	for name, env := range cases {
		cmd := exec.Command(prog)
		cmd.Env = env
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: plain run: %v", name, err)
		}
		o := runEnv(t, prog, env)
		if !bytes.Equal(o.stdout, want) {
			t.Errorf("%s: the environment under run differs from a plain run's:\nrun:   %q\nplain: %q", name, o.stdout, want)
		}
		if o.res.ExitStatus != 0 {
			t.Errorf("%s: exit status %d", name, o.res.ExitStatus)
		}
		if got := o.res.Tunables; got != userTunables(env) {
			t.Errorf("%s: glibc_tunables %q, want the user's %q", name, got, userTunables(env))
		}
	}
	if got := ProgramEnv(prog, base); !slices.Equal(got, base) {
		t.Errorf("ProgramEnv changed a program without ASan's environment: %q", got)
	}
	asan := build(t, "environ", "-O0", "-fsanitize=address")
	if got := ProgramEnv(asan, base); !slices.Contains(got, "ASAN_OPTIONS=detect_leaks=0") || len(got) != len(base)+1 {
		t.Errorf("ProgramEnv of an ASan program: %q lacks ASAN_OPTIONS=detect_leaks=0", got)
	}
}

// runEnv is runQuiet with the environment env.
func runEnv(t *testing.T, prog string, env []string, args ...string) runOut {
	t.Helper()
	dir := t.TempDir()
	so, err := os.Create(dir + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	se, err := os.Create(dir + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Config{Path: prog, Args: append([]string{prog}, args...), Env: env, ScanStderr: true, Stdout: so, Stderr: se})
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

// touchRow is one "TOUCH tid bytes stack" line of stack_reuse.c.
type touchRow struct {
	tid, bytes int
	stack      string
}

func touchRows(t *testing.T, out []byte) []touchRow {
	t.Helper()
	var rows []touchRow
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "TOUCH" {
			tid, err1 := strconv.Atoi(f[1])
			n, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				t.Fatalf("bad line %q", line)
			}
			rows = append(rows, touchRow{tid, n, f[3]})
		}
	}
	return rows
}

// reuseRun runs stack_reuse MODE under Run with glibc's stack cache as the
// user's environment has it (on, by default) or turned off by the user
// (every stack fresh: the peaks as a never-used stack shows them), and
// returns the rows and the measured peak of each row's thread.
func reuseRun(t *testing.T, prog, mode string, cacheOff bool) ([]touchRow, []uint64, runOut) {
	t.Helper()
	env := os.Environ()
	if cacheOff {
		env = append(env, "GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0")
	}
	o := runEnv(t, prog, env, mode)
	if o.res.ExitStatus != 0 || o.res.Crash != nil {
		t.Fatalf("%s: status %d crash %+v stderr %q", mode, o.res.ExitStatus, o.res.Crash, o.stderr)
	}
	rows := touchRows(t, o.stdout)
	var peaks []uint64
	for _, r := range rows {
		th := threadOf(o.res, r.tid)
		if th == nil || !th.PeakMeasured || th.Kind != KindPthread {
			t.Fatalf("%s: thread %d: %+v", mode, r.tid, th)
		}
		peaks = append(peaks, th.Peak)
	}
	return rows, peaks, o
}

// TestReusedStackPeaks: with glibc's stack cache on (the program's own
// environment), a shallow thread that gets the cached stack of a thread
// that went 200 KiB deep has the same peak as on a fresh stack (the same
// program with the cache turned off by the user), and so has the deep
// one; the same on 16 KiB stacks, where glibc's exit madvise frees nothing,
// and in a forked child, whose glibc hands a new thread the stack of a
// parent's thread that was 200 KiB deep at the fork. Each peak is also its
// thread's touch plus the same fixed overhead, within a page.
func TestReusedStackPeaks(t *testing.T) {
	prog := build(t, "stack_reuse", "-O0", "-g", "-pthread")
	for _, mode := range []string{"deep-shallow", "small"} {
		rows, peaks, o := reuseRun(t, prog, mode, false)
		if len(rows) != 2 {
			t.Fatalf("%s: program output %q", mode, o.stdout)
		}
		if rows[0].stack != rows[1].stack {
			t.Fatalf("%s: glibc gave the second thread stack %s, not the first's %s: nothing was reused", mode, rows[1].stack, rows[0].stack)
		}
		_, fresh, _ := reuseRun(t, prog, mode, true)
		if !slices.Equal(peaks, fresh) {
			t.Errorf("%s: peaks %v on a reused stack, %v on fresh stacks", mode, peaks, fresh)
		}
		overhead := int(peaks[1]) - rows[1].bytes
		if overhead < 0 || overhead > 4096 {
			t.Errorf("%s: shallow thread: peak %d, touched %d", mode, peaks[1], rows[1].bytes)
		}
		if d := int(peaks[0]) - rows[0].bytes - overhead; d < -4096 || d > 4096 {
			t.Errorf("%s: deep thread: peak %d, truth %d (touched %d + %d)", mode, peaks[0], rows[0].bytes+overhead, rows[0].bytes, overhead)
		}
	}

	// The fork: rows are the child's shallow thread, then the parent's
	// deep one, on the same stack address.
	rows, peaks, o := reuseRun(t, prog, "fork", false)
	if len(rows) != 2 || rows[0].stack != rows[1].stack {
		t.Fatalf("fork: the child's thread did not get the parent thread's stack: %q", o.stdout)
	}
	// The overhead of deep-shallow's shallow thread, on a fresh stack.
	srows, shallow, _ := reuseRun(t, prog, "deep-shallow", true)
	overhead := int(shallow[1]) - srows[1].bytes
	if d := int(peaks[0]) - rows[0].bytes - overhead; d < -4096 || d > 4096 {
		t.Errorf("fork: the child's shallow thread: peak %d, truth about %d (touched %d + %d)", peaks[0], rows[0].bytes+overhead, rows[0].bytes, overhead)
	}
	if d := int(peaks[1]) - rows[1].bytes - overhead; d < -4096 || d > 4096 {
		t.Errorf("fork: the parent's deep thread: peak %d, truth about %d", peaks[1], rows[1].bytes+overhead)
	}
}

// TestUserStackIsNeverWritten: a buffer the program gives pthread_attr_setstack
// for one thread and then another is the program's own: stackscope writes
// nothing in it (the program's data in the buffer's bottom, below the second
// thread's stack pointer, is intact), and the second thread's peak, which
// counts the first thread's and the program's data, says so and is not
// below the truth.
func TestUserStackIsNeverWritten(t *testing.T) {
	prog := build(t, "stack_reuse", "-O0", "-g", "-pthread")
	rows, peaks, o := reuseRun(t, prog, "user", false)
	if !bytes.Contains(o.stdout, []byte("USER BUFFER intact")) {
		t.Fatalf("the program's stack buffer was changed under run: %q", o.stdout)
	}
	if len(rows) != 2 || rows[0].stack != rows[1].stack {
		t.Fatalf("program output %q", o.stdout)
	}
	th := threadOf(o.res, rows[1].tid)
	if th.PeakStale == "" {
		t.Errorf("the second thread on the reused buffer has no word that its peak %d counts older data", th.Peak)
	}
	if peaks[1] < peaks[0] || threadOf(o.res, rows[0].tid).PeakStale != "" {
		t.Errorf("peaks %v: the second thread's is an upper bound, never below the first's data; the first's is exact", peaks)
	}
	var rep bytes.Buffer
	o.res.WriteText(&rep)
	if !strings.Contains(rep.String(), "<= thread "+strconv.Itoa(rows[1].tid)+": ") {
		t.Errorf("the text does not explain the upper bound:\n%s", rep.String())
	}
}
