package analysis

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// stackArgPremises are the stack-args premises of the program's node
// named name.
func stackArgPremises(t *testing.T, res *Result, name string) []callgraph.Premise {
	t.Helper()
	var ps []callgraph.Premise
	for _, p := range res.Graph.Nodes[entryNode(t, res, name)].Premises {
		if p.Kind == callgraph.PremiseStackArgs {
			ps = append(ps, p)
		}
	}
	return ps
}

// TestRedTeamStackArgRule: the stack-argument rule (frame/argarea.go)
// is an assumption about the caller, and testdata/x86/redteam_argrule.S
// breaks it: SP saved through rbp at [rsp], one argument pushed, and a
// callee that writes its second stack argument, the saved SP, with a SP
// 264 B deeper (in the first round: from then on SP is below the saved
// word), directly or through a register; and a loop's counter spilled
// through rbp to a word a callee resets, nothing stored through rsp for
// the call (rule_counter). Before the premise the entries were bounded
// (64 B, 1,344 B) with nothing listed. Asserted:
//   - the fixture is real: gdb measures a run deeper than the bound (the
//     counter: 40 rounds, more than the 16 allocas its check allows);
//   - without --strict each entry is bounded with the stack-args premise
//     listed, naming the function, the call and the word;
//   - with --strict none is bounded: the SP shapes' frames unknown, the
//     reason naming the call, the counter's not static.
func TestRedTeamStackArgRule(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	bin := filepath.Join(dir, "argrule")
	asm, _ := filepath.Abs("testdata/x86/redteam_argrule.S")
	drv, _ := filepath.Abs("testdata/x86/redteam_argrule_main.c")
	testutil.Run(t, dir, gcc, "-O1", "-fno-pie", "-no-pie", "-Wl,-z,now", "-o", bin, drv, asm)
	names := []string{"rule_rbp_push", "rule_rbp_reg", "rule_counter"}
	res, err := Run(bin, Options{Entries: names, NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := Run(bin, Options{Entries: names, NoLibraries: true, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		e := entry(t, res, name)
		ps := stackArgPremises(t, res, name)
		listed := 0
		for _, a := range e.Assumptions {
			if a.Kind == callgraph.PremiseStackArgs {
				listed++
			}
		}
		bound := e.Bound
		if name == "rule_counter" {
			// (abort, outside the program without its libraries, leaves
			// the entry unbounded: the frame is what the premise bounds.)
			bound = function(t, res, name).Frame
			e.Bounded = function(t, res, name).FrameKind == "static"
		}
		switch {
		case !e.Bounded || bound == nil:
			t.Errorf("%s: not bounded without --strict (%s)", name, reasonSummary(e))
		case len(ps) != 1 || listed != 1:
			t.Errorf("%s: bounded at %s with %d stack-args premises on its node, %d listed on the entry; want 1 and 1", name, show(bound), len(ps), listed)
		case name == "rule_counter" && !regexp.MustCompile(`rule_counter's loop counter \(set at 0x[0-9a-f]+\) may be in a frame slot across calls: the call at 0x[0-9a-f]+ keeps -0x20\(%rbp\)`).MatchString(ps[0].Detail),
			name != "rule_counter" && !regexp.MustCompile(name+`: SP saved in the word at CFA-0x30, \[rsp\+0x8\] at the call at 0x[0-9a-f]+, SP restored from it at 0x`).MatchString(ps[0].Detail):
			t.Errorf("%s: premise does not name the function, the word and the call: %s", name, ps[0].Detail)
		}
		se := entry(t, strict, name)
		fn := function(t, strict, name)
		if se.Bounded && name != "rule_counter" {
			t.Errorf("%s: bounded at %s under --strict", name, show(se.Bound))
		}
		switch {
		case name == "rule_counter" && fn.FrameKind == "static":
			t.Errorf("%s: static %s under --strict: the counter is trusted across the call", name, show(fn.Frame))
		case name != "rule_counter" && fn.FrameKind != "unknown":
			t.Errorf("%s: %s %s under --strict, want unknown", name, fn.FrameKind, show(fn.Frame))
		}
		if name != "rule_counter" && !strings.Contains(fn.Reason, "at or above SP at the call at 0x") {
			t.Errorf("%s: reason %q does not name the call", name, fn.Reason)
		}
		rounds := 3
		if name == "rule_counter" {
			rounds = 40
		}
		d := measured(t, dir, bin, "*"+name, "exit", 1, strings.Repeat("a", rounds), string(rune('0'+i)))
		if d != nil && bound != nil && d[0] <= *bound {
			t.Errorf("%s: gdb measured %d B with %d rounds, not above the bound %d B: the fixture no longer breaks the rule", name, d[0], rounds, *bound)
		}
	}
}

// TestStackArgRuleGCC: GCC's VLA scopes (testdata/x86/vlanocall.c) and
// the premise. vla_nocall at -Os saves SP in a frame slot with no call
// in the scope (objdump shows the slot): calls come after SP is loaded
// back, and the slot is written again before the next load, so the
// premise is absent and --strict leaves the frame as it is (dynamic for
// the VLA, not unknown). vla_call at -O2 keeps the saved SP in a slot
// across the scope's calls: dynamic for the VLA alone with the premise,
// unknown under --strict.
func TestStackArgRuleGCC(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	for _, tc := range []struct {
		opt, name string
		rule      bool
	}{{"-Os", "vla_nocall", false}, {"-O2", "vla_call", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := buildX86(t, dir, []string{tc.opt}, true, "vlanocall.c", "vlanocall_lib.c")
			dis := testutil.Run(t, dir, objdump, "-d", "-M", "intel", "--no-show-raw-insn", "--disassemble="+tc.name, filepath.Join(dir, "vlanocall.o"))
			if !regexp.MustCompile(`mov +QWORD PTR \[rbp-0x[0-9a-f]+\],rsp`).MatchString(dis) || !strings.Contains(dis, "mov    rsp,QWORD PTR [rbp-") {
				t.Fatalf("%s %s: GCC does not save SP in a frame slot:\n%s", tc.opt, tc.name, dis)
			}
			res, err := Run(bin, Options{NoLibraries: true, Entries: []string{tc.name}})
			if err != nil {
				t.Fatal(err)
			}
			strict, err := Run(bin, Options{NoLibraries: true, Entries: []string{tc.name}, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			fn, sfn := function(t, res, tc.name), function(t, strict, tc.name)
			if fn.FrameKind != "dynamic" || !strings.Contains(fn.Reason, "run-time amount") {
				t.Errorf("%s: %s (%s), want dynamic for the VLA alone", tc.name, fn.FrameKind, fn.Reason)
			}
			ps := stackArgPremises(t, res, tc.name)
			if tc.rule {
				if len(ps) != 1 {
					t.Errorf("%s: %d stack-args premises, want 1: the saved SP is in a slot at the scope's calls", tc.name, len(ps))
				}
				if sfn.FrameKind != "unknown" || !strings.Contains(sfn.Reason, "--strict") {
					t.Errorf("%s under --strict: %s (%s), want unknown naming the call", tc.name, sfn.FrameKind, sfn.Reason)
				}
				return
			}
			if len(ps) != 0 {
				t.Errorf("%s: stack-args premise %q, want none: no value SP is loaded from was at a call", tc.name, ps[0].Detail)
			}
			if sfn.FrameKind != fn.FrameKind || sfn.FrameAtLeast != fn.FrameAtLeast {
				t.Errorf("%s: %s %d under --strict, %s %d without: the rule was not needed", tc.name, sfn.FrameKind, sfn.FrameAtLeast, fn.FrameKind, fn.FrameAtLeast)
			}
		})
	}
}
