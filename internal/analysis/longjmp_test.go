package analysis

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestX86Longjmp: glibc's __longjmp sets SP from the jmp_buf and jumps
// (frame.Leave); the longjmp model takes its frame without that unknown,
// on the premise it lists. run (testdata/x86/longjmp.c) longjmps and
// siglongjmps from a 4 KiB frame; with the cleanup handlers' call of
// __pthread_cleanup_upto set aside (the program registers none; that
// indirect call is another model's), run is bounded, lists the premise,
// has no reason in any longjmp function, and its bound is not below what
// gdb measures of both calls of run (one per kind of jump). With --strict
// __longjmp is unknown again. objdump confirms libc's __longjmp has the
// shape: SP from a register, then rbp, then a jump through a register.
func TestX86Longjmp(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "longjmp")
			src, _ := filepath.Abs("testdata/x86/longjmp.c")
			testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), opt, "-Wl,-z,now", "-o", bin, src)
			opts := Options{Entries: []string{"run"}, Exclude: []string{"__pthread_cleanup_upto"}}
			res, err := Run(bin, opts)
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			lib, at := "", uint64(0)
			for _, n := range res.Graph.Nodes {
				if n.Func != nil && n.Module != nil && n.Module.Name == "libc.so.6" && n.Name() == "__longjmp" {
					if n.Frame.Kind.String() != "static" || len(n.Frame.Leaves) != 1 {
						t.Fatalf("__longjmp: %s (%s), %d leaves; want static with its jump a leave", n.Frame.Kind, n.Frame.Reason, len(n.Frame.Leaves))
					}
					lib, at = n.Module.File.Path, n.Frame.Leaves[0].SPAt
				}
			}
			if lib == "" {
				t.Skip("libc.so.6's __longjmp has no name (no libc6-dbg?): the model finds it by name")
			}
			dis := testutil.Run(t, dir, objdump, "-d", "-M", "intel", "--no-show-raw-insn",
				"--start-address="+hexAddr(at), "--stop-address="+hexAddr(at+16), lib)
			if !strings.Contains(dis, "mov    rsp,r") || !strings.Contains(dis, "jmp    r") {
				t.Fatalf("libc's __longjmp at %#x is not in the shape this test is about:\n%s", at, dis)
			}
			e := entry(t, res, "run")
			if !e.Bounded {
				t.Fatalf("run not bounded: %s", reasonSummary(e))
			}
			if !strings.Contains(strings.Join(e.Path, " "), "jumper") {
				t.Errorf("run's worst path %v does not go through jumper", e.Path)
			}
			premise := false
			for _, a := range e.Assumptions {
				premise = premise || a.Kind == "longjmp" && strings.Contains(a.Detail, "C11 7.13.2.1")
			}
			if !premise {
				t.Errorf("run's assumptions %+v do not list the longjmp premise", e.Assumptions)
			}
			t.Logf("run: bound %d B through %v", *e.Bound, e.Path)
			for _, d := range measuredDepths(t, dir, bin, "run", 2) {
				if d > *e.Bound {
					t.Errorf("run used %d B in a measured run, above its bound %d", d, *e.Bound)
				}
			}
			opts.Strict = true
			strict, err := Run(bin, opts)
			if err != nil {
				t.Fatal(err)
			}
			if s := entry(t, strict, "run"); s.Bounded || !strings.Contains(reasonSummary(s), "unknown@__longjmp") {
				t.Errorf("--strict: run %s, want __longjmp unknown", reasonSummary(s))
			}
		})
	}
}

func hexAddr(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// TestX86Leaves: SP set from memory or a register and then a jump through
// a register (testdata/x86/leave.S) ends the walk's path (frame.Leave) and
// keeps the frame unknown, with a reason that says so, outside glibc: a
// context switch of the program's own, and a function that has the name
// of glibc's __longjmp in another library. A push between the write and
// the jump is not the shape.
func TestX86Leaves(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "leave.so")
	src, _ := filepath.Abs("testdata/x86/leave.S")
	testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), "-shared", "-fPIC", "-Wl,-z,now", "-o", bin, src)
	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int64{"ctx_switch": 16, "__longjmp": 8} {
		fn := function(t, res, name)
		if fn.FrameKind != "unknown" || fn.FrameAtLeast != size || !strings.Contains(fn.Reason, "jump through a register") {
			t.Errorf("%s: %s %d (%s), want unknown %d for the jump", name, fn.FrameKind, fn.FrameAtLeast, fn.Reason, size)
		}
	}
	if fn := function(t, res, "push_then_jump"); fn.FrameKind != "unknown" || !strings.Contains(fn.Reason, "not modelled") {
		t.Errorf("push_then_jump: %s (%s), want unknown, not modelled", fn.FrameKind, fn.Reason)
	}
}
