package callgraph

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// BenchmarkBuild builds the graph of one program with its libraries, on
// one worker (the frame walk's CPU, then the edges'): /usr/bin/node, or
// the file STACKSCOPE_BENCH_FILE names. For the speed work of issue 19
// (docs/PERFORMANCE.md); `go test -run '^$' -bench Build ./internal/callgraph`.
func BenchmarkBuild(b *testing.B) {
	f := benchFile(b)
	b.ReportAllocs()
	for b.Loop() {
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Workers: 1})
		b.ReportMetric(float64(len(g.Nodes)), "nodes")
	}
}

// BenchmarkWalk walks every function of the same file on one worker (the
// frame walk alone, without the edges): its ns/op is the walk's CPU.
func BenchmarkWalk(b *testing.B) {
	f := benchFile(b)
	g := &Graph{Arch: f.Arch, Decoder: x86.Decoder{}, opts: Options{StackAlign: 16}, externals: map[string]int{}}
	g.addModule(f)
	b.ReportAllocs()
	for b.Loop() {
		insts := 0
		for i := range f.Functions {
			fr := g.walkFunction(f, &f.Functions[i])
			insts += fr.Instructions
		}
		b.ReportMetric(float64(insts), "insts")
	}
}

// BenchmarkModelRuntime runs the glibc models (ModelRuntime) on the
// resolved graph of the same file; the build is not timed. Its ns/op is
// the models' wall time; thread-cpu-s/op their CPU on the goroutine that
// calls them (locked to its thread, whose CPU time the kernel counts:
// the figure a shared machine's load changes least), without the work
// they give other goroutines; process-cpu-s/op the whole process's CPU
// in the same time (those goroutines too). The debug layouts the models read are kept
// across iterations (their caches are per file): the first iteration
// reads them, on the prefetch's goroutine.
func BenchmarkModelRuntime(b *testing.B) {
	f := benchFile(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The process's CPU counts the models' work on other goroutines too
	// (the sweeps on every core), and whatever of Build still runs.
	threadCPU := func() time.Duration { return benchCPU(b, unix.RUSAGE_THREAD) }
	processCPU := func() time.Duration { return benchCPU(b, unix.RUSAGE_SELF) }
	var cpu, all time.Duration
	for b.Loop() {
		b.StopTimer()
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16})
		g.Resolve()
		b.StartTimer()
		before, beforeAll := threadCPU(), processCPU()
		g.ModelRuntime()
		cpu += threadCPU() - before
		all += processCPU() - beforeAll
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "thread-cpu-s/op")
	b.ReportMetric(all.Seconds()/float64(b.N), "process-cpu-s/op")
}

// benchFile opens the file the benchmarks analyse: /usr/bin/node, or the
// one STACKSCOPE_BENCH_FILE names; the benchmark is skipped without it,
// or when it is not x86-64.
func benchFile(b *testing.B) *binfile.File {
	path := os.Getenv("STACKSCOPE_BENCH_FILE")
	if path == "" {
		path = "/usr/bin/node"
	}
	f, err := binfile.Open(path)
	if err != nil {
		b.Skipf("SKIPPED: %v", err)
	}
	if f.Arch != binfile.ArchX86_64 {
		b.Skipf("SKIPPED: %s is not x86-64", path)
	}
	return f
}

// benchCPU is the CPU time (user and system) of who: unix.RUSAGE_THREAD
// (the calling thread: lock the goroutine to it) or unix.RUSAGE_SELF.
func benchCPU(b *testing.B, who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
