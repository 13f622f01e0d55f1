package analysis

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// Red-team fixtures against the x86-64 frame walk's proofs: the SP saved
// in a frame slot (frame/spslot.go) and the counted SP moves in a loop
// (callgraph/loopcount.go). Each fixture runs, and a run's depth is
// measured with gdb where the verdict alone would not show the shape is
// real.

// TestRedTeamFrameSlotAliases: a slot the proofs trust, rewritten through
// a copy of rbp (testdata/x86/redteam_frames.S). Before the fix each of
// these frames was static (816, 816, 848 and 352 B) while a run with 40
// characters went 1968, 1968, 2000 and 10336 B deep. Asserted:
//   - the fixture is real: gdb measures each function's run with 40
//     rounds deeper than 16 rounds of its move could be (the cap the
//     counter's check claims, or one round of slot_alias's move);
//   - ctr_alias, ctr_alias_call, ctr_xchg (a counter in a slot reset
//     through `mov %rbp,%rdx`, by a callee given rbp, read through an
//     xchg'ed rbp) stay dynamic, saying the frame pointer is copied;
//   - slot_alias (SP saved in a slot, the slot rewritten through a copy
//     of rbp with the SP after a 256-byte move) is unknown, saying the
//     slot's address is taken, and no entry reaching it is bounded.
func TestRedTeamFrameSlotAliases(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	bin := filepath.Join(dir, "redteam")
	asm, _ := filepath.Abs("testdata/x86/redteam_frames.S")
	drv, _ := filepath.Abs("testdata/x86/redteam_frames_main.c")
	testutil.Run(t, dir, gcc, "-O1", "-fno-pie", "-no-pie", "-Wl,-z,now", "-o", bin, drv, asm)
	names := []string{"ctr_alias", "ctr_alias_call", "ctr_xchg", "slot_alias"}
	res, err := Run(bin, Options{Entries: names})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	for i, name := range names {
		fn := function(t, res, name)
		if name == "slot_alias" {
			if fn.FrameKind != "unknown" || !strings.Contains(fn.Reason, "address the code takes") {
				t.Errorf("%s: %s %s (%s), want unknown: the slot is rewritten through a copy of rbp", name, fn.FrameKind, show(fn.Frame), fn.Reason)
			}
		} else if fn.FrameKind != "dynamic" || !strings.Contains(fn.Reason, "copies the frame pointer") {
			t.Errorf("%s: %s %s (%s), want dynamic: the counter's slot is reached through a copy of rbp", name, fn.FrameKind, show(fn.Frame), fn.Reason)
		}
		if e := entry(t, res, name); e.Bounded {
			t.Errorf("%s: entry bounded at %s", name, show(e.Bound))
		}
		move := int64(0x30 * 16)
		if name == "slot_alias" {
			move = 0x100
		}
		d := measured(t, dir, bin, "*"+name, "exit", 1, strings.Repeat("a", rounds), string(rune('0'+i)))
		if d != nil && d[0] <= move {
			t.Errorf("%s: gdb measured %d B with %d rounds, want more than %d B: the fixture no longer sinks SP", name, d[0], rounds, move)
		}
	}
}

// TestRedTeamWritesBelowSP: a counter kept in a frame slot below SP,
// overwritten by what goes under SP: the frame's own push (ctr_push) and a
// callee's frame (ctr_callee, through zero16), in
// testdata/x86/redteam_frames.S. Before the fix the counted-loop pass
// kept both slots and called each frame static at 16 allocas (792 B), and
// their entries bounded; gdb measures 29 rounds, 29 allocas. Asserted:
//   - the fixture is real: gdb measures each function's run with 29
//     rounds deeper than 16 allocas of 48 B could be;
//   - neither frame is static, and neither entry is bounded.
func TestRedTeamWritesBelowSP(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	bin := filepath.Join(dir, "redteam")
	asm, _ := filepath.Abs("testdata/x86/redteam_frames.S")
	drv, _ := filepath.Abs("testdata/x86/redteam_frames_main.c")
	testutil.Run(t, dir, gcc, "-O1", "-fno-pie", "-no-pie", "-Wl,-z,now", "-o", bin, drv, asm)
	names := []string{"ctr_push", "ctr_callee"}
	res, err := Run(bin, Options{Entries: names})
	if err != nil {
		t.Fatal(err)
	}
	const rounds, cap, move = 29, 16, 0x30
	for i, name := range names {
		if fn := function(t, res, name); fn.FrameKind == "static" {
			t.Errorf("%s: static %s, want dynamic: the counter's slot lies below SP, where a push or a callee writes", name, show(fn.Frame))
		}
		if e := entry(t, res, name); e.Bounded {
			t.Errorf("%s: entry bounded at %s", name, show(e.Bound))
		}
		d := measured(t, dir, bin, "*"+name, "exit", 1, strings.Repeat("a", rounds), strconv.Itoa(4+i))
		if d != nil && d[0] <= cap*move {
			t.Errorf("%s: gdb measured %d B with %d rounds, want more than %d B: the fixture's counter is no longer reset", name, d[0], rounds, cap*move)
		}
	}
}

// TestRedTeamCountedLoops: allocas in a loop that no counter caps, in C
// (testdata/x86/redteam_loops.c) at -O0, -O1, -O2 and -Os: the counter
// grows on one way round only, is reset through a pointer, is checked
// through a copy that diverges, wraps (unsigned char), a way round skips
// the check, the allocas are in an inner loop the outer counter does not
// cap. None may be static. after_check (the check after the alloca: 17
// allocas before it fails) is either dynamic or static at exactly .su's
// frame without its alloca plus 17 x 48 B, which gdb measures when the
// 17th alloca leads to the call of __assert_fail.
func TestRedTeamCountedLoops(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	src, _ := filepath.Abs("testdata/x86/redteam_loops.c")
	uncapped := []string{"one_path", "reset_through_pointer", "copy_diverges", "wraps", "skips_check", "nested"}
	for _, opt := range []string{"-O0", "-O1", "-O2", "-Os"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "redteam_loops")
			testutil.Run(t, dir, gcc, opt, "-fno-pie", "-no-pie", "-fstack-usage", "-o", bin, src)
			su := map[string]testutil.SULine{}
			for _, l := range testutil.ParseSU(t, dir) {
				su[l.Function] = l
			}
			res, err := Run(bin, Options{Entries: append(slices.Clone(uncapped), "after_check"), NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range uncapped {
				if fn := function(t, res, name); fn.FrameKind == "static" {
					t.Errorf("%s: static %s, want dynamic: no counter caps its allocas", name, show(fn.Frame))
				}
			}
			fn := function(t, res, "after_check")
			if fn.FrameKind != "static" {
				t.Logf("after_check: %s (%s)", fn.FrameKind, fn.Reason)
				return
			}
			const rounds, move = 17, 0x30
			s := su["after_check"]
			if static := *fn.Frame - rounds*move; static != s.Bytes-move && static != s.Bytes {
				t.Errorf("after_check: frame %d B less %d allocas of %d B is %d B; .su says %d B", *fn.Frame, rounds, move, static, s.Bytes)
			}
			// (The depth at the PLT stub of __assert_fail has the call's
			// return address besides the frame; the stub, not libc's
			// function: lazy binding's resolver runs in between.)
			if d := measured(t, dir, bin, "*after_check", "'__assert_fail@plt'", 1, strings.Repeat("a", rounds)); d != nil && d[0] != *fn.Frame+8 {
				t.Errorf("after_check: gdb measured %d B at the call of __assert_fail after %d allocas, want the frame %d B + 8", d[0], rounds, *fn.Frame)
			}
		})
	}
}

// TestRedTeamFilteesCounted: the loaded-objects model (ldnloaded.go)
// counted the program's DT_NEEDED closure, but ld.so also loads at the
// start the DT_AUXILIARY (and DT_FILTER) objects a library names, into
// the same namespace. A program needing a library with two auxiliary
// filtees ran (gdb: _rtld_global._dl_ns[0]._ns_nloaded at _dl_fini) with
// 7 objects while the model bounded _dl_fini's maps[nloaded], _dl_sort_maps
// and dfs_traversal's recursion for 5. Asserted: gdb counts more objects
// than the graph's modules and the vDSO; _dl_fini stays dynamic, its
// reason naming the filtees; no node carries the loaded-objects premise;
// _start is not bounded.
func TestRedTeamFilteesCounted(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/redteam_filtee.c")
	for _, lib := range []string{"libaux1.so", "libaux2.so"} {
		testutil.Run(t, dir, gcc, "-shared", "-fPIC", "-o", lib, src)
	}
	testutil.Run(t, dir, gcc, "-shared", "-fPIC", "-Wl,--auxiliary=libaux1.so", "-Wl,--auxiliary=libaux2.so", "-Wl,-rpath,$ORIGIN", "-o", "libfilt.so", src)
	bin := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-DMAIN", "-O1", "-Wl,-z,now", "-o", bin, src, "-L"+dir, "-lfilt", "-Wl,-rpath,$ORIGIN")
	res, err := Run(bin, Options{Entries: []string{"_start"}})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	counted := len(res.Graph.Modules) + 1 // (the vDSO)
	found := false
	for _, n := range res.Graph.Nodes {
		if slices.ContainsFunc(n.Premises, func(p callgraph.Premise) bool { return p.Kind == callgraph.PremiseLoadedObjects }) {
			t.Errorf("%s carries the loaded-objects premise: %s", n.Name(), n.Premises[0].Detail)
		}
		if n.Func != nil && n.Module != nil && strings.HasPrefix(n.Module.Name, "ld-linux") && n.Func.Name() == "_dl_fini" {
			found = true
			if n.Frame.Kind != frame.Dynamic || !strings.Contains(n.Frame.Reason, "filtees (DT_AUXILIARY)") {
				t.Errorf("_dl_fini: %v %d B (%s), want dynamic, naming libfilt.so's filtees", n.Frame.Kind, n.Frame.Size, n.Frame.Reason)
			}
		}
	}
	if !found {
		t.Fatalf("no node for ld.so's _dl_fini")
	}
	if e := entry(t, res, "_start"); e.Bounded {
		t.Errorf("_start bounded at %s", show(e.Bound))
	}
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Log("gdb not found: no run")
		return
	}
	out, _ := exec.Command(gdb, "-batch", "-nx", "-ex", "set breakpoint pending on", "-ex", "starti", "-ex", "break _dl_fini", "-ex", "continue",
		"-ex", "printf \"NLOADED %d\\n\", _rtld_global._dl_ns[0]._ns_nloaded", "-ex", "kill", bin).CombinedOutput()
	m := regexp.MustCompile(`NLOADED (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Logf("gdb did not read _ns_nloaded (ptrace not allowed?):\n%s", out)
		return
	}
	n, _ := strconv.Atoi(m[1])
	t.Logf("objects loaded at _dl_fini: %d; the graph's modules and the vDSO: %d", n, counted)
	if n != counted+2 {
		t.Errorf("gdb counts %d objects at _dl_fini, want the %d the graph knows plus the 2 filtees: the fixture does not load them", n, counted)
	}
}

// TestRedTeamArgumentSlots: a stack word the proofs trust, in the
// stack-argument area of a call, which the callee owns under the System
// V ABI and writes (testdata/x86/redteam_argslot.S). Before the fix
// sp_arg0 and sp_arg1 (SP saved at [rsp] or [rsp+8], the callee storing
// a SP 256 B deeper to that stack argument) were static 48 B, sp_push
// (SP pushed as the first argument) and sp_below (SP saved through rbp
// at [rsp], below an argument stored through rsp) static 64 B, and
// ctr_arg (a counter spilled into the argument area of a callee that
// stores 0 there) static 816 B: its check claimed 16 allocas of 48 B at
// most. Asserted:
//   - the fixture is real: gdb measures a run with 40 rounds deeper than
//     those frames plus one 256-byte sink (the counter: than 16 allocas);
//   - the four SP shapes are unknown, naming the call's stack-argument
//     area; ctr_arg is not static; no entry reaching them is bounded.
func TestRedTeamArgumentSlots(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	bin := filepath.Join(dir, "argslot")
	asm, _ := filepath.Abs("testdata/x86/redteam_argslot.S")
	drv, _ := filepath.Abs("testdata/x86/redteam_argslot_main.c")
	testutil.Run(t, dir, gcc, "-O1", "-fno-pie", "-no-pie", "-Wl,-z,now", "-o", bin, drv, asm)
	names := []string{"sp_arg0", "sp_arg1", "sp_push", "sp_below", "ctr_arg"}
	res, err := Run(bin, Options{Entries: names, NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	for i, name := range names {
		fn := function(t, res, name)
		floor := int64(64 + 0x100)
		if name == "ctr_arg" {
			floor = 48 + 16*0x30
			if fn.FrameKind == "static" {
				t.Errorf("%s: static %s, want dynamic: the callee resets the counter in its argument area", name, show(fn.Frame))
			}
		} else if fn.FrameKind != "unknown" || !strings.Contains(fn.Reason, "stack-argument area") {
			t.Errorf("%s: %s %s (%s), want unknown: the saved SP is in a callee's stack-argument area", name, fn.FrameKind, show(fn.Frame), fn.Reason)
		}
		if e := entry(t, res, name); e.Bounded {
			t.Errorf("%s: entry bounded at %s", name, show(e.Bound))
		}
		d := measured(t, dir, bin, "*"+name, "exit", 1, strings.Repeat("a", rounds), string(rune('0'+i)))
		if d != nil && d[0] <= floor {
			t.Errorf("%s: gdb measured %d B with %d rounds, want more than %d B: the fixture no longer sinks SP", name, d[0], rounds, floor)
		}
	}
}
