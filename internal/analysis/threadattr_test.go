package analysis

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestThreadAttrSizes: pthread stack sizes set up the ways compiled code
// keeps them (testdata/threads/attrsizes.c), at every optimisation level.
// The program is run, and prints the stack glibc really gave each thread:
// every size found is that one and the constant in the source; a worker
// needing more is an OVERFLOW by its bound (at least its .su frames) plus
// glibc's context minus the size; a size not known statically is at least
// PTHREAD_STACK_MIN and a worker needing more is never "ok"; an earlier
// size that a later call may have changed is never taken.
func TestThreadAttrSizes(t *testing.T) {
	for _, opt := range []string{"-O0", "-O1", "-O2", "-O3", "-Os"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildThreads(t, dir, "attrsizes.c", opt)
			real := map[string]int64{}
			for _, line := range strings.Split(strings.TrimSpace(testutil.Run(t, dir, bin)), "\n") {
				f := strings.Fields(line)
				if len(f) != 2 {
					t.Fatalf("run printed %q", line)
				}
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil || n <= 0 {
					t.Fatalf("run printed %q", line)
				}
				real[f[0]] = n
			}
			// The declarations bound what start_thread runs after the
			// routine (afterEntryConfig): the verdicts are numbers.
			res, err := Run(bin, Options{Config: parseConfig(t, afterEntryConfig)})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := suFrames(testutil.ParseSU(t, dir))
			if len(res.Threads) != 9 {
				t.Fatalf("%d creation sites, want 9: %+v", len(res.Threads), res.Threads)
			}
			// need is what the worker certainly uses: the .su frames of
			// its _deep helper and fill (the worker's own frame is not
			// counted: at -Os it tail-calls the helper).
			need := func(w string) int64 {
				if su[w] == 0 || su[w+"_deep"] == 0 || su["fill"] == 0 {
					t.Fatalf("no .su frames for %s: %v", w, su)
				}
				return su[w+"_deep"] + su["fill"]
			}
			// The sizes the source sets as constants, found at every level.
			for _, c := range []struct {
				entry  string
				size   int64
				source string
				over   bool
			}{
				{"big_worker", 32768, "pthread_attr_setstacksize(32768)", true},
				{"fit_worker", 32768, "pthread_attr_setstacksize(32768)", false},
				{"helper_worker", 65536, "pthread_attr_setstacksize(65536)", true},
				{"param_worker", 49152, "pthread_attr_setstacksize(49152) in set_size", true},
				{"shrink_worker", 20480, "pthread_attr_setstacksize(20480) in shrink", true},
			} {
				th := threadFor(t, res, c.entry)
				if real[c.entry] != c.size {
					t.Fatalf("%s: the run gave it %d bytes, the source says %d", c.entry, real[c.entry], c.size)
				}
				if th.StackSize == nil || *th.StackSize != c.size || th.SizeAtLeast || th.DefaultSize || !strings.HasPrefix(th.SizeSource, c.source) {
					t.Errorf("%s: stack %v from %q (at least %v), want %d from %s", c.entry, show(th.StackSize), th.SizeSource, th.SizeAtLeast, c.size, c.source)
					continue
				}
				if th.Bound == nil || *th.Bound < need(c.entry) {
					t.Errorf("%s: bound %v below its .su frames %d", c.entry, show(th.Bound), need(c.entry))
					continue
				}
				over := boundedNeed(t, th) - c.size
				switch {
				case c.over && (th.Status != "overflow" || th.Over != over || over < need(c.entry)+th.Context-c.size):
					t.Errorf("%s: %q %q over %d, want overflow by %d", c.entry, th.Status, th.Verdict, th.Over, over)
				case !c.over && (th.Status != "ok" || over > 0):
					t.Errorf("%s: %q %q, want ok (needs %d of %d)", c.entry, th.Status, th.Verdict, th.Need, c.size)
				}
			}
			// Not known statically: at least glibc's minimum, which the
			// worker does not fit, so unknown, never ok; the 1 MiB set
			// before the indirect call, or on one path only, is not taken.
			for _, w := range []string{"argv_worker", "hook_worker", "branch_worker"} {
				th := threadFor(t, res, w)
				if real[w] < 16384 {
					t.Fatalf("%s: the run gave it %d bytes, below PTHREAD_STACK_MIN", w, real[w])
				}
				if th.StackSize == nil || *th.StackSize != 16384 || !th.SizeAtLeast || !strings.Contains(th.SizeSource, "PTHREAD_STACK_MIN") {
					t.Errorf("%s: stack %v from %q (at least %v), want at least PTHREAD_STACK_MIN", w, show(th.StackSize), th.SizeSource, th.SizeAtLeast)
				}
				if th.Status != "unknown" || need(w) <= 16384 {
					t.Errorf("%s: %q %q, want unknown (it needs %d by its .su frames alone)", w, th.Status, th.Verdict, need(w))
				}
			}
			if h := threadFor(t, res, "hook_worker"); !strings.Contains(h.SizeSource, "may change the attributes") {
				t.Errorf("hook_worker: %q does not say the indirect call may change the attributes", h.SizeSource)
			}
			// The loop: one site, LOOPN threads with one attr. At -O0/-O1
			// the attr's address stays in a register; from -O2 GCC spills
			// it to a stack slot that the loop's calls may write (the
			// propagation forgets what a loop body may write), which
			// proves only the minimum.
			lw := threadFor(t, res, "loop_worker")
			if real["loop_worker"] != 24576 {
				t.Fatalf("loop_worker: the run gave it %d bytes", real["loop_worker"])
			}
			exact := lw.StackSize != nil && *lw.StackSize == 24576 && !lw.SizeAtLeast
			least := lw.StackSize != nil && *lw.StackSize == 16384 && lw.SizeAtLeast
			if !exact && !least || (opt == "-O0" || opt == "-O1") && !exact {
				t.Errorf("loop_worker: stack %v from %q (at least %v)", show(lw.StackSize), lw.SizeSource, lw.SizeAtLeast)
			}
			if lw.Status != "ok" {
				t.Errorf("loop_worker: %q %q", lw.Status, lw.Verdict)
			}
		})
	}
}
