package analysis

import (
	"context"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"

	"github.com/stackscope/stackscope/internal/callgraph"
)

// Phase timing for the speed work of docs/PERFORMANCE.md: with
// STACKSCOPE_PHASES=1, RunFile writes to standard error the time since the
// process started and since the last mark at the end of each of its phases
// (one line each), and the CPU time the whole process used in that phase,
// which shows where the wall time of one analysis goes and how many cores
// were busy meanwhile (a CPU profile shows the CPU, not what runs while a
// core idles).
var phases = struct {
	sync.Mutex
	on          bool
	start, last time.Time
	lastCPU     time.Duration
}{on: os.Getenv("STACKSCOPE_PHASES") == "1", start: time.Now(), last: time.Now()}

// The build's own marks (callgraph.Phase: "program walk"; its "build" is
// then the resolution).
func init() {
	if phases.on {
		callgraph.Phase = phase
	}
}

// phase marks the end of the phase name.
func phase(name string) {
	if trace.IsEnabled() {
		// (STACKSCOPE_TRACE: the phases' ends in the execution trace)
		trace.Log(context.Background(), "phase", name)
	}
	if !phases.on {
		return
	}
	phases.Lock()
	defer phases.Unlock()
	now, cpu := time.Now(), processCPU()
	fmt.Fprintf(os.Stderr, "phase %-14s %7.2fs  +%.2fs  cpu +%.2fs\n", name, now.Sub(phases.start).Seconds(), now.Sub(phases.last).Seconds(), (cpu - phases.lastCPU).Seconds())
	phases.last, phases.lastCPU = now, cpu
}
