package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// The soft limit's floor (softMemoryLimit): main's, raised by a run over
// many files (raiseMemoryLimitFloor). The poller that follows the live
// heap reads it at each step.
var memoryLimitFloor atomic.Int64

// raiseMemoryLimitFloor raises the soft limit's floor to n bytes for the
// rest of the process (a floor already higher stays), and sets the limit
// to it at once when that is higher.
func raiseMemoryLimitFloor(n int64) {
	for {
		floor := memoryLimitFloor.Load()
		if n <= floor {
			return
		}
		if memoryLimitFloor.CompareAndSwap(floor, n) {
			break
		}
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if debug.SetMemoryLimit(-1) < n {
		debug.SetMemoryLimit(n)
	}
}

// softMemoryLimit keeps the heap that SetGCPercent(gcPercent) lets grow to
// several times the live heap under a soft limit of base bytes, and once the live
// heap passes two thirds of base, under a limit that follows it at 3/2 of
// the live heap (read every 20 ms). A limit near or under the live heap
// makes the collector run without a pause: libLLVM-15 (900 MB live then)
// took 80 s of CPU under a 768 MiB limit instead of 23, and 37 s under a
// limit kept at twice its live heap. Lifting the limit altogether once the
// live heap passed two thirds of base (as this did until the seventh speed
// pass) let the percentage alone rule (400 then), and a heap that reached
// five times the live heap: libLLVM-15's live heap peaks at 490-515 MB, right at that
// point, and its RSS was 925 MiB in the runs that held and 1.8-2.0 GiB in
// those that lifted. Following the live heap keeps half of it free between
// collections, which spaces them out, without the cliff.
// A run over many files raises the floor (raiseMemoryLimitFloor); it
// used to fix its limit instead (1.5 GiB), and over all of /usr/bin the
// live heap sometimes passed it: 475 collections instead of 67, one
// after the other, and 86 s instead of 45 (sixteenth pass).
// GOMEMLIMIT, when set, is the user's and stays.
func softMemoryLimit(base int64) {
	memoryLimitFloor.Store(base)
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(base)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		limit := base
		for {
			time.Sleep(20 * time.Millisecond)
			metrics.Read(sample)
			want := int64(math.MaxInt64) // no reading: the percentage alone
			if sample[0].Value.Kind() == metrics.KindUint64 {
				want = max(memoryLimitFloor.Load(), int64(sample[0].Value.Uint64())/2*3)
			}
			if want != limit {
				debug.SetMemoryLimit(want)
				limit = want
			}
			if limit == math.MaxInt64 {
				return
			}
		}
	}()
}

// holdFirstCollection puts the collector's next goal first bytes past
// the heap its last collection left (4 MB before any), then, once that
// collection has run, sets its percentage to percent: the soft limit
// alone bounds the heap meanwhile. An analysis opens its files
// and walks the program's first functions in that time, and the two or
// three collections the percentage started there (at 16, 30 and 160 MB
// of heap on /usr/bin/node) each marked while large fresh tables were
// being filled: the symbol tables, the node slab. A page the collector or
// the write barrier reads first maps the zero page, and the write that
// follows faults again with a TLB flush to the other core. Held until 150
// MB (node, 8 runs each, load 5-6: CPU 2.31 to 2.28 s, faults 161,000 to
// 152,000, peak RSS 697 to 669 MiB; 100 MB made the peak 798 MiB: the
// collection that then follows comes later, at a higher heap).
//
// The collection is started by the runtime at that goal, not by a
// goroutine that polls the bytes allocated and lowers the percentage: with
// both cores busy walking, the poller waited for one, and the collection
// started late and at a higher heap (the sixteenth pass, branch
// s16-facts: 166-185 MB instead of 157). A poller now only gives the
// percentage back after the collection, when its delay costs nothing:
// the goal it leaves meanwhile is far off, under the soft limit.
// A later hold (another analysis in the same process: tests) replaces an
// earlier one's, which then leaves the percentage to it.
func holdFirstCollection(first uint64, percent int) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 || sample[1].Value.Kind() != metrics.KindUint64 {
		return // (no reading: the percentage as it is)
	}
	cycles := sample[1].Value.Uint64()
	// The goal is the heap marked last plus the percentage of it (and
	// of the stacks and globals, small here); before any collection, the
	// percentage of 4 MB.
	marked := max(sample[0].Value.Uint64(), 4<<20)
	hold := heldCollection.Add(1)
	debug.SetGCPercent(int(min(first/(marked/100), math.MaxInt32)))
	go func() {
		for heldCollection.Load() == hold {
			time.Sleep(5 * time.Millisecond)
			metrics.Read(sample)
			if sample[1].Value.Uint64() > cycles && heldCollection.CompareAndSwap(hold, hold+1) {
				debug.SetGCPercent(percent)
				return
			}
		}
	}()
}

// heldCollection numbers the holds of holdFirstCollection: a poller acts
// only while the number is still its own.
var heldCollection atomic.Uint64
