package emu

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildRTOSHook builds testdata/rtos/app.c with hook.c (the kernel's stack
// overflow hook) for mps2-an385, with -D defines.
func buildRTOSHook(t *testing.T, dir string, defines ...string) string {
	t.Helper()
	app, _ := filepath.Abs(filepath.Join("testdata", "rtos", "app.c"))
	hook, _ := filepath.Abs(filepath.Join("testdata", "rtos", "hook.c"))
	sub := filepath.Join(dir, strings.NewReplacer("=", "", "_", "").Replace(strings.Join(defines, "")))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	return testutil.BuildFreeRTOS(t, sub, testutil.FreeRTOSApp{Port: rtosPorts["mps2-an385"], App: []string{app, hook},
		Defines: append([]string{"INCLUDE_xTaskGetIdleTaskHandle=1"}, defines...)})
}

// objectBelow is the data object the linker put nearest below addr (its
// end at or below addr), from the ELF's symbols.
func objectBelow(t *testing.T, fw string, addr uint64) (elf.Symbol, bool) {
	t.Helper()
	f, err := elf.Open(fw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var best elf.Symbol
	found := false
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 && s.Value+s.Size <= addr && (!found || s.Value > best.Value) {
			best, found = s, true
		}
	}
	return best, found
}

func symbolAddr(t *testing.T, fw, name string) uint64 {
	t.Helper()
	f, err := elf.Open(fw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s has no symbol %s", fw, name)
	return 0
}

// TestInjectTask: the static "worker" task (300 words, a ~600-byte call
// chain) is given 256 bytes. The kernel then uses the start of
// worker_stack as its stack, so the chain runs out of the buffer into the
// object the linker put below it (WORKER_LOG: a plain array), which the
// test finds in the ELF. With configCHECK_FOR_STACK_OVERFLOW 2 the
// kernel's check calls the hook for the worker at its next switch, after
// the array was written: a hook ending in a semihosting exit is a safe end
// but the data was corrupted first (SILENT CORRUPTION, said as before the
// hook), one that loops is a HANG; with the check off the program runs on
// to its end: SILENT CORRUPTION of the array. The app is built
// cooperative (configUSE_PREEMPTION 0) so that the kernel's check comes
// where it would on the part, at the worker's vTaskDelay after the whole
// chain: here the tick runs on the host's clock and each watched store
// costs host time, so a preempting tick's check would land inside the
// chain after a number of stores that depends on the host (measured: 7
// words, then 0 in another run).
func TestInjectTask(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		defines     []string
		hook        bool
		handler     []string
		wantVerdict string
	}{
		{[]string{"configCHECK_FOR_STACK_OVERFLOW=2", "HOOK_EXIT", "WORKER_LOG", "configUSE_PREEMPTION=0"}, true, []string{"safe-end"}, VerdictSilent},
		{[]string{"configCHECK_FOR_STACK_OVERFLOW=2", "WORKER_LOG", "configUSE_PREEMPTION=0"}, true, []string{"endless-loop"}, VerdictHang},
		{[]string{"configCHECK_FOR_STACK_OVERFLOW=0", "WORKER_LOG", "configUSE_PREEMPTION=0"}, false, []string{"exit", "ran-on"}, VerdictSilent},
	} {
		t.Run(strings.Join(c.defines, ","), func(t *testing.T) {
			fw := buildRTOSHook(t, dir, c.defines...)
			r, err := inject(t, fw, InjectOptions{Task: "worker", Stack: 256})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			r.WriteText(&text)
			t.Log(text.String())
			buf := symbolAddr(t, fw, "worker_stack")
			if r.StackLimit != buf || r.StackTop != buf+256 {
				t.Errorf("task stack %#x-%#x, want worker_stack %#x plus 256", r.StackLimit, r.StackTop, buf)
			}
			below, ok := objectBelow(t, fw, buf)
			if !ok {
				t.Fatal("no object below worker_stack")
			}
			if len(r.Writes) == 0 || r.Writes[0].Addr >= buf {
				t.Fatalf("no write below worker_stack: %+v", r.Writes)
			}
			// The first named object the overflow reached is the one
			// right below the buffer (a gap between them is named by
			// its section).
			named := r.named()
			if len(named) == 0 || named[0] != below.Name {
				t.Errorf("corrupted %v, want %s (%#x-%#x) first", r.Corrupted, below.Name, below.Value, below.Value+below.Size)
			}
			if (r.Hook != nil) != c.hook || c.hook && r.Hook.Task != "worker" {
				t.Errorf("hook %+v, want called for worker: %v", r.Hook, c.hook)
			}
			handlerOK := false
			for _, h := range c.handler {
				handlerOK = handlerOK || r.Handler == h
			}
			if !handlerOK {
				t.Errorf("handler %s (%s), want one of %v", r.Handler, r.HandlerDetail, c.handler)
			}
			if r.Verdict != c.wantVerdict || !strings.HasPrefix(r.Headline(), r.Verdict) {
				t.Errorf("verdict %s, want %s", r.Verdict, c.wantVerdict)
			}
			if c.hook && r.Verdict == VerdictSilent && !strings.Contains(r.Headline(), "before the kernel's check called vApplicationStackOverflowHook") {
				t.Errorf("headline %q does not say the hook came after the corruption", r.Headline())
			}
		})
	}
}

// TestInjectTaskBadInput: a task that does not exist is one line listing
// the tasks, and a size not smaller than the task's is refused; QEMU is
// gone after both (inject checks).
func TestInjectTaskBadInput(t *testing.T) {
	fw := buildRTOSHook(t, t.TempDir(), "configCHECK_FOR_STACK_OVERFLOW=2")
	for _, c := range []struct {
		opts InjectOptions
		want []string
	}{
		{InjectOptions{Task: "nosuch", Stack: 256}, []string{"no such task", "producer", "consumer", "worker", "report", "IDLE"}},
		{InjectOptions{Task: "worker", Stack: 4096}, []string{"not smaller than task worker's stack (300 words"}},
	} {
		_, err := inject(t, fw, c.opts)
		var ie *InputError
		if !errors.As(err, &ie) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %v, want one line", c.opts, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v: no %q", c.opts, err, w)
			}
		}
	}
}
