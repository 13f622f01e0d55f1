//go:build linux && amd64

package trace

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// describe is what a thread's record says of its stack, without what
// differs from run to run (tids, peaks).
func describe(th *Thread) string {
	size, req := "-", "-"
	if th.StackSize != nil {
		size = fmt.Sprint(*th.StackSize)
	}
	if th.StackRequested != nil {
		req = fmt.Sprint(*th.StackRequested)
	}
	return fmt.Sprintf("%s top %#x size %s requested %s guard %d region %q", th.Kind, th.StackTop, size, req, th.GuardSize, th.Region)
}

func descriptions(res *Result) []string {
	var d []string
	for _, th := range res.Threads {
		d = append(d, describe(th))
	}
	slices.Sort(d)
	return d
}

// TestOrphansDescribedFromTheirRegisters: a child whose creator's clone,
// fork or vfork event never comes (the creator was dying: CI saw it once in
// a Go program at exit) is described from its own registers at its first
// stop, which are its creator's at the call. With every creator event lost
// (Config.loseCreatorEvents), forks.c's fork, vfork and raw clone() and
// pthread_sizes.c's pthreads (clone3, whose arguments are in memory) get
// the same descriptions as when the events come, and no finding.
func TestOrphansDescribedFromTheirRegisters(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
		args  []string
	}{
		{"forks", []string{"-O0", "-g"}, nil},
		{"pthread_sizes", []string{"-O0", "-g", "-pthread"}, []string{"65536", "100000", "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			prog := build(t, c.name, c.flags...)
			cfg := Config{Path: prog, Args: append([]string{prog}, c.args...), Env: os.Environ(), NoASLR: true}
			want, _ := runCfg(t, cfg)
			cfg.loseCreatorEvents = true
			got, _ := runCfg(t, cfg)
			if got.ExitStatus != 0 || want.ExitStatus != 0 {
				t.Fatalf("exit status %d with the events, %d without", want.ExitStatus, got.ExitStatus)
			}
			if len(got.Findings) != 0 {
				t.Errorf("findings without the creators' events: %q", got.Findings)
			}
			w, g := descriptions(want), descriptions(got)
			if !slices.Equal(w, g) {
				t.Errorf("threads with the creators' events:\n%s\nwithout:\n%s", strings.Join(w, "\n"), strings.Join(g, "\n"))
			}
			if len(w) < 4 {
				t.Errorf("%d threads: %q", len(w), w)
			}
		})
	}
	// A Go program's threads come from runtime.clone, with the new M's g0
	// in R9: described as go-threads of the runtime's g0 size.
	t.Run("go", func(t *testing.T) {
		prog, goroot := buildGo(t)
		g0, _ := goRuntimeSizes(t, goroot)
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		res, _ := runCfg(t, Config{Path: prog, Args: []string{prog}, Env: os.Environ(), Stderr: null, loseCreatorEvents: true})
		if len(res.Findings) != 0 {
			t.Errorf("findings without the creators' events: %q", res.Findings)
		}
		n := 0
		for _, th := range res.Threads {
			if th.Kind == KindMain {
				continue
			}
			n++
			if th.Kind != KindGoThread || th.StackSize == nil || *th.StackSize != g0 {
				t.Errorf("thread %d: %s, want a go-thread of %d bytes", th.TID, describe(th), g0)
			}
		}
		if n < 2 {
			t.Errorf("%d Go runtime threads, want at least 2", n)
		}
	})
}
