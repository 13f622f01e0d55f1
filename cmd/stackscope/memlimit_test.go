package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

var holdSink []byte

// gcCycles is the number of collections the process has finished.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gogc is the collector's percentage.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHoldFirstCollection checks that holdFirstCollection keeps the
// collector from running while the first bytes are allocated (at the
// percentage of 100, 48 MB of garbage in 1 MB pieces collects several
// times) and gives the percentage back once they are.
func TestHoldFirstCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	before := gcCycles()
	holdFirstCollection(64<<20, 100)
	for range 48 {
		holdSink = make([]byte, 1<<20)
	}
	if n := gcCycles() - before; n != 0 {
		t.Fatalf("%d collections within the first 48 MB", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for gcCycles() == before {
		if time.Now().After(deadline) {
			t.Fatal("no collection 30 s after the first 64 MB")
		}
		holdSink = make([]byte, 1<<20)
		time.Sleep(100 * time.Microsecond)
	}
	// (given back by the poller once it sees the collection: within a
	// few of its 5 ms sleeps)
	for gogc() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("percentage %d 30 s after the first collection, want 100", gogc())
		}
		time.Sleep(time.Millisecond)
	}
	holdSink = nil
}

// TestRaiseMemoryLimitFloor: a run over many files raises the soft
// limit's floor and the limit with it; a lower floor asked later leaves
// both as they are.
func TestRaiseMemoryLimitFloor(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the limit is the user's")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	was := memoryLimitFloor.Load()
	defer memoryLimitFloor.Store(was)
	memoryLimitFloor.Store(1 << 30)
	debug.SetMemoryLimit(1 << 30)
	raiseMemoryLimitFloor(3 << 29)
	if floor, limit := memoryLimitFloor.Load(), debug.SetMemoryLimit(-1); floor != 3<<29 || limit != 3<<29 {
		t.Fatalf("floor %d, limit %d after raising to %d", floor, limit, 3<<29)
	}
	raiseMemoryLimitFloor(1 << 29)
	if floor, limit := memoryLimitFloor.Load(), debug.SetMemoryLimit(-1); floor != 3<<29 || limit != 3<<29 {
		t.Fatalf("floor %d, limit %d after asking a lower floor", floor, limit)
	}
}
