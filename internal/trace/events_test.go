//go:build linux && amd64

package trace

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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
	start := time.Now()
	for i := 0; i < runs; i++ {
		o := runQuiet(t, prog, args...)
		res, out, errOut := o.res, o.stdout, o.stderr
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

// TestMappingQueryMatchesMaps: every mapping of this process, asked for
// with PROCMAP_QUERY at its start and at its last byte, is the line
// /proc/self/maps shows (start, end, permissions, offset, path).
func TestMappingQueryMatchesMaps(t *testing.T) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	maps := readMaps(os.Getpid())
	var name [4096]byte
	checked := 0
	for _, m := range maps {
		if m.path == "[vsyscall]" {
			continue // outside the process's own address space list
		}
		for _, a := range []uint64{m.start, m.end - 1} {
			got, ok, unsupported := queryMapping(f, a, name[:])
			if unsupported {
				t.Skip("PROCMAP_QUERY is not supported by this kernel (Linux 6.11)")
			}
			if !ok || got != m {
				// Maps can change under a running Go program (heap growth):
				// compare with a fresh read before failing.
				if fresh, _, found := findMapping(readMaps(os.Getpid()), a); !found || fresh != got {
					t.Errorf("at %#x: query %+v (ok %v), maps %+v", a, got, ok, m)
				}
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d mappings checked", checked)
	}
}

// TestScanPresent: the lowest non-zero byte of a mapping where a few pages
// were written, found with PAGEMAP_SCAN, is the one written, and the
// pagemap entries (the older kernels' way) say the same.
func TestScanPresent(t *testing.T) {
	const size = 8 << 20
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	unix.Madvise(b, unix.MADV_NOHUGEPAGE)
	lo := uint64(uintptr(unsafe.Pointer(&b[0])))
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	mem := openMem(os.Getpid())
	defer mem.close()

	if _, ok, _ := scanPresent(pm, mem, lo, lo+size); ok {
		t.Fatalf("an untouched mapping has a lowest touched byte")
	}
	b[size-1] = 1      // the top page
	if b[5<<20] != 0 { // a page only read: present (the zero page), zero
		t.Fatal("fresh memory is not zero")
	}
	b[3<<20+4096+17] = 9 // the deepest write
	b[6<<20] = 2
	want := lo + 3<<20 + 4096 + 17
	low, ok, supported := scanPresent(pm, mem, lo, lo+size)
	if !supported {
		t.Log("PAGEMAP_SCAN is not supported by this kernel (Linux 6.7); only the pagemap entries are checked")
	} else if !ok || low != want {
		t.Errorf("PAGEMAP_SCAN: lowest non-zero byte %#x (found %v), want %#x", low, ok, want)
	}
	saved := pagemapScanUnsupported
	pagemapScanUnsupported = true
	low, ok = lowestTouchedIn(pm, mem, lo, lo+size)
	pagemapScanUnsupported = saved
	if !ok || low != want {
		t.Errorf("pagemap entries: lowest non-zero byte %#x (found %v), want %#x", low, ok, want)
	}
}
