//go:build linux && amd64

package trace

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStressNoLostEvents runs a program that starts thousands of threads
// (threads that start threads, detached threads, forks from threads whose
// children start threads, threads exiting while others start) many times
// under Run: its exit status and output must be what they are without
// stackscope every time, and every thread must be described. Before the
// fix, a thread whose first stop the kernel reported before its creator's
// clone event ran without its breakpoint record and died of our madvise
// breakpoint's SIGTRAP (exit 133) in every run of this program.
// STACKSCOPE_STRESS_RUNS sets the number of runs (default 50, 5 with -short).
func TestStressNoLostEvents(t *testing.T) {
	prog := build(t, "stress", "-O2", "-pthread")
	const spawners, children, forks = 8, 250, 4
	args := []string{strconv.Itoa(spawners), strconv.Itoa(children), strconv.Itoa(forks)}

	// The truth: a plain run.
	cmd := exec.Command(prog, args...)
	var want, wantErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &want, &wantErr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 || want.Len() == 0 || wantErr.Len() != 0 {
		t.Fatalf("plain run: %v, stdout %q, stderr %q; want exit 3 and one line", err, want.String(), wantErr.String())
	}
	waves := (children + 15) / 16
	// main, spawners, their children, every fifth child's grandchild, one
	// detached thread per wave, forkers, fork children and their 4 threads.
	wantThreads := 1 + spawners + spawners*children + spawners*children/5 + spawners*waves + forks + forks*5

	runs := 50
	if testing.Short() {
		runs = 5
	}
	if v, err := strconv.Atoi(os.Getenv("STACKSCOPE_STRESS_RUNS")); err == nil && v > 0 {
		runs = v
	}
	dir := t.TempDir()
	start := time.Now()
	for i := 0; i < runs; i++ {
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
			t.Fatalf("run %d: %v", i, err)
		}
		out, _ := os.ReadFile(so.Name())
		errOut, _ := os.ReadFile(se.Name())
		if res.ExitStatus != 3 || !bytes.Equal(out, want.Bytes()) || len(errOut) != 0 || res.Crash != nil {
			crash := "none"
			if c := res.Crash; c != nil {
				crash = c.Detail
			}
			t.Fatalf("run %d: exit status %d, stdout %q, stderr %q, crash: %s; want 3, %q, nothing, none",
				i, res.ExitStatus, out, errOut, crash, want.String())
		}
		if len(res.Threads) != wantThreads {
			t.Fatalf("run %d: %d threads described, the program has %d", i, len(res.Threads), wantThreads)
		}
		kinds := map[string]int{}
		for _, th := range res.Threads {
			kinds[th.Kind]++
			if th.Ended != EndedExit {
				t.Fatalf("run %d: thread %d (%s) ended %q", i, th.TID, th.Kind, th.Ended)
			}
			if th.Kind == KindPthread && (!th.PeakMeasured || th.StackSize == nil || th.Peak == 0) {
				t.Fatalf("run %d: pthread %d has no measured peak or stack: %+v", i, th.TID, th)
			}
		}
		if kinds[KindMain] != 1 || kinds[KindProcess] != forks || kinds[KindPthread] != wantThreads-1-forks {
			t.Fatalf("run %d: thread kinds %v", i, kinds)
		}
		if len(res.Findings) != 0 {
			t.Fatalf("run %d: findings %q", i, res.Findings)
		}
	}
	t.Logf("%d runs of %d threads and %d processes in %v", runs, wantThreads, forks+1, time.Since(start).Round(time.Millisecond))
}
