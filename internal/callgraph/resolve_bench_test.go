package callgraph

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
)

// BenchmarkResolve times Build's resolution (from its "program walk" mark
// to its end) of /usr/bin/node, or the file STACKSCOPE_BENCH_FILE names,
// with every core: wall-s/op is its wall time, thread-cpu-s/op the CPU of
// the goroutine that resolves (locked to its thread, whose CPU the kernel
// counts: what a shared machine's load changes least, and on an idle
// machine the phase's length, as the other core's work runs beside it),
// process-cpu-s/op the whole process's in the same time. For issue 19
// (docs/PERFORMANCE.md); `go test -run '^$' -bench Resolve ./internal/callgraph`.
//
// Each build gets a library cache of its own, as `stackscope analyze
// --no-cache FILE` does (libcache.Single): without one, every question
// the models ask of a library (libcache.Frames.Fact) was computed again
// at each call, 0.02 s of the 0.17 s measured, which a run asks once.
// (Before the sixteenth pass the benchmark had none: its numbers are
// not comparable with those.)
func BenchmarkResolve(b *testing.B) {
	f := benchFile(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := func(who int) time.Duration { return benchCPU(b, who) }
	var start time.Time
	var startThread, startProcess time.Duration
	defer func(p func(string)) { Phase = p }(Phase)
	Phase = func(name string) {
		if name == "program walk" {
			start, startThread, startProcess = time.Now(), cpu(unix.RUSAGE_THREAD), cpu(unix.RUSAGE_SELF)
		}
	}
	var wall, thread, process time.Duration
	for b.Loop() {
		Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Libraries: libcache.Single()})
		wall += time.Since(start)
		thread += cpu(unix.RUSAGE_THREAD) - startThread
		process += cpu(unix.RUSAGE_SELF) - startProcess
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(thread.Seconds()/float64(b.N), "thread-cpu-s/op")
	b.ReportMetric(process.Seconds()/float64(b.N), "process-cpu-s/op")
}
