//go:build linux && amd64

package trace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runCfg traces cfg with stdout captured to a file and returns both.
func runCfg(t *testing.T, cfg Config) (*Result, string) {
	t.Helper()
	so, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	cfg.Stdout = so
	res, err := Run(cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Path, err)
	}
	out, _ := os.ReadFile(so.Name())
	return res, string(out)
}

func field(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("no %q in output %q", name, out)
	return ""
}

func TestStackLimitAndNoASLR(t *testing.T) {
	prog := build(t, "limits", "-O0", "-g", "-pthread")
	var before unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &before); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Path: prog, Args: []string{prog}, Env: []string{"PATH=/usr/bin:/bin"}, StackLimit: 256 << 10, NoASLR: true}
	res, out := runCfg(t, cfg)
	if res.ExitStatus != 0 {
		t.Fatalf("exit status %d", res.ExitStatus)
	}
	if got := field(t, out, "rlimit"); got != "262144" {
		t.Errorf("child's RLIMIT_STACK = %s, want 262144", got)
	}
	if got := field(t, out, "pthread"); got != "262144" {
		t.Errorf("glibc's default pthread stack size = %s, want 262144", got)
	}
	main := res.Threads[0]
	if main.StackSize == nil || *main.StackSize != 256<<10 {
		t.Errorf("main stack size %v, want 256 KiB", main.StackSize)
	}
	if main.StartUse == 0 || main.StartUse > 16<<10 || main.StartUse > main.Peak {
		t.Errorf("start use %d (peak %d): want argv+envp+auxv, a few hundred bytes", main.StartUse, main.Peak)
	}
	// Our own limit is back.
	var after unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("stackscope's RLIMIT_STACK changed: %+v -> %+v", before, after)
	}
	// Without randomisation the stack is at the same place every time.
	addr := field(t, out, "local")
	start := main.StartUse
	for i := 0; i < 2; i++ {
		res, out := runCfg(t, cfg)
		if got := field(t, out, "local"); got != addr {
			t.Errorf("run %d: local at %s, first run %s (ASLR not off?)", i+2, got, addr)
		}
		if res.Threads[0].StartUse != start {
			t.Errorf("run %d: start use %d, first run %d", i+2, res.Threads[0].StartUse, start)
		}
	}
}

func TestStackLimitTooSmallOverflows(t *testing.T) {
	prog := build(t, "main_recursion", "-O0", "-g")
	res, _ := runCfg(t, Config{Path: prog, Args: []string{prog}, StackLimit: 64 << 10, NoASLR: true})
	wantCrash(t, res, ClassStackOverflow, "runaway")
	// It overflowed: the peak is the whole 64 KiB and what the faulting
	// frame reached below it (a frame of main_recursion is under 4 KiB).
	if th := res.Threads[0]; th.Peak < 64<<10 || th.Peak > 68<<10 || th.Overflow != th.Peak-64<<10 {
		t.Errorf("peak %d (overflow %d), want the 64 KiB limit and a little more", th.Peak, th.Overflow)
	}
}

func TestTimeout(t *testing.T) {
	sleep, err := os.Stat("/bin/sleep")
	if err != nil || sleep.IsDir() {
		t.Skip("no /bin/sleep")
	}
	start := time.Now()
	res, _ := runCfg(t, Config{Path: "/bin/sh", Args: []string{"sh", "-c", "/bin/sleep 30 & /bin/sleep 30; wait"}, Timeout: 300 * time.Millisecond})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v with a 300ms timeout", d)
	}
	if !res.TimedOut {
		t.Errorf("TimedOut not set")
	}
	if res.ExitStatus != 128+9 {
		t.Errorf("exit status %d, want 137", res.ExitStatus)
	}
	// Without a timeout nothing is killed.
	res, _ = runCfg(t, Config{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}, Timeout: 10 * time.Second})
	if res.TimedOut || res.ExitStatus != 3 {
		t.Errorf("quick run: timed out %v, status %d", res.TimedOut, res.ExitStatus)
	}
}
