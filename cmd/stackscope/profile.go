package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
)

// startProfiles starts the profiles the environment asks for, for the
// measurements in docs/PERFORMANCE.md:
//
//	STACKSCOPE_CPUPROFILE=FILE  a CPU profile (go tool pprof)
//	STACKSCOPE_MEMPROFILE=FILE  a heap profile at the end (go tool pprof
//	                            -sample_index=alloc_space or inuse_space),
//	                            as of the last collection: inuse is what
//	                            was live then (near the peak), and what
//	                            was allocated since is not counted
//	STACKSCOPE_TRACE=FILE       an execution trace (go tool trace; with
//	                            -pprof=sync, where goroutines waited for
//	                            each other: what a CPU profile cannot show)
//
// The returned function writes them out; it is safe to call more than once.
// With any of them set, SIGUSR1 (on Unix) writes them out and ends the process with exit
// code 2, so that a run too long or too large to finish can still be
// profiled. Without them, nothing changes.
func startProfiles() (stop func()) {
	cpuPath := os.Getenv("STACKSCOPE_CPUPROFILE")
	memPath := os.Getenv("STACKSCOPE_MEMPROFILE")
	tracePath := os.Getenv("STACKSCOPE_TRACE")
	if memPath == "" {
		// No heap profile is written: the runtime need not sample one (a
		// stack walk and a bucket per 512 KiB allocated, 0.5% of the CPU
		// time of /usr/bin/node's analysis, perf record).
		runtime.MemProfileRate = 0
	}
	if cpuPath == "" && memPath == "" && tracePath == "" {
		return func() {}
	}
	traceFile := startTrace(tracePath)
	var cpuFile *os.File
	if cpuPath != "" {
		if f, err := os.Create(cpuPath); err == nil && pprof.StartCPUProfile(f) == nil {
			cpuFile = f
		}
	}
	if memPath != "" {
		// Every allocation, not one per 512 KiB: the profile is for finding
		// what holds the memory, and stackscope allocates in small pieces.
		runtime.MemProfileRate = 4096
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if traceFile != nil {
				trace.Stop()
				traceFile.Close()
			}
			if cpuFile != nil {
				pprof.StopCPUProfile()
				cpuFile.Close()
			}
			if memPath != "" {
				// The heap profile counts what was allocated up to the
				// last collection: one now, so that it counts the whole run.
				runtime.GC()
				if f, err := os.Create(memPath); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		})
	}
	if len(profileSignals) == 0 {
		return stop
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, profileSignals...)
	go func() {
		<-usr1
		stop()
		fmt.Fprintln(os.Stderr, "stackscope: stopped by SIGUSR1, profiles written")
		os.Exit(exitUsage)
	}()
	return stop
}

// startTrace starts an execution trace into the file at path, if path is
// not empty and the file can be made; it returns the file, or nil.
func startTrace(path string) *os.File {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil
	}
	if trace.Start(f) != nil {
		f.Close()
		return nil
	}
	return f
}
