package analysis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// function returns the named function of a result.
func function(t *testing.T, res *Result, name string) Function {
	t.Helper()
	for _, f := range res.Functions {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no function %s", name)
	return Function{}
}

// TestX86SPCopies: frames that keep a copy of SP (GCC's DRAP realignment,
// in r10 and pushed and popped around the body; a block-scoped VLA in a
// loop whose SP is saved in a callee-saved register across the calls)
// equal GCC's .su, static or dynamic as .su says, never unknown. The
// realigned ones ("aligned" in their names) may be larger by the
// realignment slack (see compareWithSU). objdump confirms the fixture has
// the shapes: SP set from a register other than rbp.
func TestX86SPCopies(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	for _, flags := range [][]string{
		{"-O2", "-mavx2"}, {"-O2", "-mavx2", "-mstackrealign"}, {"-O0", "-mavx2", "-mstackrealign"},
		{"-O1", "-mavx2"}, {"-Os", "-mavx2", "-mstackrealign"}, {"-O2", "-march=x86-64-v3", "-fstack-protector-strong"},
	} {
		flags := flags
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := buildX86(t, dir, flags, true, "drap.c", "drap_use.c")
			dis := testutil.Run(t, dir, objdump, "-d", "-M", "intel", "--no-show-raw-insn", filepath.Join(dir, "drap.o"))
			if !strings.Contains(dis, "lea    rsp,[r10-0x8]") || !strings.Contains(dis, "mov    rsp,r") {
				t.Fatalf("the fixture has no DRAP or SP restored from a register:\n%s", dis)
			}
			res, err := Run(bin, Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := testutil.ParseSU(t, dir)
			requireAllEqual(t, compareWithSU(res, su))
			for _, line := range su {
				if line.Function == "use" || line.Function == "twice" {
					continue
				}
				fn := function(t, res, line.Function)
				want := "static"
				if line.Kind == "dynamic" {
					want = "dynamic"
				}
				if fn.FrameKind != want {
					t.Errorf("%s: .su says %s %d, analyzer says %s (%s)", line.Function, line.Kind, line.Bytes, fn.FrameKind, fn.Reason)
				}
			}
		})
	}
}

// TestX86SPCopiesAsm checks hand-written shapes (testdata/x86/spcopy.S,
// each function's expected frame beside it): DRAP in r13 and in r10
// reloaded from the frame, SP kept in rbx across calls, and the copies the
// walk must not trust (a register written in between, a caller-saved one
// across a call, two paths with different copies); a return address
// overwritten, push+ret, and the return address popped and pushed back.
func TestX86SPCopiesAsm(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "spcopy.so")
	src, _ := filepath.Abs("testdata/x86/spcopy.S")
	testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), "-shared", "-fPIC", "-Wl,-z,now", "-o", bin, src)
	res, err := Run(bin, Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	static := map[string]int64{"drap_r13": 120, "drap_r10_reload": 96, "sp_in_rbx": 48, "push_ret": 16, "pop_push_ret": 8, "noret_then_data": 16}
	for name, want := range static {
		fn := function(t, res, name)
		if fn.Frame == nil || *fn.Frame != want {
			t.Errorf("%s: %s %d (%s), want static %d", name, fn.FrameKind, fn.FrameAtLeast, fn.Reason, want)
		}
	}
	for _, name := range []string{"sp_in_rbx_clobbered", "sp_in_rcx_call", "sp_copy_join", "ret_overwritten"} {
		if fn := function(t, res, name); fn.FrameKind != "unknown" {
			t.Errorf("%s: %s %d, want unknown", name, fn.FrameKind, fn.FrameAtLeast)
		}
	}
	// push rax; ret jumps through rax: an indirect tail call, not a return.
	if fn := function(t, res, "push_ret"); fn.IndirectCalls != 1 {
		t.Errorf("push_ret: %d indirect calls, want 1 (the ret through the pushed rax)", fn.IndirectCalls)
	}
	if fn := function(t, res, "pop_push_ret"); fn.IndirectCalls != 0 {
		t.Errorf("pop_push_ret: %d indirect calls, want 0 (it returns through its own return address)", fn.IndirectCalls)
	}
}

// TestX86NoReturnCalls: a call to __assert_fail ends the path. quickscan
// (testdata/x86/noreturn.c) has a static frame equal to .su at every
// level, where walking past the call made it "SP moves down in a loop"
// at -Os; objdump confirms the -Os build has the push before the call.
func TestX86NoReturnCalls(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	for _, opt := range []string{"-O0", "-O2", "-Os", "-O3"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := buildX86(t, dir, []string{opt}, false, "noreturn.c")
			if opt == "-Os" {
				dis := testutil.Run(t, dir, objdump, "-d", "-M", "intel", "--no-show-raw-insn", "--disassemble=quickscan", bin)
				if !strings.Contains(dis, "push   rax") || !strings.Contains(dis, "__assert_fail") {
					t.Fatalf("quickscan is not in the shape this test is about:\n%s", dis)
				}
			}
			res, err := Run(bin, Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			requireAllEqual(t, compareWithSU(res, testutil.ParseSU(t, dir)))
			if fn := function(t, res, "quickscan"); fn.FrameKind != "static" {
				t.Errorf("quickscan: %s (%s), want static", fn.FrameKind, fn.Reason)
			}
		})
	}
}

// TestX86Retpoline: main calls through a pointer that may point to a
// 4 KiB function. With GCC's retpolines (-mindirect-branch=thunk,
// thunk-inline, thunk-extern, and -mfunction-return=thunk) main's bound is
// the plain build's and its worst path reaches big: a call to
// __x86_indirect_thunk_rax is a call through rax, not a call to a 16-byte
// leaf. Also with the thunk's symbol removed (found by its code), and
// with --strict main is not bounded in any build.
func TestX86Retpoline(t *testing.T) {
	builds := []struct {
		name  string
		flags []string
		thunk string // the extern thunk's name, "" for none
		strip bool
		shape string // what objdump shows in main
	}{
		{"plain", nil, "", false, "call   *"},
		{"thunk", []string{"-mindirect-branch=thunk"}, "", false, "__x86_indirect_thunk_rax"},
		{"thunk-inline", []string{"-mindirect-branch=thunk-inline"}, "", false, "lfence"},
		{"thunk-extern", []string{"-mindirect-branch=thunk-extern"}, "__x86_indirect_thunk_rax", false, "__x86_indirect_thunk_rax"},
		{"thunk-extern-stripped", []string{"-mindirect-branch=thunk-extern"}, "__x86_indirect_thunk_rax", true, "call"},
		{"function-return", []string{"-mfunction-return=thunk"}, "", false, "__x86_return_thunk"},
		{"both", []string{"-mindirect-branch=thunk", "-mfunction-return=thunk"}, "", false, "__x86_indirect_thunk_rax"},
	}
	objdump := testutil.RequireTool(t, "objdump")
	var plain int64
	for i, b := range builds {
		dir := t.TempDir()
		flags := append([]string{"-O2"}, b.flags...)
		srcs := []string{"retpoline.c"}
		if b.thunk != "" {
			flags = append(flags, "-DTHUNK="+b.thunk)
			srcs = append(srcs, "retpoline_thunk.S")
		}
		bin := buildX86(t, dir, flags, false, srcs...)
		if b.strip {
			testutil.Run(t, dir, testutil.RequireTool(t, "strip"), "-N", b.thunk, bin)
		}
		dis := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", "--disassemble=main", bin)
		if !strings.Contains(dis, b.shape) || b.strip && strings.Contains(dis, b.thunk) {
			t.Fatalf("%s: main is not in the shape this test is about (%q):\n%s", b.name, b.shape, dis)
		}
		for _, strict := range []bool{false, true} {
			res, err := Run(bin, Options{Entries: []string{"main"}, NoLibraries: true, Strict: strict})
			if err != nil {
				t.Fatal(err)
			}
			e := entry(t, res, "main")
			if strict {
				if e.Bounded {
					t.Errorf("%s --strict: main bounded %d B, want an unresolved indirect call", b.name, *e.Bound)
				}
				continue
			}
			if !e.Bounded {
				t.Fatalf("%s: main not bounded: %s", b.name, reasonSummary(e))
			}
			t.Logf("%s: main %d B, path %v", b.name, *e.Bound, e.Path)
			if !slices.Contains(e.Path, "big") || *e.Bound < 4096 {
				t.Errorf("%s: main %d B through %v, want a path through big", b.name, *e.Bound, e.Path)
			}
			if i == 0 {
				plain = *e.Bound
			} else if *e.Bound != plain {
				t.Errorf("%s: main %d B, the plain build's is %d B", b.name, *e.Bound, plain)
			}
		}
	}
}
