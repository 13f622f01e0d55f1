//go:build linux && amd64

package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// retsmash builds testdata/retsmash_lib.c as a shared library (without a
// stack protector, with opts) and a host that calls its compute_op64: through
// dlopen/dlsym when dlopen is true, linked directly otherwise. It returns
// the command line that runs the host, before its own arguments.
func retsmash(t *testing.T, dlopen bool, opts ...string) []string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libretsmash.so")
	args := append(append([]string{"-shared", "-fPIC", "-fno-stack-protector", "-g"}, opts...), "-o", lib, filepath.Join(td, "retsmash_lib.c"))
	testutil.Run(t, dir, gcc, args...)
	host := filepath.Join(dir, "host")
	if dlopen {
		testutil.Run(t, dir, gcc, "-O0", "-g", "-DUSE_DLOPEN", "-o", host, filepath.Join(td, "retsmash_host.c"), "-ldl")
		return []string{host, lib}
	}
	testutil.Run(t, dir, gcc, "-O0", "-g", "-o", host, filepath.Join(td, "retsmash_host.c"), "-L"+dir, "-lretsmash", "-Wl,-rpath,"+dir)
	return []string{host}
}

// plain runs the command without stackscope: its exit status (128+N for
// signal N) and stdout.
func plain(t *testing.T, argv []string) (int, []byte) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.Bytes()
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), out.Bytes()
		}
		return ee.ExitCode(), out.Bytes()
	}
	t.Fatalf("%s: %v", argv[0], err)
	return 0, nil
}

// runSame traces argv and checks that the exit status and stdout are the
// plain run's.
func runSame(t *testing.T, argv ...string) runOut {
	t.Helper()
	status, stdout := plain(t, argv)
	o := run(t, argv[0], argv[1:]...)
	if o.res.ExitStatus != status || !bytes.Equal(o.stdout, stdout) {
		t.Errorf("%q: status %d stdout %q under run, %d %q plainly", argv, o.res.ExitStatus, o.stdout, status, stdout)
	}
	return o
}

// TestReturnIntoSmashedAddress: compute_op64, in a library built without
// a stack protector, copies 32 ints into its int[16] and returns through
// the copied data. With data that is a canonical address (37, 39, ...: the
// `ret` jumps there and the fetch faults) and with 'A' bytes (the `ret`
// itself faults), at -O0 and -O2, loaded by dlopen or linked: a stack
// buffer overrun of compute_op64, named with its library in the text and
// the JSON, its int[16] listed, and the exit status the program's own.
func TestReturnIntoSmashedAddress(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		for _, dl := range []bool{true, false} {
			argv := retsmash(t, dl, opt)
			for _, data := range []string{"ints", "fill"} {
				name := opt + map[bool]string{true: "/dlopen/", false: "/linked/"}[dl] + data
				t.Run(name, func(t *testing.T) {
					o := runSame(t, append(argv, "32", data)...)
					c := wantCrash(t, o.res, ClassStackOverrun, "compute_op64")
					if baseName(c.Module) != "libretsmash.so" {
						t.Errorf("module %q, want the library", c.Module)
					}
					if !strings.Contains(strings.Join(c.LocalArrays, ","), "int[16] buf") {
						t.Errorf("local arrays %q lack int[16] buf", c.LocalArrays)
					}
					if !strings.Contains(c.Detail, "its array buf (int[16], 64 B") {
						t.Errorf("detail %q does not name the array that overran", c.Detail)
					}
					if !strings.Contains(c.Detail, "inferred from the stack") {
						t.Errorf("detail %q", c.Detail)
					}
					var text bytes.Buffer
					o.res.WriteText(&text)
					first, _, _ := strings.Cut(text.String(), "\n")
					if !strings.Contains(first, "STACK BUFFER OVERRUN in compute_op64 (libretsmash.so)") {
						t.Errorf("crash line %q does not name the function with its library", first)
					}
					var js bytes.Buffer
					o.res.WriteJSON(&js)
					var m struct {
						Crash struct{ Class, Function, Module string }
					}
					if err := json.Unmarshal(js.Bytes(), &m); err != nil {
						t.Fatal(err)
					}
					if m.Crash.Class != ClassStackOverrun || m.Crash.Function != "compute_op64" || baseName(m.Crash.Module) != "libretsmash.so" {
						t.Errorf("JSON crash %+v", m.Crash)
					}
					if data == "fill" {
						// The `ret` faulted: frame 0 is in the library,
						// and its line says so.
						if !strings.Contains(text.String(), "compute_op64+0x") || !strings.Contains(text.String(), "(libretsmash.so, retsmash_lib.c:") {
							t.Errorf("backtrace does not name the library:\n%s", text.String())
						}
					}
				})
			}
			// 16 ints fit: no crash, the same output.
			if o := runSame(t, append(argv, "16", "ints")...); o.res.Crash != nil || o.res.ExitStatus != 0 {
				t.Errorf("%s no overrun: crash %+v status %d", opt, o.res.Crash, o.res.ExitStatus)
			}
		}
	}
}

// TestReturnIntoSmashedAddressNoDWARF: the library without debug
// information. The function is still found (its callee's return address
// below SP, its frame decoded from its code holding the data), only the
// array is not named.
func TestReturnIntoSmashedAddressNoDWARF(t *testing.T) {
	argv := retsmash(t, true, "-O2", "-g0")
	o := runSame(t, append(argv, "32", "ints")...)
	c := wantCrash(t, o.res, ClassStackOverrun, "compute_op64")
	if baseName(c.Module) != "libretsmash.so" || len(c.LocalArrays) != 0 || strings.Contains(c.Detail, "its array") {
		t.Errorf("module %q arrays %q detail %q: want the library, no arrays", c.Module, c.LocalArrays, c.Detail)
	}
}

// TestBadFunctionPointerIsNotAnOverrun: a call through a corrupted
// function pointer (a global, not on the stack) to an address that is not
// code faults the same way on the fetch, but the return address is on top
// of the stack, after the indirect call: not an overrun, and the frame
// that made the call is on the backtrace.
func TestBadFunctionPointerIsNotAnOverrun(t *testing.T) {
	for _, dl := range []bool{true, false} {
		argv := retsmash(t, dl, "-O0")
		o := runSame(t, append(argv, "16", "fnptr")...)
		c := o.res.Crash
		if c == nil || c.Class != ClassOther || c.Function != "run_op" || c.Module != "" {
			t.Fatalf("crash %+v, want class other in run_op (the program's own)", c)
		}
		var text bytes.Buffer
		o.res.WriteText(&text)
		// Frames in libc are named with it; the program's are not.
		if !strings.Contains(text.String(), "(libc.so.6)") || strings.Contains(text.String(), "run_op+0x24 (host") {
			t.Errorf("backtrace:\n%s", text.String())
		}
	}
}

// TestWildReturnIsNotAnOverrun: one stray store of data over a return
// address, with nothing like it around: the return goes into data, and
// the report says so, but infers no overrun.
func TestWildReturnIsNotAnOverrun(t *testing.T) {
	argv := retsmash(t, false, "-O0")
	o := runSame(t, append(argv, "16", "wild")...)
	c := o.res.Crash
	if c == nil || c.Class != ClassOther || !strings.Contains(c.Detail, "returned into data") ||
		!strings.Contains(c.Detail, "0x4b00000049") {
		t.Fatalf("crash %+v, want class other, returned into data", c)
	}
}
