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
// live heap stays under two thirds of it (liftAt); past that the limit goes and the
// percentage alone rules. A limit near or under the live heap makes the
// collector run without a pause: libLLVM-15 (900 MB live) took 80 s of
// CPU under a 768 MiB limit instead of 23, and 37 s under a limit kept at
// twice its live heap. GOMEMLIMIT, when set, is the user's and stays.
//
// The live heap past which the limit lifts is two thirds of it. At one
// half, /usr/bin/node (a live heap of 380-400 MB at its
// end) lifted it in some runs and not in others, and peaked at 1.1-1.5
// GiB of RSS when it did; held, it peaks at about 850 MiB for the same
// CPU (GOMEMLIMIT=768MiB: 5.7 s either way, docs/PERFORMANCE.md). A
// third of the limit left free still spaces the collections out.
func softMemoryLimit(base int64) {
	liftAt := base / 3 * 2
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(base)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			time.Sleep(20 * time.Millisecond)
			metrics.Read(sample)
			lift := sample[0].Value.Kind() != metrics.KindUint64 || int64(sample[0].Value.Uint64()) > liftAt
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
