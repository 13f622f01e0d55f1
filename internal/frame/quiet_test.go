package frame

import (
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// quietFiles are the programs TestRegsQuiet walks: libc and libstdc++,
// and /usr/bin/node too with STACKSCOPE_FRAME_NODE=1 (a minute more).
func quietFiles() []string {
	paths := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"}
	if os.Getenv("STACKSCOPE_FRAME_NODE") == "1" {
		paths = append(paths, "/usr/bin/node")
	}
	return paths
}

// TestRegsQuiet walks every function of real x86-64 libraries and, at
// each instruction regsQuiet lets the walk skip trackRegs for, runs
// trackRegs on copies of the states and checks that it would have done
// nothing but clear topReg: the same state otherwise, and nothing noted
// in the walker (frame addresses, stored SP copies, lost loads, return
// address writes). It also checks that the shortcut is taken (most
// instructions are quiet), and that whole frames are the same without it.
func TestRegsQuiet(t *testing.T) {
	quiet, total := 0, 0
	var bad []string
	quietCheck = func(w *walker, off int, e *isa.Effect, pre, st state) {
		quiet++
		p, s := pre, st
		frameAddrs, stored, lostLoads, argLost := len(w.frameAddrs), w.slotStored, len(w.lostLoads), len(w.argLost)
		w.trackRegs(off, e, &p, &s)
		want := st
		want.topReg = 0
		if s != want || p != pre || len(w.frameAddrs) != frameAddrs || w.slotStored != stored ||
			len(w.lostLoads) != lostLoads || len(w.argLost) != argLost {
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("%#x", w.addr(off)))
			}
		}
	}
	defer func() { quietCheck = nil }()
	for _, path := range quietFiles() {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("SKIPPED: %s not present", path)
		}
		f, err := binfile.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, fn := range f.Functions {
			code, err := f.Code(fn.Addr, fn.Size)
			if err != nil {
				continue
			}
			fr := Analyze(Input{Addr: fn.Addr, Code: code, Decoder: x86.Decoder{}, StackAlign: 16})
			total += fr.Instructions
		}
		if len(bad) > 0 {
			t.Fatalf("%s: trackRegs would change the state where regsQuiet says it does not: %v", path, bad)
		}
	}
	t.Logf("%d instructions decoded, %d walked past trackRegs", total, quiet)
	if quiet < total/4 {
		t.Errorf("only %d of %d instructions were quiet: the shortcut is hardly taken", quiet, total)
	}
}

// TestRegsQuietFrames compares the frame of every function of the same
// libraries walked with the shortcuts and without them (trackRegs at
// every instruction, as before regsQuiet, and run's general step at
// every instruction, as before quietFlags).
func TestRegsQuietFrames(t *testing.T) {
	for _, path := range quietFiles() {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("SKIPPED: %s not present", path)
		}
		f, err := binfile.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		differ := 0
		for _, fn := range f.Functions {
			code, err := f.Code(fn.Addr, fn.Size)
			if err != nil {
				continue
			}
			in := Input{Addr: fn.Addr, Code: code, Decoder: x86.Decoder{}, StackAlign: 16,
				// (A CFA that differs from every frame size: the
				// mismatch it makes shows where the deepest point was
				// found, which the frame keeps only for the CFI check.)
				CFA: func(pc uint64) (int64, bool) { return -int64(pc), true }}
			got := Analyze(in)
			noQuiet = true
			want := Analyze(in)
			noQuiet = false
			if !reflect.DeepEqual(got, want) {
				differ++
				if differ <= 5 {
					t.Errorf("%s: %s at %#x: frame %+v with regsQuiet, %+v without", path, fn.Name(), fn.Addr, got, want)
				}
			}
		}
		if differ > 0 {
			t.Errorf("%s: %d frames differ", path, differ)
		}
	}
}
