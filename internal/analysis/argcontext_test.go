package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestArgumentCallbackPerCaller: a library calls the callback its caller
// passes two levels down (run_cb -> run_cb_slow -> f, as pthread_once ->
// __pthread_once_slow -> init). main passes a shallow callback, worker a
// deep one (a 6 KB array; no red zone, which .su does not count). Each entry's bound is what gcc's .su files add
// up to along its own callback's path: main's does not hold deep's frame,
// as it would with the union of the callbacks every caller passes; with
// and without --strict.
func TestArgumentCallbackPerCaller(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	lib, _ := filepath.Abs("testdata/x86/ctxcb_lib.c")
	prog, _ := filepath.Abs("testdata/x86/ctxcb_prog.c")
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-fstack-usage", "-Wl,-z,now", "-o", filepath.Join(dir, "libctxcb.so"), lib)
	bin := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O2", "-mno-red-zone", "-fstack-usage", "-Wl,-z,now", "-o", bin, prog, "-L"+dir, "-lctxcb", "-Wl,-rpath,"+dir)
	su := suFrames(testutil.ParseSU(t, dir))
	for _, name := range []string{"main", "worker", "run_cb", "run_cb_slow", "shallow", "deep"} {
		if su[name] == 0 {
			t.Fatalf("no .su line for %s", name)
		}
	}
	for _, strict := range []bool{false, true} {
		res, err := Run(bin, Options{Entries: []string{"main", "worker", "both"}, LibPaths: []string{dir}, Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		requirePathSums(t, res)
		check := func(name, callback string) {
			t.Helper()
			want := su[name] + su["run_cb"] + su["run_cb_slow"] + su[callback]
			e := entry(t, res, name)
			if !e.Bounded || *e.Bound != want {
				t.Errorf("strict=%v: %s: bounded %v bound %s, want %d (%s + run_cb + run_cb_slow + %s in the .su files); reasons %s",
					strict, name, e.Bounded, show(e.Bound), want, name, callback, reasonSummary(e))
			}
		}
		check("main", "shallow")
		check("worker", "deep")
		// both calls run_cb_vla (a run-time sized frame) with each
		// callback: not bounded, the reason listed once.
		e := entry(t, res, "both")
		if e.Bounded {
			t.Errorf("strict=%v: both: bounded at %d past run_cb_vla's run-time sized frame", strict, *e.Bound)
		}
		if got := reasonSummary(e); got != "dynamic@run_cb_vla (libctxcb.so)" {
			t.Errorf("strict=%v: both: reasons %q, want run_cb_vla's run-time sized frame once", strict, got)
		}
	}
}

// TestArgumentCallbackCopiesCapped: past callgraph's cap on the copies of
// one chain (here main passes run_cb 130 callbacks and worker one more, 2
// functions copied for each), no copy is made, and every caller reaches
// the union: main's bound holds worker's deep callback, as the .su files
// add up along that path (sound, not per caller).
func TestArgumentCallbackCopiesCapped(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	lib, _ := filepath.Abs("testdata/x86/ctxcb_lib.c")
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-fstack-usage", "-Wl,-z,now", "-o", filepath.Join(dir, "libctxcb.so"), lib)
	var src strings.Builder
	src.WriteString("void run_cb(void (*f)(void));\nvolatile int sink;\n")
	src.WriteString("__attribute__((noinline)) static void deep(void) { volatile char buf[6000]; buf[0] = 1; sink += buf[sink & 4095]; }\n")
	src.WriteString("void worker(void) { run_cb(deep); sink++; }\n")
	const callbacks = 130
	for i := range callbacks {
		fmt.Fprintf(&src, "__attribute__((noinline)) static void cb%d(void) { sink += %d; }\n", i, i+1)
	}
	src.WriteString("int main(void) {\n")
	for i := range callbacks {
		fmt.Fprintf(&src, "\trun_cb(cb%d);\n", i)
	}
	src.WriteString("\treturn 0;\n}\n")
	prog := filepath.Join(dir, "many.c")
	if err := os.WriteFile(prog, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O2", "-mno-red-zone", "-fstack-usage", "-Wl,-z,now", "-o", bin, prog, "-L"+dir, "-lctxcb", "-Wl,-rpath,"+dir)
	su := suFrames(testutil.ParseSU(t, dir))
	res, err := Run(bin, Options{Entries: []string{"main", "worker"}, LibPaths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	for _, name := range []string{"main", "worker"} {
		want := su[name] + su["run_cb"] + su["run_cb_slow"] + su["deep"]
		if e := entry(t, res, name); !e.Bounded || *e.Bound != want {
			t.Errorf("%s: bounded %v bound %s, want %d (%s + run_cb + run_cb_slow + deep in the .su files)", name, e.Bounded, show(e.Bound), want, name)
		}
	}
}
