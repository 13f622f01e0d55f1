package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// A command that chooses a limit of its own (a run over many files,
// limitHeap) calls fixMemoryLimit: the soft limit below then leaves the
// limit alone instead of lifting it. The mutex keeps the two from
// crossing (a lift decided just before the fixed limit is set).
var (
	memoryLimitMu    sync.Mutex
	memoryLimitFixed bool
)

// fixMemoryLimit sets the Go heap's soft limit to n for the rest of the
// process.
func fixMemoryLimit(n int64) {
	memoryLimitMu.Lock()
	defer memoryLimitMu.Unlock()
	memoryLimitFixed = true
	debug.SetMemoryLimit(n)
}

// softMemoryLimit keeps the heap that SetGCPercent(400) lets grow to five
// times the live heap under a soft limit of base bytes, as long as the
// live heap stays under half of it; past that the limit goes and the
// percentage alone rules. A limit near or under the live heap makes the
// collector run without a pause: libLLVM-15 (900 MB live) took 80 s of
// CPU under a 768 MiB limit instead of 23, and 37 s under a limit kept at
// twice its live heap. GOMEMLIMIT, when set, is the user's and stays.
func softMemoryLimit(base int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(base)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			time.Sleep(20 * time.Millisecond)
			metrics.Read(sample)
			lift := sample[0].Value.Kind() != metrics.KindUint64 || int64(sample[0].Value.Uint64()) > base/2
			memoryLimitMu.Lock()
			fixed := memoryLimitFixed
			if lift && !fixed {
				debug.SetMemoryLimit(math.MaxInt64)
			}
			memoryLimitMu.Unlock()
			if lift || fixed {
				return
			}
		}
	}()
}
