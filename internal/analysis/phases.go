package analysis

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Phase timing for the speed work of docs/PERFORMANCE.md: with
// STACKSCOPE_PHASES=1, RunFile writes to standard error the time since the
// process started and since the last mark at the end of each of its phases
// (one line each), which shows where the wall time of one analysis goes
// (a CPU profile shows the CPU, not what runs while a core idles).
var phases = struct {
	sync.Mutex
	on          bool
	start, last time.Time
}{on: os.Getenv("STACKSCOPE_PHASES") == "1", start: time.Now(), last: time.Now()}

// phase marks the end of the phase name.
func phase(name string) {
	if !phases.on {
		return
	}
	phases.Lock()
	defer phases.Unlock()
	now := time.Now()
	fmt.Fprintf(os.Stderr, "phase %-14s %7.2fs  +%.2fs\n", name, now.Sub(phases.start).Seconds(), now.Sub(phases.last).Seconds())
	phases.last = now
}
