//go:build linux && amd64

package trace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func reportText(r *Result) string {
	var b bytes.Buffer
	r.WriteText(&b)
	return b.String()
}

// TestSentSignal: a SIGSEGV sent with kill() is not a fault. Sent by the
// program to itself, or by a shell it spawned, the report names the
// sender (the shell by its command name and the pid the kernel gives);
// a real NULL dereference is an invalid memory access with no sender.
// Every run exits 139, as it does without stackscope.
func TestSentSignal(t *testing.T) {
	prog := build(t, "sent_signal", "-O0", "-g")

	o := run(t, prog, "self")
	c := o.res.Crash
	if c == nil || o.res.ExitStatus != 139 {
		t.Fatalf("self: crash %+v, status %d", c, o.res.ExitStatus)
	}
	main := o.res.Threads[0]
	if c.Class != ClassOther || c.Code != "SI_USER" || c.Sender == nil || !c.Sender.Self || c.Sender.PID != main.PID || c.Sender.Call != "kill" {
		t.Errorf("self: class %s code %s sender %+v (pid %d)", c.Class, c.Code, c.Sender, main.PID)
	}
	if !strings.Contains(c.Detail, "sent by the program itself with kill()") || strings.Contains(c.Detail, "invalid memory access") {
		t.Errorf("self: detail %q", c.Detail)
	}

	o = run(t, prog, "shell")
	c = o.res.Crash
	if c == nil || o.res.ExitStatus != 139 {
		t.Fatalf("shell: crash %+v, status %d", c, o.res.ExitStatus)
	}
	// The program prints the spawned shell's pid: the sender.
	var spawned int
	if _, err := fmt.Sscanf(string(o.stdout), "spawned %d", &spawned); err != nil {
		t.Fatalf("shell: stdout %q", o.stdout)
	}
	if c.Sender == nil || c.Sender.Self || c.Sender.PID != spawned || c.Sender.Command != "sh" {
		t.Fatalf("shell: sender %+v, want process %d (sh)", c.Sender, spawned)
	}
	want := fmt.Sprintf("sent by process %d (sh) with kill()", spawned)
	if !strings.Contains(c.Detail, want) || !strings.Contains(reportText(o.res), want) {
		t.Errorf("shell: detail %q, want %q", c.Detail, want)
	}
	if !strings.HasPrefix(o.res.Verdict(), "SIGSEGV sent by") {
		t.Errorf("shell: verdict %q", o.res.Verdict())
	}

	o = run(t, prog, "fault")
	c = wantCrash(t, o.res, ClassOther, "poke")
	if c.Sender != nil || c.Code != "SEGV_MAPERR" || !strings.Contains(c.Detail, "invalid memory access") || strings.Contains(c.Detail, "sent by") {
		t.Errorf("fault: code %s sender %+v detail %q", c.Code, c.Sender, c.Detail)
	}
	if o.res.ExitStatus != 139 {
		t.Errorf("fault: status %d", o.res.ExitStatus)
	}
}

// TestExecdChildProgram: posix_spawn's child starts as a clone() sharing
// the parent's memory and then exec's /bin/sh: after the exec it is a
// process running that program, and the text names each thread's program.
func TestExecdChildProgram(t *testing.T) {
	prog := build(t, "sent_signal", "-O0", "-g")
	o := run(t, prog, "shell")
	var spawned int
	if _, err := fmt.Sscanf(string(o.stdout), "spawned %d", &spawned); err != nil {
		t.Fatalf("stdout %q", o.stdout)
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	th := threadOf(o.res, spawned)
	if th == nil {
		t.Fatalf("no thread %d", spawned)
	}
	if th.Kind != KindProcess || th.Program != sh {
		t.Errorf("spawned child: kind %s program %q, want process running %s", th.Kind, th.Program, sh)
	}
	if o.res.Threads[0].Program != prog {
		t.Errorf("main thread's program %q, want %s", o.res.Threads[0].Program, prog)
	}
	text := reportText(o.res)
	var row string
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == strconv.Itoa(spawned) {
			row = l
		}
	}
	if !strings.Contains(text, "PROGRAM") || !strings.HasSuffix(row, filepath.Base(sh)) || !strings.Contains(row, "process") {
		t.Errorf("the table does not show the child's program: row %q", row)
	}
}

// TestPthreadRequestedSize: the size a pthread asked for, as the thread
// itself reads it (pthread_getattr_np), rounded up to a page, is the
// thread's stack_requested; its usable stack is less by glibc's thread
// descriptor and TLS, and the text shows both.
func TestPthreadRequestedSize(t *testing.T) {
	prog := build(t, "pthread_sizes", "-O0", "-g", "-pthread")
	o := run(t, prog, "65536", "100000", "0")
	if o.res.ExitStatus != 0 || o.res.Crash != nil {
		t.Fatalf("status %d crash %+v", o.res.ExitStatus, o.res.Crash)
	}
	page := uint64(os.Getpagesize())
	n := 0
	for _, line := range strings.Split(string(o.stdout), "\n") {
		var tid int
		var size uint64
		if _, err := fmt.Sscanf(line, "SIZE %d %d", &tid, &size); err != nil {
			continue
		}
		n++
		th := threadOf(o.res, tid)
		if th == nil || th.Kind != KindPthread {
			t.Fatalf("thread %d: %+v", tid, th)
		}
		want := (size + page - 1) / page * page
		if th.StackRequested == nil || *th.StackRequested != want {
			t.Errorf("thread %d: requested %v, want %d (glibc says %d)", tid, th.StackRequested, want, size)
			continue
		}
		// What glibc keeps at the top is its descriptor and the static
		// TLS: a few KiB, not nothing.
		if th.StackSize == nil || *th.StackSize >= want || want-*th.StackSize > 16<<10 {
			t.Errorf("thread %d: usable %v of %d requested", tid, th.StackSize, want)
		}
	}
	if n != 3 {
		t.Fatalf("program output %q", o.stdout)
	}
	text := reportText(o.res)
	if !strings.Contains(text, "ASKED") || !strings.Contains(text, "64.0 KiB") || !strings.Contains(text, "100.0 KiB") {
		t.Errorf("the table lacks the requested sizes:\n%s", text)
	}

	// The crash text of an overflowing 64 KiB pthread says both sizes.
	o = run(t, build(t, "pthread_guard", "-O0", "-g", "-pthread"))
	if !strings.Contains(reportText(o.res), "usable of the 64.0 KiB asked for") {
		t.Errorf("the crash text does not give the 64 KiB asked for")
	}
}

// TestOverflowPeakAgrees: a thread that overflowed shows a peak of at
// least its stack, reaching its SP or fault address, and no headroom:
// a pthread into its guard page, and a clone() child on an 8 KiB malloc'd
// stack into the heap.
func TestOverflowPeakAgrees(t *testing.T) {
	for _, tc := range []struct{ name, flag string }{{"pthread_guard", "-pthread"}, {"clone_heap", "-O0"}} {
		o := run(t, build(t, tc.name, "-O0", "-g", tc.flag))
		c := o.res.Crash
		if c == nil || c.Class != ClassStackOverflow {
			t.Fatalf("%s: crash %+v", tc.name, c)
		}
		th := threadOf(o.res, c.TID)
		if th.StackSize == nil || !th.PeakMeasured || th.Peak <= *th.StackSize {
			t.Errorf("%s: peak %d, stack %v: an overflow must show a peak past the stack", tc.name, th.Peak, th.StackSize)
			continue
		}
		deepest := min(c.SP, c.Addr)
		if th.Peak != th.StackTop-deepest || th.Overflow != th.Peak-*th.StackSize {
			t.Errorf("%s: peak %d overflow %d, want top-min(sp,addr) = %d", tc.name, th.Peak, th.Overflow, th.StackTop-deepest)
		}
		if !strings.Contains(reportText(o.res), "none ("+HumanBytes(th.Overflow)+" over)") {
			t.Errorf("%s: the table's headroom is not none", tc.name)
		}
	}
}
